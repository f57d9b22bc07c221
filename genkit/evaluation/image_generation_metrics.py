"""FID, KID, precision and recall of generated images against reference images, on one extractor's features."""

from __future__ import annotations

import numpy as np

from genkit.evaluation.feature_metrics import frechet_feature_distance, kernel_inception_distance, precision_recall


def feature_set_metrics(
    generated_features, reference_features, seed: int = 0, kid_subsets: int = 100, kid_subset_size: int = 1000,
    nearest_k: int = 3,
) -> dict:
    """``fid``, ``kid``, ``kid_std``, ``precision``, ``recall`` between two feature arrays ``[N, D]``."""
    kid, kid_std = kernel_inception_distance(
        generated_features, reference_features, num_subsets=kid_subsets, subset_size=kid_subset_size, seed=seed
    )
    precision, recall = precision_recall(reference_features, generated_features, k=nearest_k)
    return {
        "fid": frechet_feature_distance(generated_features, reference_features),
        "kid": kid,
        "kid_std": kid_std,
        "precision": precision,
        "recall": recall,
    }


def image_generation_metrics(
    generated_images, reference_images, extractor, seed: int = 0, kid_subsets: int = 100,
    kid_subset_size: int = 1000, nearest_k: int = 3, reference_features=None,
) -> dict:
    """Compares generated images with reference images (float32 ``[N, H, W, C]`` in [0, 1]).

    Both sets go through ``extractor.features`` (see
    :func:`genkit.evaluation.load_feature_extractor`); the result is a flat dict:

    - ``fid``: Fréchet distance between Gaussians fitted to the two feature sets.
    - ``kid``, ``kid_std``: mean and standard deviation of the unbiased cubic
      polynomial-kernel MMD^2 over ``kid_subsets`` seeded subsets of
      ``min(kid_subset_size, N)`` samples of each set.
    - ``precision``, ``recall``: k-NN manifold precision and recall
      (Kynkäänniemi et al. 2019, ``k = nearest_k``).
    - ``num_samples`` (generated), ``num_reference_samples``, ``features`` (the extractor's name).

    Pass ``reference_features`` (``extractor.features(reference_images)``) to
    reuse them across calls; ``reference_images`` is then ignored.
    """
    generated_features = extractor.features(generated_images)
    if reference_features is None:
        reference_features = extractor.features(reference_images)
    metrics = feature_set_metrics(
        generated_features, reference_features, seed=seed, kid_subsets=kid_subsets,
        kid_subset_size=kid_subset_size, nearest_k=nearest_k,
    )
    return {
        **metrics,
        "num_samples": int(len(generated_features)),
        "num_reference_samples": int(len(np.asarray(reference_features))),
        "features": extractor.name,
    }

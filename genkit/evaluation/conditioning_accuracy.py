"""Conditioning accuracy of class-conditional generators: do samples asked for class k look like class k?"""

from __future__ import annotations

import numpy as np

from genkit.data.loading import FASHION_MNIST_LABELS
from genkit.errors import UserError


def conditioning_accuracy(images, requested_labels, extractor=None) -> dict:
    """The share of ``images`` that the classifier labels as the class they were generated for.

    Args:
        images: float32 [N, H, W, C] in [0, 1].
        requested_labels: int [N], the class each image was asked for.
        extractor: a classifying feature extractor (default: the shipped
            Fashion-MNIST classifier, ``load_feature_extractor("fashion_mnist")``).

    Returns a flat dict: ``conditioning_accuracy`` (over all images) and
    ``conditioning_accuracy_class_K`` for every class K that was asked for.
    """
    from genkit.evaluation.feature_extractor import load_feature_extractor

    extractor = extractor or load_feature_extractor("fashion_mnist")
    requested = np.asarray(requested_labels).astype(np.int64).reshape(-1)
    if len(requested) != len(images):
        raise ValueError(f"Expected one requested label per image. Received: {len(images)} images, {len(requested)} labels")
    correct = extractor.predict_labels(images) == requested
    result = {"conditioning_accuracy": float(correct.mean())}
    for label in np.unique(requested):
        result[f"conditioning_accuracy_class_{int(label)}"] = float(correct[requested == label].mean())
    return result


def model_conditioning_accuracy(model, label_names, samples_per_class: int = 1000, seed: int = 0, extractor=None) -> dict:
    """:func:`conditioning_accuracy` of a conditional model asked for ``samples_per_class`` images of each class.

    ``model.generate_samples(n, seed, label=k)`` draws the images of class k
    (seed ``seed + k``). The shipped classifier knows the ten Fashion-MNIST
    classes only: when ``label_names`` (the training data's) are not those,
    the result is ``{"conditioning_accuracy": "n/a (...)"}`` instead of a number.
    """
    if list(label_names or []) != list(FASHION_MNIST_LABELS):
        return {"conditioning_accuracy": "n/a (the shipped classifier knows Fashion-MNIST's ten classes only)"}
    if samples_per_class < 1:
        raise UserError(f"-n {samples_per_class * len(label_names)}: must give at least one sample per class")
    images, requested = [], []
    for label in range(len(label_names)):
        images.append(np.asarray(model.generate_samples(samples_per_class, seed + label, label=label), np.float32))
        requested.append(np.full(samples_per_class, label))
    return conditioning_accuracy(np.concatenate(images), np.concatenate(requested), extractor)

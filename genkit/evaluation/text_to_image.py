"""Text-to-image evaluation: FID/KID/precision/recall, R-precision and subgroup accuracy of images drawn from
held-out descriptions, beside the real images (the ceiling) and a retrieval floor.

- **R-precision** (AttnGAN's protocol, R = 1): for each generated image, its
  description and ``candidates - 1`` other descriptions of the split drawn at
  random (seeded; none equal to its own) are ranked by the dual encoder's
  cosine similarity to the image; R-precision is the share of images whose own
  description ranks first (chance: 1 / candidates). The encoder is genkit's
  dual encoder (:mod:`genkit.evaluation.text_image_scorer`), not AttnGAN's DAMSM.
- **Subgroup accuracy**: the share of generated images that the shipped emoji
  classifier labels with their description's subgroup (when the data's
  ``label`` feature has the classifier's 99 subgroups; else "n/a").
- **FID, KID, precision, recall** against the split's real images, on the
  features of ``features`` (default ``emoji``).
- The ceiling (``ceiling_real_images_*``): the split's real images with their
  own descriptions; their FID row compares as many training images (seeded)
  with the split's images, since a set's FID against itself is 0. The floor
  (``floor_retrieval_*``): for each description, the training image whose
  description is nearest in the dual encoder's text space.
"""

from __future__ import annotations

import numpy as np

from genkit.errors import UserError
from genkit.evaluation.image_generation_metrics import feature_set_metrics

R_PRECISION_CANDIDATES = 100
DEFAULT_FEATURES = "emoji"


def r_precision(image_vectors, text_vectors, texts, candidates: int = R_PRECISION_CANDIDATES, seed: int = 0) -> float:
    """The share of images ``i`` whose description ``i`` scores above ``candidates - 1`` others drawn at random.

    ``image_vectors``/``text_vectors`` are unit vectors [N, D] (row ``i`` of
    each is a pair); ``texts`` the descriptions, so that a duplicate of
    description ``i`` is never one of its wrong candidates. Ties count as
    misses. With fewer distinct descriptions than ``candidates``, all of them.
    """
    image_vectors, text_vectors = np.asarray(image_vectors), np.asarray(text_vectors)
    texts = [str(t) for t in texts]
    if not len(image_vectors) == len(text_vectors) == len(texts):
        raise ValueError(f"Expected one text per image. Received: {len(image_vectors)} images, {len(text_vectors)} vectors, {len(texts)} texts")
    rng = np.random.default_rng(seed)
    hits = 0
    for i in range(len(texts)):
        others = np.array([j for j in range(len(texts)) if texts[j] != texts[i]], dtype=np.int64)
        if len(others) == 0:
            raise UserError("R-precision: every description is the same; nothing to rank against")
        wrong = rng.choice(others, min(candidates - 1, len(others)), replace=False)
        right_score = float(text_vectors[i] @ image_vectors[i])
        hits += right_score > float(np.max(text_vectors[wrong] @ image_vectors[i]))
    return hits / len(texts)


def subgroup_accuracy(images, labels, label_names, extractor) -> float | str:
    """The share of ``images`` the classifying ``extractor`` labels as their ``labels`` (ids into ``label_names``)."""
    if labels is None or extractor.label_names is None or list(label_names) != list(extractor.label_names):
        return f"n/a (the data's labels are not the {extractor.name} classifier's classes)"
    return float(np.mean(extractor.predict_labels(images) == np.asarray(labels)))


def image_set_metrics(images, texts, labels, label_names, reference_features, extractor, scorer, text_vectors,
                      seed: int = 0) -> dict:
    """``fid``, ``kid``, ``kid_std``, ``precision``, ``recall``, ``r_precision``, ``subgroup_accuracy`` of one image per text."""
    metrics = feature_set_metrics(extractor.features(images), reference_features, seed=seed)
    metrics["r_precision"] = r_precision(scorer.embed_images(images), text_vectors, texts, seed=seed)
    metrics["subgroup_accuracy"] = subgroup_accuracy(images, labels, label_names, extractor)
    return metrics


def evaluation_split_arrays(data, image_input: str, text_input: str, num_samples: int | None = None):
    """(split, images float32 [N,H,W,C], first references [N], labels [N] or None, label names) of the evaluation split."""
    split = data.scored_split
    arrays = data.split(split)
    count = len(arrays[image_input]) if num_samples is None else min(int(num_samples), len(arrays[image_input]))
    images = arrays[image_input][:count].astype(np.float32) / 255.0
    texts = [references[0] for references in arrays[text_input][:count]]
    has_label = "label" in data.fields and data.feature("label").type == "label"
    labels = arrays["label"][:count] if has_label else None
    names = data.label_names.get("label", []) if has_label else []
    return split, images, texts, labels, names


def text_to_image_evaluation(images_of, data, image_input: str, text_input: str, num_samples: int | None = None,
                             seed: int = 0, latent_dim: int = 0, features: str | None = None,
                             dual_encoder: str | None = None) -> dict:
    """The metrics of a text-to-image model whose ``images_of(texts, z)`` draws one image per description.

    ``z`` is ``latent_dim`` standard normal values per description
    (``np.random.default_rng(seed)``). One image per description of the
    evaluation split (its first ``num_samples``), with the ceiling and the floor.
    """
    from genkit.evaluation.feature_extractor import load_feature_extractor
    from genkit.evaluation.text_image_scorer import load_text_image_scorer

    split, real, texts, labels, names = evaluation_split_arrays(data, image_input, text_input, num_samples)
    extractor = load_feature_extractor(features or DEFAULT_FEATURES)
    scorer = load_text_image_scorer(dual_encoder)
    text_vectors = scorer.embed_texts(texts)
    reference_features = extractor.features(real)
    z = np.random.default_rng(seed).standard_normal((len(texts), latent_dim)).astype(np.float32)
    generated = images_of(np.asarray(texts, dtype=object), z)
    if not np.isfinite(generated).all():
        raise UserError("the model generates NaN or infinite values; nothing to evaluate")

    def measured(images):
        return image_set_metrics(images, texts, labels, names, reference_features, extractor, scorer, text_vectors, seed)

    metrics = {
        "examples": len(texts), "split": split, "features": extractor.name, "dual_encoder": scorer.source,
        "r_precision_candidates": min(R_PRECISION_CANDIDATES, len(set(texts))), **measured(generated),
    }
    train = data.split("train")
    train_images = train[image_input].astype(np.float32) / 255.0
    rng = np.random.default_rng(seed)
    real_rows = measured(real)
    others = train_images[rng.choice(len(train_images), len(real), replace=len(real) > len(train_images))]
    real_rows.update(feature_set_metrics(extractor.features(others), reference_features, seed=seed))
    train_vectors = scorer.embed_texts([references[0] for references in train[text_input]])
    retrieved = train_images[np.argmax(text_vectors @ train_vectors.T, axis=1)]
    for prefix, rows in (("ceiling_real_images", real_rows), ("floor_retrieval", measured(retrieved))):
        metrics.update({f"{prefix}_{key}": value for key, value in rows.items()})
    return metrics


def export_quality_delta(keras_images_of, export_images_of, data, image_input: str, text_input: str,
                         num_samples: int = 1000, seed: int = 0, latent_dim: int = 0) -> dict:
    """FID, R-precision and subgroup accuracy of Keras' and of the export's images of the same descriptions
    and latent codes, with export-minus-Keras deltas."""
    from genkit.evaluation.feature_extractor import load_feature_extractor
    from genkit.evaluation.text_image_scorer import load_text_image_scorer

    _, real, texts, labels, names = evaluation_split_arrays(data, image_input, text_input, num_samples)
    extractor = load_feature_extractor(DEFAULT_FEATURES)
    scorer = load_text_image_scorer()
    text_vectors = scorer.embed_texts(texts)
    reference_features = extractor.features(real)
    z = np.random.default_rng(seed).standard_normal((len(texts), latent_dim)).astype(np.float32)
    result = {"metric": "fid_r_precision", "features": extractor.name, "num_samples": len(texts)}
    for side, images_of in (("keras", keras_images_of), ("export", export_images_of)):
        rows = image_set_metrics(images_of(texts, z), texts, labels, names, reference_features, extractor, scorer, text_vectors, seed)
        result.update({f"{side}_{key}": rows[key] for key in ("fid", "r_precision", "subgroup_accuracy")})
    result["fid_delta"] = result["export_fid"] - result["keras_fid"]
    result["r_precision_delta"] = result["export_r_precision"] - result["keras_r_precision"]
    result["summary"] = f"FID {result['fid_delta']:+.2f}, R-prec {result['r_precision_delta']:+.3f}"
    return result

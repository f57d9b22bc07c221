"""Feature extractors for image metrics, by name: ``fashion_mnist`` and ``emoji`` (shipped) and ``inception``."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from genkit.errors import UserError

DEFAULT_FEATURES = "fashion_mnist"


class FeatureExtractor:
    """Maps images (float32 ``[N, H, W, C]`` in [0, 1]) to feature vectors ``[N, D]``, batch by batch.

    A subclass sets ``name`` and ``feature_dim`` and passes one traced
    function ``images -> {"features": ..., "logits": ...}`` (``"logits"``
    only when it classifies) whose input signature leaves the batch size
    free: every call, whatever N, reuses the one trace.
    """

    name: str = ""
    feature_dim: int = 0
    label_names: list[str] | None = None

    def __init__(self, function, batch_size: int = 256):
        self._function = function
        self.batch_size = batch_size

    def check_images(self, images) -> np.ndarray:
        """float32 [N, H, W, C]; a UserError naming --features when the shape does not suit this extractor."""
        images = np.asarray(images, dtype=np.float32)
        if images.ndim != 4 or len(images) == 0:
            raise UserError(f"--features {self.name}: expected images [N, H, W, C], got shape {list(images.shape)}")
        return images

    def _run(self, images, output: str) -> np.ndarray:
        images = self.check_images(images)
        parts = [
            self._function(tf.constant(images[start : start + self.batch_size]))[output].numpy()
            for start in range(0, len(images), self.batch_size)
        ]
        return np.concatenate(parts).astype(np.float32)

    def features(self, images) -> np.ndarray:
        """Feature vectors float32 [N, feature_dim]."""
        return self._run(images, "features")

    def predict_labels(self, images) -> np.ndarray:
        """The predicted class of each image, int32 [N]."""
        raise UserError(f"--features {self.name}: this extractor does not classify images")

    def __repr__(self):
        return f"{type(self).__name__}(name={self.name!r}, feature_dim={self.feature_dim})"


# name -> "module:class" of each extractor, imported on first use (the modules subclass FeatureExtractor).
FEATURE_EXTRACTORS = {
    "fashion_mnist": "genkit.evaluation.classifier_features:FashionMNISTFeatures",
    "emoji": "genkit.evaluation.classifier_features:EmojiFeatures",
    "inception": "genkit.evaluation.inception_features:InceptionFeatures",
}


def _extractor_class(name: str) -> type:
    import importlib

    module, _, class_name = FEATURE_EXTRACTORS[name].partition(":")
    return getattr(importlib.import_module(module), class_name)


_CACHE: dict[str, FeatureExtractor] = {}


def load_feature_extractor(name: str = DEFAULT_FEATURES, **options) -> FeatureExtractor:
    """The feature extractor ``name`` (one of :data:`FEATURE_EXTRACTORS`).

    ``fashion_mnist``: genkit's shipped Fashion-MNIST classifier (28x28
    greyscale images; 128 features from its penultimate layer; it also
    predicts labels); ``emoji``: genkit's shipped emoji-subgroup classifier
    (RGB images, resized to 32x32; it predicts the 99 Unicode subgroups). ``inception``: Keras' InceptionV3 with ImageNet weights
    (2048 pool3 features; images resized to 299x299, grey to RGB); the weights
    file must be on this machine (see :mod:`genkit.evaluation.inception_features`).
    Extractors loaded without options are cached: loading twice costs nothing.
    """
    if name not in FEATURE_EXTRACTORS:
        raise UserError(f"--features {name}: unknown feature extractor; allowed: {', '.join(FEATURE_EXTRACTORS)}")
    if options:
        return _extractor_class(name)(**options)
    if name not in _CACHE:
        _CACHE[name] = _extractor_class(name)()
    return _CACHE[name]

"""The shipped Fashion-MNIST classifier as a feature extractor (``--features fashion_mnist``).

The classifier (:func:`build_fashion_mnist_classifier`: three conv/batch-norm/
ReLU/max-pool blocks with 32, 64 and 128 filters, global average pooling, a
128-unit ReLU layer ``features``, dropout, 10 logits; 111k parameters) was
trained once with ``python -m genkit.evaluation.train_classifier`` (seed 0,
10 epochs, Adam with a cosine-decayed learning rate from 2e-3, batch 128) on
the 60,000 Fashion-MNIST train images. Its accuracy on the 10,000 test images
is recorded in ``weights/fashion_mnist_classifier.json`` (``test_accuracy``):
**92.67%** (per class from 77.4% for shirts to 99.0% for bags; 10 minutes on
this project's shared 2-core CPU). Its features are the 128 activations of
the ``features`` layer; the weights file is 0.49 MB.
"""

from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from genkit.errors import UserError
from genkit.evaluation.fashion_mnist_classifier import (
    CARD_FILE,
    FEATURES_LAYER,
    WEIGHTS_DIR,
    build_fashion_mnist_classifier,
)
from genkit.evaluation.feature_extractor import FeatureExtractor


class FashionMNISTFeatures(FeatureExtractor):
    """Features and labels from the shipped Fashion-MNIST classifier.

    Args:
        weights_dir: the folder holding ``fashion_mnist_classifier.weights.h5``
            and ``fashion_mnist_classifier.json`` (default: the package's).
        batch_size: images per traced call.
    """

    name = "fashion_mnist"

    def __init__(self, weights_dir: str | Path = WEIGHTS_DIR, batch_size: int = 500):
        weights_dir = Path(weights_dir)
        card_path = weights_dir / CARD_FILE
        try:
            card = json.loads(card_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise UserError(f"{card_path}: cannot read the Fashion-MNIST classifier card ({error})") from None
        weights_path = weights_dir / card["weights_file"]
        if not weights_path.is_file():
            raise UserError(f"{weights_path}: the Fashion-MNIST classifier weights are missing")
        classifier = build_fashion_mnist_classifier(**card["architecture"])
        classifier.load_weights(weights_path)
        self.card = card
        self.image_shape = tuple(card["architecture"]["image_shape"])
        self.feature_dim = int(card["feature_dim"])
        self.label_names = card.get("label_names")
        self.test_accuracy = card.get("test_accuracy")
        model = keras.Model(
            classifier.inputs, {"features": classifier.get_layer(FEATURES_LAYER).output, "logits": classifier.outputs[0]}
        )
        signature = [tf.TensorSpec([None, *self.image_shape], tf.float32, name="images")]
        super().__init__(tf.function(lambda images: model(images, training=False), input_signature=signature), batch_size)
        self._model = model

    def check_images(self, images) -> np.ndarray:
        images = super().check_images(images)
        if tuple(images.shape[1:]) != self.image_shape:
            raise UserError(
                f"--features {self.name}: the Fashion-MNIST classifier takes {list(self.image_shape)} greyscale images, "
                f"got {list(images.shape[1:])}; use --features inception for other images"
            )
        return images

    def predict_labels(self, images) -> np.ndarray:
        return np.argmax(self._run(images, "logits"), axis=1).astype(np.int32)

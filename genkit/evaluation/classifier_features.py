"""The shipped classifiers as feature extractors: ``--features fashion_mnist`` and ``--features emoji``.

Each was trained once with ``python -m genkit.evaluation.train_classifier
--classifier NAME`` (seeded) and ships in ``weights/`` as
``NAME_classifier.weights.h5`` beside a card ``NAME_classifier.json`` that
records the architecture, the training settings and the accuracy on test
images the classifier never saw:

- ``fashion_mnist`` (:func:`build_feature_classifier`: three conv/batch-norm/
  ReLU/max-pool blocks with 32, 64 and 128 filters, a 128-unit ReLU layer
  ``features``, dropout, 10 logits; 111k parameters; 10 epochs on the 60,000
  Fashion-MNIST train images): **92.67%** on the 10,000 test images (per class
  from 77.4% for shirts to 99.0% for bags). It takes 28x28 greyscale images only.
- ``emoji``: the 99 Unicode subgroups of genkit's emoji set, trained on the
  ``embedded`` training split (32x32 RGB); its card gives its accuracy on the
  test split and the group accuracy of its subgroup predictions. Images of
  another size are resized to 32x32 (area averaging) in the graph, so it also
  scores 64x64 ``emoji`` models.

Their features are the activations of the ``features`` layer.
"""

from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from genkit.errors import UserError
from genkit.evaluation.feature_classifier import FEATURES_LAYER, WEIGHTS_DIR, build_feature_classifier, card_file
from genkit.evaluation.feature_extractor import FeatureExtractor


def read_card(name: str, weights_dir: str | Path = WEIGHTS_DIR) -> dict:
    """The card of the shipped classifier ``name``, or a one-line error."""
    card_path = Path(weights_dir) / card_file(name)
    try:
        return json.loads(card_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise UserError(f"{card_path}: cannot read the {name} classifier card ({error})") from None


class ClassifierFeatures(FeatureExtractor):
    """Features and labels from a shipped classifier (``name``: its card's prefix in ``weights_dir``).

    ``resizes``: images of another height and width are resized to the
    classifier's in the graph (their channels must match); otherwise they are refused.
    """

    resizes = False

    def __init__(self, weights_dir: str | Path = WEIGHTS_DIR, batch_size: int = 500):
        weights_dir = Path(weights_dir)
        card = read_card(self.name, weights_dir)
        weights_path = weights_dir / card["weights_file"]
        if not weights_path.is_file():
            raise UserError(f"{weights_path}: the {self.name} classifier weights are missing")
        classifier = build_feature_classifier(**card["architecture"], name=f"{self.name}_classifier")
        try:
            classifier.load_weights(weights_path)
        except (ValueError, OSError, KeyError) as error:
            raise UserError(f"{weights_path}: does not hold the {self.name} classifier of its card ({error})") from None
        self.card = card
        self.classifier = classifier  # images -> logits, a functional network (explanations take its gradients)
        self.image_shape = tuple(card["architecture"]["image_shape"])
        self.feature_dim = int(card["feature_dim"])
        self.label_names = card.get("label_names")
        self.test_accuracy = card.get("test_accuracy")
        model = keras.Model(
            classifier.inputs, {"features": classifier.get_layer(FEATURES_LAYER).output, "logits": classifier.outputs[0]}
        )
        height, width, channels = self.image_shape

        def extract(images):
            if images.shape[1] != height or images.shape[2] != width:
                images = tf.image.resize(images, [height, width], method="area")
            return model(images, training=False)

        signature = [tf.TensorSpec([None, None, None, channels], tf.float32, name="images")]
        super().__init__(tf.function(extract, input_signature=signature, reduce_retracing=True), batch_size)
        self._model = model

    def check_images(self, images) -> np.ndarray:
        images = super().check_images(images)
        size_differs = tuple(images.shape[1:3]) != self.image_shape[:2]
        if images.shape[-1] != self.image_shape[2] or (size_differs and not self.resizes):
            raise UserError(
                f"--features {self.name}: the {self.name} classifier takes {list(self.image_shape)} images, "
                f"got {list(images.shape[1:])}; use --features inception for other images"
            )
        return images

    def predict_labels(self, images) -> np.ndarray:
        return np.argmax(self._run(images, "logits"), axis=1).astype(np.int32)


class FashionMNISTFeatures(ClassifierFeatures):
    """``--features fashion_mnist``: the shipped Fashion-MNIST classifier (28x28 greyscale images only)."""

    name = "fashion_mnist"


class EmojiFeatures(ClassifierFeatures):
    """``--features emoji``: the shipped emoji-subgroup classifier (RGB images, resized to 32x32)."""

    name = "emoji"
    resizes = True

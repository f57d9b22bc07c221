"""The feature classifiers genkit ships (Fashion-MNIST, emoji subgroups): one functional network from hyper-parameters."""

from __future__ import annotations

from pathlib import Path

import keras
from keras import layers

FEATURES_LAYER = "features"
# The shipped weights and their cards (made by python -m genkit.evaluation.train_classifier --classifier NAME).
WEIGHTS_DIR = Path(__file__).parent / "weights"


def weights_file(name: str) -> str:
    return f"{name}_classifier.weights.h5"


def card_file(name: str) -> str:
    return f"{name}_classifier.json"


def build_feature_classifier(
    image_shape=(28, 28, 1), num_classes: int = 10, filters=(32, 64, 128), convolutions_per_block: int = 1,
    feature_dim: int = 128, dropout_rate: float = 0.3, name: str = "feature_classifier",
) -> keras.Model:
    """images [batch, H, W, C] in [0, 1] -> class logits [batch, num_classes].

    One block per entry of ``filters``: ``convolutions_per_block`` 3x3
    convolutions (batch norm, ReLU), then 2x2 max pooling, global average
    pooling, then a ``feature_dim`` ReLU layer named ``"features"`` (the
    penultimate layer, whose activations genkit's image metrics use), dropout
    and the logits.
    """
    images = keras.Input(shape=tuple(image_shape), name="images")
    x = images
    for block, block_filters in enumerate(filters):
        for index in range(convolutions_per_block):
            x = layers.Conv2D(block_filters, 3, padding="same", use_bias=False, name=f"block_{block}_conv_{index}")(x)
            x = layers.BatchNormalization(name=f"block_{block}_norm_{index}")(x)
            x = layers.ReLU(name=f"block_{block}_relu_{index}")(x)
        x = layers.MaxPooling2D(2, name=f"block_{block}_pool")(x)
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    features = layers.Dense(feature_dim, activation="relu", name=FEATURES_LAYER)(x)
    x = layers.Dropout(dropout_rate, name="dropout")(features)
    logits = layers.Dense(num_classes, dtype="float32", name="logits")(x)
    return keras.Model(images, logits, name=name)

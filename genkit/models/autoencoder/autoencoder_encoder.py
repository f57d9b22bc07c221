"""The autoencoder's encoder: a functional network built from hyper-parameters only."""

from __future__ import annotations

import keras
from keras import layers

from genkit.layers.conv_blocks import downsampling_trunk


def build_autoencoder_encoder(config) -> keras.Model:
    """images [batch, H, W, C] in [0, 1] -> ``code`` float32 [batch, latent_dim] (batch-normalised)."""
    images = keras.Input(shape=tuple(config.image_shape), name="images")
    x = downsampling_trunk(images, config.encoder_filters, config.kernel_size)
    x = layers.Dense(config.dense_units, activation="relu", name="dense")(x)
    x = layers.Dense(config.latent_dim, dtype="float32", name="linear_code")(x)
    code = layers.BatchNormalization(
        center=False, scale=False, synchronized=config.synchronized_batch_norm, dtype="float32", name="code"
    )(x)
    return keras.Model(images, code, name="encoder")

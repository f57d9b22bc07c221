"""The autoencoder's decoder: a functional network built from hyper-parameters only."""

from __future__ import annotations

import keras

from genkit.layers.conv_blocks import upsampling_trunk


def build_autoencoder_decoder(config) -> keras.Model:
    """``code`` [batch, latent_dim] -> pixel logits [batch, H, W, C] (float32; images = sigmoid(logits))."""
    code = keras.Input(shape=(config.latent_dim,), name="code")
    logits = upsampling_trunk(
        code, config.image_shape, config.decoder_filters, config.kernel_size, config.dense_units
    )
    return keras.Model(code, logits, name="decoder")

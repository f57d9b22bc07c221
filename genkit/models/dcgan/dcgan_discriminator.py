"""The DCGAN discriminator: a functional network built from hyper-parameters only."""

from __future__ import annotations

import keras

from genkit.models.gan.conv_discriminator import build_conv_discriminator


def build_dcgan_discriminator(config) -> keras.Model:
    """images [batch, H, W, C] in [-1, 1] -> one real/fake logit per image."""
    return build_conv_discriminator(config)

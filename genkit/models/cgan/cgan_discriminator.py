"""The projection discriminator of the class-conditional GAN: a functional network built from hyper-parameters only."""

from __future__ import annotations

import keras

from genkit.models.gan.conv_discriminator import build_conv_discriminator


def build_cgan_discriminator(config) -> keras.Model:
    """``[images [batch, H, W, C], label [batch] int32]`` -> one logit per image (projection discriminator)."""
    return build_conv_discriminator(config, num_classes=config.num_classes)

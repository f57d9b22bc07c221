"""The WGAN-GP critic: a functional network built from hyper-parameters only."""

from __future__ import annotations

import keras

from genkit.models.gan.conv_discriminator import build_conv_discriminator


def build_wgan_gp_critic(config) -> keras.Model:
    """images [batch, H, W, C] in [-1, 1] -> one unbounded critic value per image."""
    return build_conv_discriminator(config)

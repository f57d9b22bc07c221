"""The WGAN-GP generator: a functional network built from hyper-parameters only."""

from __future__ import annotations

import keras

from genkit.models.gan.conv_generator import build_conv_generator


def build_wgan_gp_generator(config, name: str = "generator") -> keras.Model:
    """``z`` [batch, latent_dim] -> images [batch, H, W, C] in [-1, 1] (tanh)."""
    return build_conv_generator(config, name=name)

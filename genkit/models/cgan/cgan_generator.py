"""The class-conditional generator: a functional network built from hyper-parameters only."""

from __future__ import annotations

import keras

from genkit.models.gan.conv_generator import build_conv_generator


def build_cgan_generator(config, name: str = "generator") -> keras.Model:
    """``[z [batch, latent_dim], label [batch] int32]`` -> images [batch, H, W, C] in [-1, 1]."""
    return build_conv_generator(config, num_classes=config.num_classes, name=name)

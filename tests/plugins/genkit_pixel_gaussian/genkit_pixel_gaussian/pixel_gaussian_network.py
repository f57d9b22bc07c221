"""The network: noise of an image's shape in, an image out, one mean and one deviation per pixel."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="genkit_pixel_gaussian")
class PixelAffine(keras.layers.Layer):
    """``mean + exp(log_std) * z``, with a ``mean`` and a ``log_std`` weight per pixel."""

    def build(self, input_shape):
        shape = tuple(input_shape[1:])
        self.mean = self.add_weight(name="mean", shape=shape, initializer=keras.initializers.Constant(0.5))
        self.log_std = self.add_weight(name="log_std", shape=shape, initializer="zeros")

    def call(self, z):
        return self.mean + ops.exp(self.log_std) * z


def build_pixel_gaussian_network(config) -> keras.Model:
    """z [batch, H, W, C] -> images [batch, H, W, C] (unclipped)."""
    z = keras.Input(shape=tuple(config.image_shape), name="z")
    return keras.Model(z, PixelAffine(name="pixels")(z), name="pixel_gaussian_network")

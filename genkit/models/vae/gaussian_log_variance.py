"""The pixel variance of a Gaussian decoder: one log-variance shared by every pixel, learned or fixed."""

from __future__ import annotations

import math

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="genkit")
class GaussianLogVariance(keras.layers.Layer):
    """Returns log(sigma^2) as a [batch, 1, 1, 1] float32 tensor (it broadcasts over pixels).

    Args:
        initial_std: sigma at initialisation (and its value when ``trainable=False``).
        min_std: a floor on sigma, so a learned variance cannot collapse.

    Pass the decoder's logits as input (only their batch size is used).
    """

    def __init__(self, initial_std=0.1, min_std=0.01, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.initial_std = initial_std
        self.min_std = min_std

    def build(self, input_shape):
        self.log_variance = self.add_weight(
            shape=(), initializer=keras.initializers.Constant(2.0 * math.log(self.initial_std)),
            trainable=self.trainable, name="log_variance",
        )

    def call(self, logits):
        log_variance = ops.maximum(self.log_variance, 2.0 * math.log(self.min_std))
        return ops.zeros_like(ops.cast(logits[:, :1, :1, :1], "float32")) + log_variance

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 1, 1, 1)

    def get_config(self):
        return {**super().get_config(), "initial_std": self.initial_std, "min_std": self.min_std}

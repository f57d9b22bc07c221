"""Conditioning augmentation (Zhang et al. 2017, StackGAN): a Gaussian around a sentence embedding, with its KL term."""

from __future__ import annotations

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="genkit")
class ConditioningAugmentation(keras.layers.Layer):
    """``[embedding [N, D], noise [N, units]] -> condition [N, units]``: ``mu + exp(log_var / 2) * noise``.

    ``mu`` and ``log_var`` are one dense projection of the embedding. The
    noise is an input (a standard normal draw while training, zeros for the
    mean condition), so the layer holds no random op and converts to TFLite
    builtins and ONNX. While training it adds ``kl_weight`` times the KL
    divergence ``KL(N(mu, sigma^2) || N(0, I))``, averaged over the global
    batch, to the layer's losses (``model.losses``), which smooths the
    conditioning manifold so that few descriptions still cover it.
    """

    def __init__(self, units: int, kl_weight: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        self.units = int(units)
        self.kl_weight = float(kl_weight)
        self.projection = keras.layers.Dense(2 * self.units, name="mean_and_log_variance")

    def build(self, input_shape):
        self.projection.build(input_shape[0])

    def call(self, inputs, training=False):
        embedding, noise = inputs
        mean, log_variance = tf.split(tf.cast(self.projection(embedding), tf.float32), 2, axis=-1)
        log_variance = tf.clip_by_value(log_variance, -10.0, 10.0)
        if training and self.kl_weight:
            kl = 0.5 * tf.reduce_sum(tf.exp(log_variance) + tf.square(mean) - 1.0 - log_variance, axis=-1)
            self.add_loss(self.kl_weight * tf.nn.compute_average_loss(kl))
        return mean + tf.exp(0.5 * log_variance) * tf.cast(noise, tf.float32)

    def compute_output_shape(self, input_shape):
        return (*input_shape[0][:-1], self.units)

    def get_config(self):
        return {**super().get_config(), "units": self.units, "kl_weight": self.kl_weight}

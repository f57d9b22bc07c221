"""Spectral normalisation (Miyato et al. 2018): a layer's kernel divided by its largest singular value."""

from __future__ import annotations

import keras
from keras import ops


def _normalize(vector, epsilon):
    return vector / ops.sqrt(ops.sum(ops.square(vector)) + epsilon)


@keras.saving.register_keras_serializable(package="genkit")
class SpectralNormalization(keras.layers.Wrapper):
    """Wraps a layer with a ``kernel`` (Dense, Conv2D, ...) or ``embeddings`` (Embedding).

    The wrapped layer computes with ``W / sigma(W)``, where ``sigma`` is the
    largest singular value of the kernel reshaped to ``[-1, units]``, estimated
    by power iteration with a persistent vector ``u`` (one iteration per
    training call, as in the paper). Gradients flow through ``W / sigma`` to
    ``W`` (the stored kernel is never overwritten, unlike
    ``keras.layers.SpectralNormalization``, which rescales it in place).

    ``u`` is updated in replica context under ``tf.distribute``: it is created
    with the ``"only_first_replica"`` aggregation, so every replica keeps the
    first replica's value. Inference (``training=False``) uses ``u`` as it
    is, so outputs are deterministic.

    Args:
        layer: the layer to normalise.
        power_iterations: power-iteration steps per training call.
        epsilon: added under the square roots of the vector norms.
    """

    def __init__(self, layer, power_iterations=1, epsilon=1e-12, **kwargs):
        super().__init__(layer, **kwargs)
        if power_iterations < 1:
            raise ValueError(f"power_iterations must be >= 1. Received: power_iterations={power_iterations}")
        self.power_iterations = power_iterations
        self.epsilon = epsilon

    def build(self, input_shape):
        super().build(input_shape)
        if hasattr(self.layer, "kernel"):
            self.kernel = self.layer.kernel
        elif hasattr(self.layer, "embeddings"):
            self.kernel = self.layer.embeddings
        else:
            raise ValueError(f"{type(self.layer).__name__} has neither a 'kernel' nor 'embeddings' to normalise.")
        self.vector_u = self.add_weight(
            shape=(1, self.kernel.shape[-1]),
            initializer=keras.initializers.RandomNormal(stddev=1.0),
            trainable=False,
            aggregation="only_first_replica",
            name="vector_u",
        )

    def _power_iteration(self):
        """(u, v) after ``power_iterations`` steps from the stored ``u``; no gradient flows through them."""
        weights = ops.reshape(ops.cast(self.kernel, "float32"), (-1, self.kernel.shape[-1]))
        vector_u = ops.cast(self.vector_u, "float32")
        for _ in range(self.power_iterations):
            vector_v = _normalize(ops.matmul(vector_u, ops.transpose(weights)), self.epsilon)
            vector_u = _normalize(ops.matmul(vector_v, weights), self.epsilon)
        return ops.stop_gradient(vector_u), ops.stop_gradient(vector_v)

    def normalized_kernel(self, vector_u=None, vector_v=None):
        """``W / sigma``, with ``sigma`` estimated from ``u`` and ``v`` (default: one step from the stored ``u``)."""
        if vector_u is None:
            vector_u, vector_v = self._power_iteration()
        kernel = ops.cast(self.kernel, "float32")
        weights = ops.reshape(kernel, (-1, self.kernel.shape[-1]))
        sigma = ops.matmul(ops.matmul(vector_v, weights), ops.transpose(vector_u))[0, 0]
        return kernel / ops.maximum(sigma, self.epsilon)

    def call(self, inputs, training=False):
        if training:
            vector_u, vector_v = self._power_iteration()
            self.vector_u.assign(vector_u)
            kernel = self.normalized_kernel(vector_u, vector_v)
        else:
            kernel = self.normalized_kernel()
        # The wrapped layer reads its kernel from this scope: it computes with W / sigma.
        with keras.StatelessScope(state_mapping=[(self.kernel, kernel)]):
            return self.layer(inputs)

    def compute_output_shape(self, input_shape):
        return self.layer.compute_output_shape(input_shape)

    def get_config(self):
        return {**super().get_config(), "power_iterations": self.power_iterations, "epsilon": self.epsilon}

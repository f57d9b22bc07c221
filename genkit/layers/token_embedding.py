"""A token embedding that can also project hidden vectors back onto the vocabulary (tied embeddings)."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="genkit")
class TokenEmbedding(keras.layers.Layer):
    """``call(ids)``: embeddings [..., dim]; ``call(vectors, project=True)``: logits [..., vocabulary] (+ a bias).

    Args:
        vocabulary_size: number of token ids.
        dim: embedding size.
    """

    def __init__(self, vocabulary_size, dim, **kwargs):
        super().__init__(**kwargs)
        self.vocabulary_size = vocabulary_size
        self.dim = dim

    def build(self, input_shape=None):
        self.embeddings = self.add_weight(
            shape=(self.vocabulary_size, self.dim), initializer="uniform", name="embeddings",
            autocast=False,
        )
        self.output_bias = self.add_weight(shape=(self.vocabulary_size,), initializer="zeros", name="output_bias")
        self.built = True

    def call(self, inputs, project=False):
        if project:
            embeddings = ops.cast(self.embeddings, inputs.dtype)
            return ops.matmul(inputs, ops.transpose(embeddings)) + ops.cast(self.output_bias, inputs.dtype)
        return ops.cast(ops.take(self.embeddings, ops.cast(inputs, "int32"), axis=0), self.compute_dtype)

    def compute_output_spec(self, inputs, project=False):
        if project:
            return keras.KerasTensor((*inputs.shape[:-1], self.vocabulary_size), dtype=self.compute_dtype)
        return keras.KerasTensor((*inputs.shape, self.dim), dtype=self.compute_dtype)

    def get_config(self):
        return {**super().get_config(), "vocabulary_size": self.vocabulary_size, "dim": self.dim}

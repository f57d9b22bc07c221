"""Soft visual attention over a grid of image features (Show, Attend and Tell, Xu et al. 2015)."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="genkit")
class VisualAttention(keras.layers.Layer):
    """``[features [N, cells, D], query [N, Q]] -> [context [N, D], weights [N, cells]]``.

    Additive (Bahdanau) attention: ``score = v . tanh(W_f f + W_q q)`` per
    cell, softmax over the cells, context = the weighted sum of the features,
    scaled by a gate ``sigmoid(W_g q)`` per feature channel (Xu et al.'s
    beta, which lets the decoder lean on its language model for words with
    nothing to see). ``attend=False`` gives Show and Tell's context instead:
    the mean feature with uniform weights, and no weights of its own.
    """

    def __init__(self, units: int = 128, attend: bool = True, gated: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.units = int(units)
        self.attend = bool(attend)
        self.gated = bool(gated) and self.attend

    def build(self, input_shape):
        features_shape, query_shape = input_shape
        if self.attend:
            self.feature_projection = keras.layers.Dense(self.units, use_bias=True, name="feature_projection")
            self.feature_projection.build(features_shape)
            self.query_projection = keras.layers.Dense(self.units, use_bias=False, name="query_projection")
            self.query_projection.build(query_shape)
            self.score = keras.layers.Dense(1, name="score")
            self.score.build((*features_shape[:-1], self.units))
        if self.gated:
            self.gate = keras.layers.Dense(features_shape[-1], activation="sigmoid", name="gate")
            self.gate.build(query_shape)

    def call(self, inputs):
        features, query = inputs
        if not self.attend:
            cells = ops.shape(features)[1]
            weights = ops.ones_like(features[..., 0]) / ops.cast(cells, features.dtype)
            return ops.mean(features, axis=1), weights
        hidden = ops.tanh(self.feature_projection(features) + ops.expand_dims(self.query_projection(query), 1))
        weights = ops.softmax(ops.squeeze(self.score(hidden), -1), axis=-1)
        context = ops.sum(ops.expand_dims(weights, -1) * features, axis=1)
        if self.gated:
            context = context * self.gate(query)
        return context, weights

    def compute_output_shape(self, input_shape):
        features_shape, _ = input_shape
        return (features_shape[0], features_shape[-1]), tuple(features_shape[:2])

    def get_config(self):
        return {**super().get_config(), "units": self.units, "attend": self.attend, "gated": self.gated}

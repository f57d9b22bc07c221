"""Fusion layers: M modality embeddings [N, width] and a presence mask [N, M] in, one [N, width] vector out.

Every layer is called on ``[embedding_1, ..., embedding_M, present]``
(``present``: 1.0 where a modality is given, 0.0 where it is missing) and
returns ``[fused, weights]``: ``weights`` [N, M] are the per-example shares
of the modalities where the method has them (``weighted``: the learned
softmax weights; ``gated``: the gates; ``attention``: the attention of the
fusion query), and the uniform share of the present modalities otherwise
(``learns_weights`` says which). A missing modality never reaches the output.
"""

from __future__ import annotations

import keras
from keras import ops


def _masked_softmax(logits, present):
    """Softmax over the present modalities only (rows with none present give zeros)."""
    logits = logits - ops.max(logits, axis=-1, keepdims=True)
    weights = ops.exp(logits) * present
    return weights / ops.maximum(ops.sum(weights, axis=-1, keepdims=True), 1e-9)


def _uniform(present):
    return present / ops.maximum(ops.sum(present, axis=-1, keepdims=True), 1.0)


class ModalityFusion(keras.layers.Layer):
    """Base class: ``call([*embeddings, present]) -> [fused, weights]``."""

    learns_weights = False

    def __init__(self, width, **kwargs):
        super().__init__(**kwargs)
        self.width = int(width)

    def get_config(self):
        return {**super().get_config(), "width": self.width}

    def compute_output_shape(self, input_shapes):
        batch = input_shapes[0][0]
        return [(batch, self.width), (batch, len(input_shapes) - 1)]


@keras.saving.register_keras_serializable(package="genkit")
class ConcatFusion(ModalityFusion):
    """Concatenation (missing modalities as zeros), then a ReLU projection (the seeds' ``MultiModalModel``)."""

    def build(self, input_shapes):
        self.projection = keras.layers.Dense(self.width, activation="relu", name="projection")
        self.projection.build((None, sum(shape[-1] for shape in input_shapes[:-1])))

    def call(self, inputs):
        *embeddings, present = inputs
        stacked = [x * present[:, m : m + 1] for m, x in enumerate(embeddings)]
        return [self.projection(ops.concatenate(stacked, axis=-1)), _uniform(present)]


@keras.saving.register_keras_serializable(package="genkit")
class WeightedFusion(ModalityFusion):
    """F = sum_m alpha_m x_m with learned ``alpha = softmax(w)`` over the present modalities (the seeds' F = ax + by + cz)."""

    learns_weights = True

    def build(self, input_shapes):
        self.logits = self.add_weight(shape=(len(input_shapes) - 1,), initializer="zeros", name="modality_logits")

    def call(self, inputs):
        *embeddings, present = inputs
        weights = _masked_softmax(ops.broadcast_to(self.logits, ops.shape(present)), present)
        fused = sum(weights[:, m : m + 1] * x for m, x in enumerate(embeddings))
        return [fused, weights]


@keras.saving.register_keras_serializable(package="genkit")
class GatedFusion(ModalityFusion):
    """The gated multimodal unit (Arevalo et al. 2017) for M modalities: h_m = tanh(W_m x_m), gates
    z = softmax over the present modalities of a linear map of all inputs, output sum_m z_m h_m."""

    learns_weights = True

    def build(self, input_shapes):
        count = len(input_shapes) - 1
        self.transforms = [keras.layers.Dense(self.width, activation="tanh", name=f"transform_{m}") for m in range(count)]
        for m, layer in enumerate(self.transforms):
            layer.build(input_shapes[m])
        self.gate = keras.layers.Dense(count, name="gate")
        self.gate.build((None, sum(shape[-1] for shape in input_shapes[:-1])))

    def call(self, inputs):
        *embeddings, present = inputs
        masked = [x * present[:, m : m + 1] for m, x in enumerate(embeddings)]
        gates = _masked_softmax(self.gate(ops.concatenate(masked, axis=-1)), present)
        fused = sum(gates[:, m : m + 1] * layer(x) for m, (layer, x) in enumerate(zip(self.transforms, embeddings)))
        return [fused, gates]


@keras.saving.register_keras_serializable(package="genkit")
class AttentionFusion(ModalityFusion):
    """A learned query attends over modality tokens (embedding + a learned modality embedding), masked by presence."""

    learns_weights = True

    def __init__(self, width, heads=2, **kwargs):
        super().__init__(width, **kwargs)
        self.heads = int(heads)

    def build(self, input_shapes):
        count = len(input_shapes) - 1
        self.modality_embeddings = self.add_weight(shape=(count, self.width), initializer="glorot_uniform", name="modality_embeddings")
        self.query = self.add_weight(shape=(1, 1, self.width), initializer="glorot_uniform", name="query")
        self.attention = keras.layers.MultiHeadAttention(self.heads, max(self.width // self.heads, 1), name="attention")
        self.attention.build((None, 1, self.width), (None, count, self.width))
        self.norm = keras.layers.LayerNormalization(name="norm")
        self.norm.build((None, self.width))

    def call(self, inputs):
        *embeddings, present = inputs
        tokens = ops.stack(embeddings, axis=1) + self.modality_embeddings[None]
        query = ops.broadcast_to(self.query, (ops.shape(present)[0], 1, self.width))
        mask = ops.cast(present[:, None, :], "bool")
        attended, scores = self.attention(query, tokens, attention_mask=mask, return_attention_scores=True)
        weights = ops.mean(scores[:, :, 0, :], axis=1) * present  # [N, heads, 1, M] -> [N, M]
        return [self.norm(attended[:, 0] + query[:, 0]), weights]

    def get_config(self):
        return {**super().get_config(), "heads": self.heads}


@keras.saving.register_keras_serializable(package="genkit")
class LowRankFusion(ModalityFusion):
    """Low-rank multimodal tensor fusion (Liu et al. 2018): h = sum_r prod_m ([x_m, 1] W_m^r) + b.

    A missing modality enters as [0, ..., 0, 1], so only its factors' bias rows remain.
    """

    def __init__(self, width, rank=4, **kwargs):
        super().__init__(width, **kwargs)
        self.rank = int(rank)

    def build(self, input_shapes):
        self.factors = [
            self.add_weight(shape=(self.rank, shape[-1] + 1, self.width), initializer="glorot_uniform", name=f"factor_{m}")
            for m, shape in enumerate(input_shapes[:-1])
        ]
        self.bias = self.add_weight(shape=(self.width,), initializer="zeros", name="bias")

    def call(self, inputs):
        *embeddings, present = inputs
        product = None
        for m, (x, factor) in enumerate(zip(embeddings, self.factors)):
            extended = ops.concatenate([x * present[:, m : m + 1], ops.ones_like(x[:, :1])], axis=-1)
            projected = ops.einsum("nd,rdw->nrw", extended, factor)
            product = projected if product is None else product * projected
        return [ops.sum(product, axis=1) + self.bias, _uniform(present)]

    def get_config(self):
        return {**super().get_config(), "rank": self.rank}


# Fusion methods by config name; "late" (averaging per-modality classifiers) is built by the classifier itself.
FUSION_LAYERS = {
    "concat": ConcatFusion,
    "weighted": WeightedFusion,
    "gated": GatedFusion,
    "attention": AttentionFusion,
    "low-rank": LowRankFusion,
}

"""The language model network: a functional model built from hyper-parameters only."""

from __future__ import annotations

import keras
from keras import layers

from genkit.layers import ReplicaDropout, TokenEmbedding


def state_names(cell: str, layers: int) -> list[str]:
    """Names of the recurrent state tensors, layer by layer: state_h_0 (, state_c_0), state_h_1, ..."""
    per_layer = ("h", "c") if cell == "lstm" else ("h",)
    return [f"state_{kind}_{index}" for index in range(layers) for kind in per_layer]


def build_language_model_network(config) -> keras.Model:
    """[tokens [batch, time] int32, *initial states [batch, units]] -> [logits [batch, time, vocabulary], *final states].

    Layers are named so that the single-step model can reuse them: ``embedding``,
    ``rnn_{i}`` (whose ``cell`` is an LSTMCell or GRUCell), ``tied_projection``
    (tied embeddings with ``units != embedding_dim``) and ``logits`` (untied).
    """
    vocabulary_size = len(config.vocabulary)
    tokens = keras.Input(shape=(None,), dtype="int32", name="tokens")
    states = [keras.Input(shape=(config.units,), name=name) for name in state_names(config.cell, config.layers)]
    if config.tie_embeddings:
        embedding = TokenEmbedding(vocabulary_size, config.embedding_dim, name="embedding")
    else:
        embedding = layers.Embedding(vocabulary_size, config.embedding_dim, name="embedding")
    x = embedding(tokens)
    recurrent = layers.LSTM if config.cell == "lstm" else layers.GRU
    per_layer = 2 if config.cell == "lstm" else 1
    final_states = []
    for index in range(config.layers):
        if config.dropout:
            x = ReplicaDropout(config.dropout, name=f"dropout_{index}")(x)
        layer = recurrent(
            config.units, return_sequences=True, return_state=True,
            recurrent_dropout=config.recurrent_dropout, name=f"rnn_{index}",
        )
        initial = states[index * per_layer : (index + 1) * per_layer]
        x, *layer_states = layer(x, initial_state=initial if per_layer == 2 else initial[0])
        final_states += layer_states
    if config.dropout:
        x = ReplicaDropout(config.dropout, name="dropout_output")(x)
    if config.tie_embeddings:
        if config.units != config.embedding_dim:
            x = layers.Dense(config.embedding_dim, name="tied_projection")(x)
        logits = embedding(x, project=True)
        logits = layers.Activation("linear", dtype="float32", name="logits")(logits)
    else:
        logits = layers.Dense(vocabulary_size, dtype="float32", name="logits")(x)
    final_states = [layers.Activation("linear", dtype="float32", name=f"final_{name}")(s)
                    for name, s in zip(state_names(config.cell, config.layers), final_states)]
    return keras.Model([tokens, *states], [logits, *final_states], name="language_model")

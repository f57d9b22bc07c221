"""The captioner's networks, functional and built from hyper-parameters only: the grid encoder's companions.

- ``initial_state`` network: features [N, cells, width] -> the decoder's first
  states (``tanh`` projections of the mean feature, as Xu et al. initialise);
- ``step`` network: one word in, the next word's logits out —
  ``[token [N], features, *states] -> [logits [N, vocabulary], *next states,
  attention [N, cells]]``. Training unrolls it over the caption (teacher
  forcing); decoding (greedy, beam search, sampling) and the edge exports run
  it one step at a time, so every path shares the same weights and ops.

Token ids: 0 is the caption boundary (the first input and the end of every
caption; also padding), 1 an unknown word, 2... the vocabulary's words.
"""

from __future__ import annotations

import keras

from genkit.layers import ReplicaDropout, VisualAttention

BOUNDARY_ID = 0
UNKNOWN_ID = 1


def state_names(cell: str) -> list[str]:
    return ["state_h", "state_c"] if cell == "lstm" else ["state_h"]


def build_initial_state_network(cells: int, width: int, cell: str, units: int) -> keras.Model:
    features = keras.Input((cells, width), name="features")
    mean = keras.layers.GlobalAveragePooling1D(name="mean_feature")(features)
    states = [keras.layers.Dense(units, activation="tanh", name=f"initial_{name}")(mean) for name in state_names(cell)]
    return keras.Model(features, states, name="initial_state")


def build_step_network(config, vocabulary_size: int, cells: int) -> keras.Model:
    token = keras.Input((), dtype="int32", name="token")
    features = keras.Input((cells, config.width), name="features")
    states = [keras.Input((config.units,), name=name) for name in state_names(config.cell)]
    embedded = keras.layers.Embedding(vocabulary_size, config.embedding_dim, name="embedding")(token)
    context, attention = VisualAttention(config.attention_units, attend=config.attention, name="attention")(
        [features, states[0]]
    )
    x = keras.layers.Concatenate(name="cell_input")([embedded, context])
    if config.cell == "lstm":
        output, next_states = keras.layers.LSTMCell(config.units, name="cell")(x, states)
    else:
        output, next_states = keras.layers.GRUCell(config.units, name="cell")(x, states)
    next_states = list(next_states) if isinstance(next_states, (list, tuple)) else [next_states]
    # Xu et al.'s deep output: the word from the state, the context and the previous word together (linear, as theirs).
    deep = keras.layers.Concatenate(name="output_input")([output, context, embedded])
    deep = keras.layers.Dense(config.embedding_dim, name="deep_output")(deep)
    if config.dropout:
        deep = ReplicaDropout(config.dropout, name="output_dropout")(deep)
    logits = keras.layers.Dense(vocabulary_size, dtype="float32", name="logits")(deep)
    named_states = [
        keras.layers.Activation("linear", dtype="float32", name=f"next_{name}")(s)
        for name, s in zip(state_names(config.cell), next_states)
    ]
    attention = keras.layers.Activation("linear", dtype="float32", name="attention_weights")(attention)
    return keras.Model([token, features, *states], [logits, *named_states, attention], name="step")

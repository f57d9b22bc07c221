"""Recurrent language models (char-lstm, word-lstm): a stack of LSTM/GRU cells as a causal language model."""

from __future__ import annotations

import keras
import tensorflow as tf

from genkit.layers import TokenEmbedding
from genkit.models.language_model.language_model_network import build_language_model_network, state_names
from genkit.signatures import TensorDeclaration
from genkit.tasks.language_modelling.causal_language_model import CausalLanguageModel
from genkit.training.learning_rate_schedule import scheduled_learning_rate
from genkit.training.loss_scaling import with_loss_scaling


class RecurrentLanguageModel(CausalLanguageModel):
    """A token-level recurrent language model (the base of ``char-lstm`` and ``word-lstm``).

    Args:
        network: the functional network of :func:`build_language_model_network`
            (tokens and initial states -> logits and final states).
        level: "char" or "word".
        cell: "lstm" or "gru".
        num_layers: recurrent layers; units: their size.
        vocabulary: the tokens, index = token id (0: OOV, 1: end of text).
        lowercase: lowercase text before tokenising.
        sequence_length: tokens per training window.

    The state is each layer's [units] vectors (any history: ``context_length`` None); one step runs the recurrent
    cells of the network's layers (the same weights), in the graph that the string serving signature and
    ``genkit sample`` share. Everything else is :class:`CausalLanguageModel`'s.
    """

    def __init__(self, network, level, cell, num_layers, units, vocabulary, lowercase=False, sequence_length=128,
                 **kwargs):
        super().__init__(level, vocabulary, lowercase, sequence_length, **kwargs)
        self.network = network
        self.cell = cell
        self.num_layers = num_layers
        self.units = units
        self.base_learning_rate, self.learning_rate_schedule = None, "constant"  # set by compile_for_training
        self.built = True

    @classmethod
    def from_hyperparameters(cls, config):
        return cls(
            network=build_language_model_network(config),
            level=config.level,
            cell=config.cell,
            num_layers=config.layers,
            units=config.units,
            vocabulary=config.vocabulary,
            lowercase=config.lowercase,
            sequence_length=config.sequence_length,
            name=cls.registered_name.replace("-", "_"),
        )

    # -- training ---------------------------------------------------------------------------------

    def _trainable_network_variables(self):
        return self.network.trainable_variables

    def compile_for_training(self, config, seed: int = 0):
        """Adam(``config.learning_rate``), decayed by ``config.learning_rate_schedule`` over the planned training."""
        optimizer = keras.optimizers.Adam(config.learning_rate, global_clipnorm=config.clip_norm or None)
        self.compile(optimizer=with_loss_scaling(optimizer))
        self.base_learning_rate, self.learning_rate_schedule = config.learning_rate, config.learning_rate_schedule

    def set_training_progress(self, progress: float) -> None:
        if self.learning_rate_schedule != "constant":
            self.optimizer.learning_rate = scheduled_learning_rate(
                self.base_learning_rate, self.learning_rate_schedule, progress
            )

    def checkpoint_objects(self):
        return {"network": self.network, "optimizer": self.optimizer}

    # -- the causal language model's network and step ---------------------------------------------

    def state_declarations(self):
        return tuple(TensorDeclaration(name, "state", "float32", (self.units,)) for name in state_names(self.cell, self.num_layers))

    def call_with_state(self, tokens, state, position, training=False):
        logits, *state = self.network([tokens, *state], training=training)
        return logits, state

    def embed(self, tokens):
        return self.network.get_layer("embedding")(tokens)

    def step_from_embedding(self, embedded, state, position):
        """One step of the recurrent cells from the token's embedding [batch, embedding_dim]; ``position`` unused."""
        network = self.network
        x, new_state = embedded, []
        per_layer = 2 if self.cell == "lstm" else 1
        for index in range(self.num_layers):
            layer_state = list(state[index * per_layer : (index + 1) * per_layer])
            x, next_state = network.get_layer(f"rnn_{index}").cell(x, layer_state, training=False)
            new_state += list(next_state) if isinstance(next_state, (list, tuple)) else [next_state]
        embedding = network.get_layer("embedding")
        if isinstance(embedding, TokenEmbedding):
            if any(layer.name == "tied_projection" for layer in network.layers):
                x = network.get_layer("tied_projection")(x)
            logits = embedding(x, project=True)
        else:
            logits = network.get_layer("logits")(x)
        return tf.cast(logits, tf.float32), [tf.cast(s, tf.float32) for s in new_state]

    # -- serialisation ----------------------------------------------------------------------------

    def get_config(self):
        return {
            **super().get_config(),
            "network": keras.saving.serialize_keras_object(self.network),
            "cell": self.cell,
            "num_layers": self.num_layers,
            "units": self.units,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["network"] = keras.saving.deserialize_keras_object(config["network"])
        return cls(**config)

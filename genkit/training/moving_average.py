"""An exponential moving average of a network's weights, kept in a second network of the same architecture."""

from __future__ import annotations

from typing import Callable

import keras
import tensorflow as tf


def _first_replica_aggregation(next_creator, **kwargs):
    kwargs["aggregation"] = tf.VariableAggregation.ONLY_FIRST_REPLICA
    return next_creator(**kwargs)


def build_moving_average(build_network: Callable[[], keras.Model], source: keras.Model) -> keras.Model:
    """A network from ``build_network()`` that starts as a copy of ``source`` and is not trainable.

    Its variables are created with the ``ONLY_FIRST_REPLICA`` aggregation, so
    under ``tf.distribute`` :func:`update_moving_average` may run in replica
    context: every replica keeps the first replica's update (the replicas
    compute the same value from the same mirrored weights anyway).
    """
    with tf.variable_creator_scope(_first_replica_aggregation):
        average = build_network()
    average.set_weights(source.get_weights())
    average.trainable = False
    return average


def update_moving_average(average: keras.Model, network: keras.Model, decay) -> None:
    """``average <- decay * average + (1 - decay) * network`` for every float weight (batch-norm statistics too)."""
    for average_weight, weight in zip(average.weights, network.weights):
        if not tf.as_dtype(weight.dtype).is_floating:
            continue
        decay_value = tf.cast(decay, average_weight.dtype)
        average_weight.assign(decay_value * average_weight + (1.0 - decay_value) * tf.cast(weight, average_weight.dtype))

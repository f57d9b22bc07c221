"""Dropout whose masks differ on every tf.distribute replica."""

from __future__ import annotations

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="genkit")
class ReplicaDropout(keras.layers.Dropout):
    """``keras.layers.Dropout`` with the replica id folded into its seed.

    Keras' Dropout keeps its seed state in a mirrored variable, so under
    ``tf.distribute`` every replica draws the same mask for its part of the
    batch. This layer draws the next seed the same way, then folds in the
    replica id. On one device it is an ordinary dropout.
    """

    def call(self, inputs, training=False):
        if not training or self.rate == 0:
            return inputs
        replica_context = tf.distribute.get_replica_context()
        replica_id = replica_context.replica_id_in_sync_group if replica_context is not None else 0
        seed = tf.cast(self.seed_generator.next(), tf.int64)
        seed = tf.random.experimental.stateless_fold_in(seed, tf.cast(replica_id, tf.int64))
        return tf.nn.experimental.stateless_dropout(inputs, rate=self.rate, seed=seed, noise_shape=self.noise_shape)

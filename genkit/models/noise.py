"""Seeded, stateless noise for train steps: reproducible, resumable, and split across replicas."""

from __future__ import annotations

import tensorflow as tf


def replica_normal(seed: int, step, stream: int, local_batch_size, dim: int) -> tf.Tensor:
    """This replica's slice of one global batch of standard normal noise.

    The noise is drawn from (``seed``, training ``step``, noise ``stream``)
    alone, so a resumed run draws exactly what it would have drawn. Every
    replica draws the same global batch and keeps its own rows: replicas get
    different noise, and N replicas together see exactly the noise one device
    would have seen for the same global batch.
    """
    replica_context = tf.distribute.get_replica_context()
    replica_id = replica_context.replica_id_in_sync_group if replica_context is not None else 0
    replicas = replica_context.num_replicas_in_sync if replica_context is not None else 1
    base = tf.stack([tf.constant(seed, tf.int64), tf.cast(step, tf.int64)])
    stateless_seed = tf.random.experimental.stateless_fold_in(base, stream)
    noise = tf.random.stateless_normal((local_batch_size * replicas, dim), seed=stateless_seed)
    start = tf.cast(replica_id, tf.int32) * local_batch_size
    return noise[start : start + local_batch_size]

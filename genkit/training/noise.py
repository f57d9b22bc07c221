"""Seeded, stateless noise for train steps: reproducible, resumable, and split across replicas."""

from __future__ import annotations

import tensorflow as tf


def _replica_rows(draw, seed: int, step, stream: int, local_batch_size, dim: int) -> tf.Tensor:
    """This replica's rows of ``draw(shape, seed)`` for the global batch of (seed, step, stream)."""
    replica_context = tf.distribute.get_replica_context()
    replica_id = replica_context.replica_id_in_sync_group if replica_context is not None else 0
    replicas = replica_context.num_replicas_in_sync if replica_context is not None else 1
    base = tf.stack([tf.constant(seed, tf.int64), tf.cast(step, tf.int64)])
    stateless_seed = tf.random.experimental.stateless_fold_in(base, stream)
    noise = draw((local_batch_size * replicas, dim), seed=stateless_seed)
    start = tf.cast(replica_id, tf.int32) * local_batch_size
    return noise[start : start + local_batch_size]


def replica_normal(seed: int, step, stream: int, local_batch_size, dim: int) -> tf.Tensor:
    """This replica's slice of one global batch of standard normal noise.

    The noise is drawn from (``seed``, training ``step``, noise ``stream``)
    alone, so a resumed run draws exactly what it would have drawn. Every
    replica draws the same global batch and keeps its own rows: replicas get
    different noise, and N replicas together see exactly the noise one device
    would have seen for the same global batch.
    """
    return _replica_rows(tf.random.stateless_normal, seed, step, stream, local_batch_size, dim)


def replica_uniform(seed: int, step, stream: int, local_batch_size, dim: int) -> tf.Tensor:
    """As :func:`replica_normal`, but uniform on [0, 1)."""
    return _replica_rows(tf.random.stateless_uniform, seed, step, stream, local_batch_size, dim)

"""Choosing the next token from logits in a TensorFlow graph: greedy, temperature, top-k and nucleus (top-p).

Shared by every model that decodes tokens (language models, captioners).
"""

from __future__ import annotations

import tensorflow as tf


def filter_logits(logits: tf.Tensor, top_k: tf.Tensor, top_p: tf.Tensor) -> tf.Tensor:
    """``logits`` [batch, vocabulary] with every token outside the top-k and the top-p nucleus set to -inf.

    Per row: ``top_k`` <= 0 keeps every token; ``top_p`` >= 1 keeps every
    token, else the smallest set of likeliest tokens whose probability sums to
    at least ``top_p`` (tokens tied with the last one kept are kept too).
    A filter no row asks for is not computed: each needs a pass over the
    vocabulary per step (a sort of [256, 8,000] logits takes 0.2 s on a CPU).
    """
    logits = tf.cond(tf.reduce_any(top_k > 0), lambda: _top_k_filtered(logits, top_k), lambda: logits)
    return tf.cond(tf.reduce_any(top_p < 1.0), lambda: _nucleus_filtered(logits, top_p), lambda: logits)


def _top_k_filtered(logits, top_k):
    vocabulary_size = tf.shape(logits)[-1]
    k = tf.where(top_k > 0, tf.minimum(top_k, vocabulary_size), vocabulary_size)
    largest = tf.math.top_k(logits, k=tf.reduce_max(k)).values
    kth = tf.gather(largest, k - 1, batch_dims=1)
    return tf.where(logits < kth[:, None], tf.constant(float("-inf"), logits.dtype), logits)


def _nucleus_filtered(logits, top_p):
    vocabulary_size = tf.shape(logits)[-1]
    ordered = tf.sort(logits, axis=-1, direction="DESCENDING")
    probabilities = tf.nn.softmax(ordered, axis=-1)
    before = tf.cumsum(probabilities, axis=-1, exclusive=True)
    kept = tf.reduce_sum(tf.cast(before < top_p[:, None], tf.int32), axis=-1)
    kept = tf.where(top_p >= 1.0, vocabulary_size, tf.maximum(kept, 1))
    threshold = tf.gather(ordered, kept - 1, batch_dims=1)
    return tf.where(logits < threshold[:, None], tf.constant(float("-inf"), logits.dtype), logits)


def choose_next(logits, temperature, top_k, top_p, seed, step) -> tf.Tensor:
    """int32 token ids [batch]: argmax where ``temperature`` is 0, else a draw from softmax(logits / T), filtered.

    Draws are stateless: the same (``seed``, ``step``) and logits give the same tokens.
    """
    logits = tf.cast(logits, tf.float32)
    greedy = tf.argmax(logits, axis=-1, output_type=tf.int32)

    def sampled():
        scaled = logits / tf.maximum(temperature, 1e-6)[:, None]
        filtered = filter_logits(scaled, top_k, top_p)
        stateless_seed = tf.stack([tf.cast(seed, tf.int64), tf.cast(step, tf.int64)])
        return tf.random.stateless_categorical(filtered, 1, seed=stateless_seed, dtype=tf.int32)[:, 0]

    # A request of greedy rows only draws nothing.
    return tf.where(temperature > 0, tf.cond(tf.reduce_any(temperature > 0), sampled, lambda: greedy), greedy)

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
    """
    vocabulary_size = tf.shape(logits)[-1]
    negative_infinity = tf.constant(float("-inf"), logits.dtype)
    ordered = tf.sort(logits, axis=-1, direction="DESCENDING")
    k = tf.where(top_k > 0, tf.minimum(top_k, vocabulary_size), vocabulary_size)
    kth = tf.gather(ordered, k - 1, batch_dims=1)
    logits = tf.where(logits < kth[:, None], negative_infinity, logits)

    ordered = tf.sort(logits, axis=-1, direction="DESCENDING")
    probabilities = tf.nn.softmax(ordered, axis=-1)
    before = tf.cumsum(probabilities, axis=-1, exclusive=True)
    kept = tf.reduce_sum(tf.cast(before < top_p[:, None], tf.int32), axis=-1)
    kept = tf.where(top_p >= 1.0, vocabulary_size, tf.maximum(kept, 1))
    threshold = tf.gather(ordered, kept - 1, batch_dims=1)
    return tf.where(logits < threshold[:, None], negative_infinity, logits)


def choose_next(logits, temperature, top_k, top_p, seed, step) -> tf.Tensor:
    """int32 token ids [batch]: argmax where ``temperature`` is 0, else a draw from softmax(logits / T), filtered.

    Draws are stateless: the same (``seed``, ``step``) and logits give the same tokens.
    """
    logits = tf.cast(logits, tf.float32)
    greedy = tf.argmax(logits, axis=-1, output_type=tf.int32)
    scaled = logits / tf.maximum(temperature, 1e-6)[:, None]
    filtered = filter_logits(scaled, top_k, top_p)
    stateless_seed = tf.stack([tf.cast(seed, tf.int64), tf.cast(step, tf.int64)])
    sampled = tf.random.stateless_categorical(filtered, 1, seed=stateless_seed, dtype=tf.int32)[:, 0]
    return tf.where(temperature > 0, sampled, greedy)

"""Image corruptions of the denoising autoencoder, drawn statelessly (seed, step) like all train-step noise."""

from __future__ import annotations

import math

import tensorflow as tf

from genkit.training.noise import replica_normal


def _replica_uniform(seed, step, stream, batch_size, dim):
    # U(0, 1) from N(0, 1) through the normal CDF: exact, and split across replicas like replica_normal.
    normal = replica_normal(seed, step, stream, batch_size, dim)
    return 0.5 * (1.0 + tf.math.erf(normal / math.sqrt(2.0)))


def corrupt_images(images, noise: str, level: float, seed: int, step, stream: int = 1):
    """``images`` (float32 in [0, 1]) corrupted by ``noise`` at ``level``; the result stays in [0, 1].

    - ``gaussian``: ``clip(x + level * N(0, 1), 0, 1)``;
    - ``masking``: each pixel set to 0 with probability ``level``;
    - ``salt_and_pepper``: each pixel, with probability ``level``, set to 0 or 1 (equally likely).

    The noise depends on (seed, step, stream) alone and each tf.distribute
    replica corrupts its own rows of one global draw.
    """
    shape = tf.shape(images)
    batch_size, dim = shape[0], math.prod(images.shape[1:])
    if noise == "gaussian":
        normal = tf.reshape(replica_normal(seed, step, stream, batch_size, dim), shape)
        return tf.clip_by_value(images + level * normal, 0.0, 1.0)
    chosen = tf.reshape(_replica_uniform(seed, step, stream, batch_size, dim), shape) < level
    if noise == "masking":
        return tf.where(chosen, tf.zeros_like(images), images)
    if noise == "salt_and_pepper":
        salt = tf.reshape(_replica_uniform(seed, step, stream + 1, batch_size, dim), shape) < 0.5
        return tf.where(chosen, tf.cast(salt, images.dtype), images)
    raise ValueError(f"noise must be one of gaussian, masking, salt_and_pepper. Received: noise={noise!r}")

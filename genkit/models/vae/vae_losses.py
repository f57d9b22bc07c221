"""Per-example log-densities and the closed-form KL term of a VAE (float32, summed over dimensions)."""

from __future__ import annotations

import math

import tensorflow as tf

LOG_2PI = math.log(2.0 * math.pi)


def _sum_over_all_but_batch(values):
    return tf.reduce_sum(tf.reshape(values, [tf.shape(values)[0], -1]), axis=1)


def gaussian_kl(mean, log_var):
    """KL(N(mean, exp(log_var)) || N(0, I)) per example, in closed form: [batch, D] -> [batch]."""
    return 0.5 * tf.reduce_sum(tf.exp(log_var) + tf.square(mean) - 1.0 - log_var, axis=-1)


def gaussian_kl_between(mean, log_var, prior_mean, prior_log_var):
    """KL(N(mean, exp(log_var)) || N(prior_mean, exp(prior_log_var))) per example: [batch, D] -> [batch]."""
    return 0.5 * tf.reduce_sum(
        prior_log_var - log_var + (tf.exp(log_var) + tf.square(mean - prior_mean)) * tf.exp(-prior_log_var) - 1.0,
        axis=-1,
    )


def diagonal_normal_log_density(z, mean, log_var):
    """log N(z; mean, diag(exp(log_var))) summed over the last axis."""
    return -0.5 * tf.reduce_sum(LOG_2PI + log_var + tf.square(z - mean) * tf.exp(-log_var), axis=-1)


def bernoulli_log_likelihood(images, logits):
    """sum over pixels of x log p + (1 - x) log(1 - p), p = sigmoid(logits), pixel intensities x in [0, 1]."""
    return -_sum_over_all_but_batch(tf.nn.sigmoid_cross_entropy_with_logits(labels=images, logits=logits))


def gaussian_log_likelihood(images, logits, log_var):
    """sum over pixels of log N(x; sigmoid(logits), exp(log_var)): a density of real-valued pixels."""
    mean = tf.sigmoid(logits)
    return -0.5 * _sum_over_all_but_batch(LOG_2PI + log_var + tf.square(images - mean) * tf.exp(-log_var))

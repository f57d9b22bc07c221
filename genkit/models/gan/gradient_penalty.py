"""The WGAN-GP gradient penalty (Gulrajani et al. 2017)."""

from __future__ import annotations

import tensorflow as tf


def gradient_penalty(critic, real_images, fake_images, interpolation_weights, loss_scale=None, epsilon=1e-12):
    """``(||grad_x critic(x_hat)||_2 - 1)^2`` per example, shape [batch].

    ``x_hat = w * real + (1 - w) * fake`` with one weight ``w`` per example
    (``interpolation_weights``, shape [batch, 1], uniform on [0, 1)).
    ``critic(images) -> logits [batch, 1]`` must treat examples independently
    (no batch normalisation). ``epsilon`` inside the square root keeps the norm
    and its gradient finite when the gradient is zero.

    ``loss_scale`` (mixed precision): a function ``x -> x * scale`` (an
    optimizer's ``scale_loss``). The inner gradient is taken of the scaled
    critic output, so float16 intermediate gradients do not underflow, and
    unscaled in float32 before the norm.
    """
    real_images = tf.cast(real_images, tf.float32)
    fake_images = tf.cast(fake_images, tf.float32)
    shape = [-1] + [1] * (len(real_images.shape) - 1)
    weights = tf.reshape(tf.cast(interpolation_weights, tf.float32), shape)
    interpolated = weights * real_images + (1.0 - weights) * fake_images
    with tf.GradientTape() as tape:
        tape.watch(interpolated)
        output = tf.reduce_sum(tf.cast(critic(interpolated), tf.float32))
        if loss_scale is not None:
            output = loss_scale(output)
    gradients = tf.cast(tape.gradient(output, interpolated), tf.float32)
    if loss_scale is not None:
        gradients = gradients / loss_scale(tf.constant(1.0, tf.float32))
    squared_norm = tf.reduce_sum(tf.square(tf.reshape(gradients, [tf.shape(gradients)[0], -1])), axis=1)
    return tf.square(tf.sqrt(squared_norm + epsilon) - 1.0)

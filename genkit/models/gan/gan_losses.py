"""The adversarial losses the GAN families share, per example (average them over the global batch).

``logits`` are the discriminator's (critic's) raw outputs, shape [batch, 1].

| loss | discriminator | generator |
|---|---|---|
| ``non_saturating`` | -log D(x) - log(1 - D(G(z))), D = sigmoid | -log D(G(z)) |
| ``hinge`` | max(0, 1 - D(x)) + max(0, 1 + D(G(z))) | -D(G(z)) |
| ``wasserstein`` | D(G(z)) - D(x) | -D(G(z)) |
"""

from __future__ import annotations

import tensorflow as tf

LOSSES = ("non_saturating", "hinge", "wasserstein")


def _check(loss: str) -> None:
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {', '.join(LOSSES)}. Received: loss={loss!r}")


def discriminator_loss(loss: str, real_logits, fake_logits, real_target: float = 1.0) -> tf.Tensor:
    """The discriminator's loss per example, shape [batch].

    ``real_target`` (non-saturating only) is the target probability of real
    images: ``1 - label_smoothing`` for one-sided label smoothing.
    """
    _check(loss)
    real_logits, fake_logits = real_logits[:, 0], fake_logits[:, 0]
    if loss == "non_saturating":
        return tf.nn.sigmoid_cross_entropy_with_logits(
            labels=tf.fill(tf.shape(real_logits), tf.cast(real_target, real_logits.dtype)), logits=real_logits
        ) + tf.nn.sigmoid_cross_entropy_with_logits(labels=tf.zeros_like(fake_logits), logits=fake_logits)
    if loss == "hinge":
        return tf.nn.relu(1.0 - real_logits) + tf.nn.relu(1.0 + fake_logits)
    return fake_logits - real_logits


def generator_loss(loss: str, fake_logits) -> tf.Tensor:
    """The generator's loss per example, shape [batch]."""
    _check(loss)
    fake_logits = fake_logits[:, 0]
    if loss == "non_saturating":
        return tf.nn.sigmoid_cross_entropy_with_logits(labels=tf.ones_like(fake_logits), logits=fake_logits)
    return -fake_logits


def discriminator_score(loss: str, logits) -> tf.Tensor:
    """What the real/fake score metrics report: D(x) as a probability (non-saturating), else the raw critic value."""
    _check(loss)
    return tf.sigmoid(logits) if loss == "non_saturating" else logits

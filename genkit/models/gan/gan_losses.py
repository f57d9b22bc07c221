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


def _real_term(loss: str, logits, real_target: float) -> tf.Tensor:
    logits = logits[:, 0]
    if loss == "non_saturating":
        return tf.nn.sigmoid_cross_entropy_with_logits(
            labels=tf.fill(tf.shape(logits), tf.cast(real_target, logits.dtype)), logits=logits
        )
    if loss == "hinge":
        return tf.nn.relu(1.0 - logits)
    return -logits


def _fake_term(loss: str, logits) -> tf.Tensor:
    logits = logits[:, 0]
    if loss == "non_saturating":
        return tf.nn.sigmoid_cross_entropy_with_logits(labels=tf.zeros_like(logits), logits=logits)
    if loss == "hinge":
        return tf.nn.relu(1.0 + logits)
    return logits


def discriminator_loss(loss: str, real_logits, fake_logits, real_target: float = 1.0) -> tf.Tensor:
    """The discriminator's loss per example, shape [batch].

    ``real_target`` (non-saturating only) is the target probability of real
    images: ``1 - label_smoothing`` for one-sided label smoothing.
    """
    _check(loss)
    return _real_term(loss, real_logits, real_target) + _fake_term(loss, fake_logits)


def matching_aware_discriminator_loss(loss: str, real_logits, fake_logits, mismatched_logits, real_target: float = 1.0,
                                      mismatch_weight: float = 0.5) -> tf.Tensor:
    """Reed et al. 2016's GAN-CLS loss per example: a real image with its own text is real; a generated image
    (weight ``1 - mismatch_weight``) and a real image with another example's text (``mismatch_weight``) are fake.

    The discriminator so learns whether image and text match, not only
    whether the image looks real. ``mismatch_weight`` 0 is the plain loss.
    """
    _check(loss)
    fake = (1.0 - mismatch_weight) * _fake_term(loss, fake_logits) + mismatch_weight * _fake_term(loss, mismatched_logits)
    return _real_term(loss, real_logits, real_target) + fake


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

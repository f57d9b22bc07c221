"""The KL weight schedule of a VAE: linear warm-up from 0 to beta (Bowman et al. 2016)."""

from __future__ import annotations

import tensorflow as tf


def kl_weight(step, beta: float, warmup_steps: int):
    """``beta * min(1, step / warmup_steps)``; ``beta`` throughout when ``warmup_steps`` is 0.

    ``step`` is the optimizer's step counter (the number of updates done), so
    a resumed run continues the schedule exactly where it stopped.
    """
    if warmup_steps <= 0:
        return tf.constant(float(beta), tf.float32)
    fraction = tf.minimum(tf.cast(step, tf.float32) / float(warmup_steps), 1.0)
    return float(beta) * fraction

"""Loss scaling for mixed precision: every family's optimizers and gradient updates go through this module."""

from __future__ import annotations

import keras
import tensorflow as tf


def with_loss_scaling(optimizer):
    """``optimizer`` wrapped in a ``LossScaleOptimizer`` when the dtype policy is mixed_float16, else as it is.

    Call it where the optimizer is made (inside the strategy scope, after the
    policy is set); train steps then use ``optimizer.scale_loss`` and :func:`apply_gradients`.
    """
    if keras.mixed_precision.dtype_policy().name == "mixed_float16":
        return keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer


def apply_gradients(optimizer, gradients, variables) -> None:
    """``optimizer.apply_gradients``, with one decision for all replicas on skipping an overflowed step.

    Keras 3.15's ``LossScaleOptimizer`` under ``tf.distribute`` decides from
    the first replica's local gradients, before they are summed across
    replicas, whether a step is finite: when only another replica overflowed,
    the sum carries inf/NaN into every replica's weights. Here, when any
    replica's gradients are not finite, every replica's are made NaN, so all
    of them skip the step and the loss scale drops, as on one device.
    """
    replica_context = tf.distribute.get_replica_context()
    if (
        isinstance(optimizer, keras.optimizers.LossScaleOptimizer)
        and replica_context is not None
        and replica_context.num_replicas_in_sync > 1
    ):
        overflowed = 1.0 - tf.cast(optimizer.check_finite(gradients), tf.float32)
        # tf.distribute reduces with SUM or MEAN only: any replica overflowed <=> the sum is > 0.
        any_overflowed = replica_context.all_reduce("SUM", overflowed) > 0
        factor = tf.where(any_overflowed, float("nan"), 1.0)
        gradients = [None if g is None else g * tf.cast(factor, g.dtype) for g in gradients]
    optimizer.apply_gradients(zip(gradients, variables))

"""Loss scaling for mixed precision: every family's optimizers are made through :func:`with_loss_scaling`."""

from __future__ import annotations

import keras
import tensorflow as tf


def with_loss_scaling(optimizer):
    """``optimizer`` wrapped in a :class:`ReplicaConsistentLossScaleOptimizer` under mixed_float16, else as it is.

    Call it where the optimizer is made (inside the strategy scope, after the
    policy is set); train steps then use ``optimizer.scale_loss`` and
    ``optimizer.apply_gradients`` as they would with any Keras optimizer.
    """
    if keras.mixed_precision.dtype_policy().name == "mixed_float16":
        return ReplicaConsistentLossScaleOptimizer(optimizer)
    return optimizer


@keras.saving.register_keras_serializable(package="genkit")
class ReplicaConsistentLossScaleOptimizer(keras.optimizers.LossScaleOptimizer):
    """A ``LossScaleOptimizer`` whose replicas all skip a step when any of them overflowed.

    Keras 3.15's ``LossScaleOptimizer`` under ``tf.distribute`` decides from
    the first replica's local gradients, before they are summed across
    replicas, whether a step is finite: when only another replica overflowed,
    the sum carries inf/NaN into every replica's weights. Here, when any
    replica's gradients are not finite, every replica's are made NaN, so all
    of them skip the step and the loss scale drops, as on one device.
    """

    def apply(self, grads, trainable_variables=None):
        replica_context = tf.distribute.get_replica_context()
        if replica_context is not None and replica_context.num_replicas_in_sync > 1:
            overflowed = 1.0 - tf.cast(self.check_finite(grads), tf.float32)
            # tf.distribute reduces with SUM or MEAN only: any replica overflowed <=> the sum is > 0.
            any_overflowed = replica_context.all_reduce("SUM", overflowed) > 0
            factor = tf.where(any_overflowed, float("nan"), 1.0)
            grads = [None if g is None else g * tf.cast(factor, g.dtype) for g in grads]
        super().apply(grads, trainable_variables)

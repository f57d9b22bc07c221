"""Loss scaling for mixed precision: every family's optimizers go through this one function."""

from __future__ import annotations

import keras


def with_loss_scaling(optimizer):
    """``optimizer`` wrapped in a ``LossScaleOptimizer`` when the dtype policy is mixed_float16, else as it is.

    Call it where the optimizer is made (inside the strategy scope, after the
    policy is set); train steps then use ``optimizer.scale_loss``.
    """
    if keras.mixed_precision.dtype_policy().name == "mixed_float16":
        return keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer

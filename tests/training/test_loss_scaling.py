"""Mixed-precision loss scaling under tf.distribute: one skip decision for every replica."""

from __future__ import annotations

import json

import pytest

from conftest import run_python

OVERFLOW_ON_ONE_REPLICA = """
import json, os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import keras, tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from genkit.training.loss_scaling import ReplicaConsistentLossScaleOptimizer

strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
with strategy.scope():
    weights = keras.Variable([1.0, 2.0])
    optimizer = ReplicaConsistentLossScaleOptimizer(keras.optimizers.SGD(0.5))
    optimizer.build([weights])
initial_scale = float(optimizer.dynamic_scale.numpy())

@tf.function
def step(overflow_replica):
    def replica_step():
        replica = tf.distribute.get_replica_context().replica_id_in_sync_group
        overflowed = tf.constant([float("inf"), 1.0]) * initial_scale
        finite = tf.constant([1.0, 1.0]) * initial_scale
        optimizer.apply_gradients([(tf.where(replica == overflow_replica, overflowed, finite), weights)])
    strategy.run(replica_step)

results = {}
for overflow_replica in (1, 0, -1):  # the second replica overflows, the first, none
    step(tf.constant(overflow_replica))
    results[str(overflow_replica)] = {
        "weights": [float(v) for v in weights.numpy()], "scale": float(optimizer.dynamic_scale.numpy()),
    }
results["initial_scale"] = initial_scale
print(json.dumps(results))
"""


@pytest.mark.slow
def test_an_overflow_on_any_replica_skips_the_step_on_every_replica():
    results = json.loads(run_python(OVERFLOW_ON_ONE_REPLICA).strip().splitlines()[-1])
    scale = results["initial_scale"]
    # Keras alone would apply the first replica's decision (apply) to the summed, infinite gradients.
    assert results["1"] == {"weights": [1.0, 2.0], "scale": scale / 2}
    assert results["0"] == {"weights": [1.0, 2.0], "scale": scale / 4}
    # A finite step applies the sum over the two replicas of their gradients, unscaled by the current scale.
    summed = 2 * scale / (scale / 4)
    assert results["-1"]["weights"] == [1.0 - 0.5 * summed, 2.0 - 0.5 * summed]

"""Choosing the tf.distribute strategy: one device, mirrored devices, or several workers."""

from __future__ import annotations

import json
import os

import tensorflow as tf

from genkit.errors import UserError
from genkit.runtime.cluster import communication_options, slurm_cluster_resolver


def configure_devices(devices: int | None) -> None:
    """With ``devices=N`` and no GPU, splits the CPU into N logical devices.

    Must run before TensorFlow initialises its devices (before any tensor is
    made); it lets the mirrored code paths run and be tested on a CPU.
    """
    if not devices or tf.config.list_physical_devices("GPU"):
        return
    cpu = tf.config.list_physical_devices("CPU")[0]
    current = tf.config.get_logical_device_configuration(cpu)
    if current and len(current) == devices:
        return
    try:
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * devices)
    except RuntimeError:
        raise UserError(
            f"--devices {devices}: TensorFlow's devices were already initialised in this process "
            "with a different count; call genkit.commands.train in a fresh process"
        ) from None


def _mirrored_devices(devices: int | None) -> list[str]:
    gpus = tf.config.list_logical_devices("GPU")
    if gpus:
        chosen = gpus[: devices or len(gpus)]
        if devices and devices > len(gpus):
            raise UserError(f"--devices {devices}: only {len(gpus)} GPU(s) are visible")
    else:
        chosen = tf.config.list_logical_devices("CPU")[: devices or 1]
    return [device.name for device in chosen]


def make_strategy(name: str, devices: int | None = None, cluster: str = "tf_config", cluster_port: int | None = None,
                  collective_timeout: float | None = None) -> tf.distribute.Strategy:
    """``auto`` picks MultiWorkerMirroredStrategy when TF_CONFIG is set (or ``cluster`` is ``slurm``),
    MirroredStrategy for several GPUs (or ``--devices N`` > 1), one device otherwise.

    ``cluster``: where a multi-worker run's cluster comes from, ``tf_config`` (the TF_CONFIG variable) or
    ``slurm`` (srun's SLURM_* variables, ``cluster_port`` the first port of a node's tasks, default 8888);
    see :mod:`genkit.runtime.cluster`. ``collective_timeout``: seconds after which a multi-worker collective
    fails (a worker that is alive but stuck); 0 or None: never.
    """
    if cluster == "slurm":
        if name not in ("auto", "multiworker"):
            raise UserError(f"--cluster slurm: trains with several workers; use --strategy multiworker (or auto), not {name}")
        return tf.distribute.MultiWorkerMirroredStrategy(
            cluster_resolver=slurm_cluster_resolver(cluster_port),
            communication_options=communication_options(collective_timeout),
        )
    has_cluster = bool(os.environ.get("TF_CONFIG"))
    if name == "multiworker" or (name == "auto" and has_cluster):
        if not has_cluster:
            raise UserError("--strategy multiworker: the TF_CONFIG environment variable is not set (or use --cluster slurm)")
        try:
            json.loads(os.environ["TF_CONFIG"])
        except json.JSONDecodeError as error:
            raise UserError(f"TF_CONFIG: not valid JSON ({error.msg})") from None
        return tf.distribute.MultiWorkerMirroredStrategy(communication_options=communication_options(collective_timeout))
    configure_devices(devices)
    if name == "default":
        return tf.distribute.get_strategy()
    mirrored = _mirrored_devices(devices)
    if name == "mirrored" or len(mirrored) > 1:
        return tf.distribute.MirroredStrategy(mirrored)
    if tf.config.list_logical_devices("GPU"):
        return tf.distribute.OneDeviceStrategy(mirrored[0])
    return tf.distribute.get_strategy()


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """Only the chief writes the run folder; other workers write to temporary places."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    if resolver.task_type == "chief":
        return True
    has_chief_task = "chief" in resolver.cluster_spec().as_dict()
    return resolver.task_type == "worker" and resolver.task_id == 0 and not has_chief_task


def describe_strategy(strategy: tf.distribute.Strategy) -> dict:
    """The strategy's public name (the default strategy is "default") and its replica count."""
    name = "default"
    for public_name in ("MultiWorkerMirroredStrategy", "MirroredStrategy", "OneDeviceStrategy"):
        # tf.distribute.MultiWorkerMirroredStrategy's class is named CollectiveAllReduceStrategy.
        if isinstance(strategy, getattr(tf.distribute, public_name)):
            name = public_name
            break
    return {"name": name, "num_replicas": strategy.num_replicas_in_sync}

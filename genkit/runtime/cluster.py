"""Where a multi-worker run's cluster comes from, and what a worker does when another one is lost.

The cluster (``train.cluster``, ``--cluster``):

- ``tf_config``: the ``TF_CONFIG`` environment variable (Kubernetes, Kubeflow's TFJob, or by hand),
  read by TensorFlow's ``TFConfigClusterResolver``;
- ``slurm``: the ``SLURM_*`` variables ``srun`` gives each task, read by TensorFlow's
  ``tf.distribute.cluster_resolver.SlurmClusterResolver``: task ``SLURM_PROCID`` of the step's
  ``SLURM_STEP_NUM_TASKS`` is worker ``SLURM_PROCID``, at ``<node>:<port_base + its rank on the node>``
  (``SLURM_STEP_NODELIST``, ``SLURM_STEP_TASKS_PER_NODE``). TF 2.21's resolver expands Slurm's node list
  itself (it does not call ``scontrol``).

A lost worker: TensorFlow 2.21's MultiWorkerMirroredStrategy runs a coordination service (on worker 0) that
every worker heartbeats; a worker that dies or stops answering is noticed by the others (measured: 1-26 s
from SIGKILL to their exit, sooner when its sockets are reset) and their collectives are aborted. A worker that is alive but stuck (its
heartbeats go on) is caught only by the collective timeout (``train.collective_timeout``, off by default).
Either way the survivors' step fails with a TensorFlow error, turned here into :class:`WorkerLost`: one
line, the last checkpoint kept.

Importing this module does not import TensorFlow (the command line imports it).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil

from genkit.errors import UserError

# What TF 2.21's SlurmClusterResolver reads (SLURM_STEP_*: set by srun for the tasks of a job step).
SLURM_VARIABLES = ("SLURM_PROCID", "SLURM_STEP_NUM_TASKS", "SLURM_STEP_NODELIST", "SLURM_STEP_TASKS_PER_NODE")
SLURM_DEFAULT_PORT = 8888  # SlurmClusterResolver's port_base


class WorkerLost(RuntimeError):
    """Another worker of a multi-worker run died or stopped answering; training stopped, the last checkpoint is kept."""


def slurm_cluster_resolver(port: int | None = None):
    """TensorFlow's ``SlurmClusterResolver`` for this task of the ``srun`` step; a :class:`UserError` outside one.

    GPUs: the resolver counts the node's GPUs (``CUDA_VISIBLE_DEVICES``, else ``nvidia-smi``), gives each
    task on a node an equal share and sets the task's ``CUDA_VISIBLE_DEVICES``. On a node without GPUs
    (no ``nvidia-smi``, or ``CUDA_VISIBLE_DEVICES`` empty) TF's resolver cannot be used as it is: it
    fails to run ``nvidia-smi``, or pairs each task with a GPU that is not there. There each task is
    given one CPU device instead (the cluster and the ports are the resolver's).
    """
    import tensorflow as tf

    for name in SLURM_VARIABLES:
        if not os.environ.get(name):
            raise UserError(f"--cluster slurm: {name} is not set; run under srun (in an sbatch or salloc allocation)")
    port_base = SLURM_DEFAULT_PORT if port is None else port
    try:
        if _node_has_gpus():
            resolver = tf.distribute.cluster_resolver.SlurmClusterResolver(port_base=port_base)
            if resolver._gpus_per_task < 1:  # TF would then fail in cluster_spec() with "range() arg 3 must not be zero"
                raise UserError(
                    f"--cluster slurm: {resolver._gpus_per_node} GPU(s) visible to this task for "
                    f"{max(resolver._task_configuration.values())} tasks on its node; let each task see all of the "
                    "node's GPUs (e.g. --gres=gpu:N, not --gpus-per-task), TensorFlow's resolver shares them out"
                )
        else:
            # One placeholder "GPU" per task (a node has at most the step's tasks) keeps TF's pairing of tasks
            # with GPUs from dropping tasks; nothing is set in the environment, and no GPU is reported.
            resolver = _cpu_slurm_cluster_resolver(
                port_base=port_base, gpus_per_node=int(os.environ["SLURM_STEP_NUM_TASKS"]), gpus_per_task=1,
                auto_set_gpu=False,
            )
        resolver.cluster_spec()  # fails here on a bad node list; with GPUs, sets CUDA_VISIBLE_DEVICES now
    except (RuntimeError, ValueError, OSError) as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise UserError(f"--cluster slurm: TensorFlow's SlurmClusterResolver failed: {first_line}") from None
    return resolver


def _node_has_gpus() -> bool:
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return bool(visible.strip()) and visible.strip() != "-1"
    return shutil.which("nvidia-smi") is not None


def _cpu_slurm_cluster_resolver(**arguments):
    """A SlurmClusterResolver for nodes without GPUs: each task trains on its CPU (it reports no GPU)."""
    import tensorflow as tf

    class CPUSlurmClusterResolver(tf.distribute.cluster_resolver.SlurmClusterResolver):
        def num_accelerators(self, task_type=None, task_id=None, config_proto=None):
            return {}

    return CPUSlurmClusterResolver(**arguments)


def communication_options(collective_timeout: float | None):
    """The strategy's collective options: with ``collective_timeout`` seconds, every collective op fails after that
    long (a worker that is alive but stuck); None: never.

    Off by default: TensorFlow keeps a sleeping thread per collective op for the whole timeout (its
    documentation says so: for debugging); a tiny DCGAN's worker had 123 threads without a timeout and
    2,500-4,800 with 120 s. A worker that dies or freezes is noticed without it (the heartbeats).
    """
    import tensorflow as tf

    return tf.distribute.experimental.CommunicationOptions(timeout_seconds=collective_timeout or None)


def _is_multiworker(strategy) -> bool:
    extended = getattr(strategy, "extended", None)
    return getattr(extended, "_num_workers", 1) > 1 and getattr(strategy, "cluster_resolver", None) is not None


_REMOTE_TASK = re.compile(r"remote target (/job:[\w-]+/replica:\d+/task:\d+)")
_NOT_THE_REASON = ("The error could be", "The tasks have", "Additional GRPC", ":UNKNOWN:", "[[", "RPC:")


def failure_reason(message: str) -> str:
    """The part of TensorFlow's error that says what happened to the other worker, on one line.

    TF 2.21 says, for example, ``Collective ops is aborted by: recvmsg:Connection reset by peer``
    (with ``remote target /job:worker/replica:0/task:1``), ``...: The following tasks are unhealthy
    (stopped sending heartbeats):\\n/job:worker/replica:0/task:1``, ``...: Deadline Exceeded\\nRPC:
    /tensorflow.CoordinationService/Heartbeat`` or ``Collective has timed out during execution``.
    """
    text = message
    if "Detected at node" in text:  # "Graph execution error": where the op was defined (File lines), then the error
        lines = text.splitlines()
        frames = [index for index, line in enumerate(lines) if line.strip().startswith('File "')]
        text = "\n".join(lines[frames[-1] + 1 :] if frames else lines[1:])
    text = text.split("Collective ops is aborted by:", 1)[-1]
    lines = []
    for line in (line.strip() for line in text.splitlines()):
        if not line:
            continue
        if line.startswith(_NOT_THE_REASON):
            if line.startswith("RPC:") and lines:
                lines[-1] += f" ({line[4:].strip()})"
            if line.startswith("[["):
                break
            continue
        lines.append(line)
        if len(lines) == 2:
            break
    reason = " ".join(lines) or "no reason given"
    remote = _REMOTE_TASK.search(message)
    if remote and remote.group(1) not in reason:
        reason += f", from {remote.group(1)}"
    return reason if len(reason) <= 240 else reason[:237] + "..."


def is_worker_failure(error: BaseException) -> bool:
    """Whether a TensorFlow error of a multi-worker step says another worker is gone or not answering."""
    import tensorflow as tf

    if not isinstance(error, tf.errors.OpError):
        return False
    if isinstance(error, (tf.errors.UnavailableError, tf.errors.DeadlineExceededError)):
        return True
    return "collective" in (error.message or "").lower()


@contextlib.contextmanager
def stop_on_lost_worker(strategy, checkpoint):
    """Turns a multi-worker step that failed because another worker is lost into one :class:`WorkerLost` line.

    ``checkpoint`` (a :class:`~genkit.runtime.training_checkpoint.TrainingCheckpoint`) names what is kept.
    Other errors, and every error of a one-worker strategy, pass through unchanged.
    """
    if not _is_multiworker(strategy):
        yield
        return
    try:
        yield
    except Exception as error:
        if not is_worker_failure(error):
            raise
        message = _lost_worker_message(error, strategy, checkpoint)
        checkpoint.close()  # a worker's temporary checkpoints go (the chief's stay)
        raise WorkerLost(message) from error


def _lost_worker_message(error, strategy, checkpoint) -> str:
    reason = failure_reason(error.message or "")
    seconds = getattr(getattr(strategy.extended, "_communication_options", None), "timeout_seconds", None)
    if seconds and "timed out" in reason:
        reason = f"{reason.rstrip('.')} after train.collective_timeout={seconds:g} s"
    if checkpoint.latest is None:
        kept = "no checkpoint was saved yet"
    else:
        epoch, step = int(checkpoint.epoch.numpy()), int(checkpoint.step_in_epoch.numpy())
        position = f"after epoch {epoch}" if step == 0 else f"epoch {epoch + 1}, step {step}"
        where = checkpoint.latest if checkpoint.is_chief else "the chief's run folder"
        kept = f"the last checkpoint ({position}) is kept in {where}"
    return (
        f"lost another worker of the multi-worker run ({reason}); "
        f"training stopped and {kept}; relaunch every worker with --resume"
    )

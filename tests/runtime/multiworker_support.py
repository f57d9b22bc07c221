"""What the multi-worker tests share: two worker processes on this machine (TF_CONFIG or Slurm's variables), their
environments and free ports, the weights both wrote, and their output lines as they arrive.

The tests are split by topic (test_multiworker.py, test_slurm.py, test_worker_lost.py, test_preemption.py,
test_stuck_worker.py, test_mirrored_devices.py) so that pytest-xdist's two workers share them: each file runs
whole on one worker (``--dist loadfile``).
"""

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

from conftest import TINY_DCGAN, tiny_set_flags


STEPS_PER_EPOCH = 32  # 1024 images, batch 32
PROGRESS = re.compile(r"^epoch (\d+)/\d+ step (\d+)/\d+ ")


def write_images_1024(folder: Path) -> Path:
    """1024 embedded Fashion-MNIST images: 32 steps per epoch at batch 32, time to kill a worker mid-epoch."""
    from genkit.data import load_image_dataset

    data = load_image_dataset("embedded")
    path = folder / "images-1024.npz"
    np.savez(
        path, x_train=data.train_images[:1024], y_train=data.train_labels[:1024],
        x_test=data.test_images[:64], y_test=data.test_labels[:64], label_names=np.array(data.label_names),
    )
    return path


def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def free_port_pair() -> int:
    """A port P with P and P + 1 free: Slurm's resolver gives the tasks of a node consecutive ports."""
    for _ in range(100):
        (port,) = free_ports(1)
        try:
            with socket.socket() as next_one:
                next_one.bind(("127.0.0.1", port + 1))
            return port
        except OSError:
            continue
    raise RuntimeError("no two consecutive free ports")


def tf_config_environments():
    workers = [f"127.0.0.1:{port}" for port in free_ports(2)]
    return [
        {"TF_CONFIG": json.dumps({"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}})}
        for index in range(2)
    ]


def slurm_environments(host="localhost"):
    """What srun sets for each of 2 tasks of a job step on one node (`srun --nodes 1 --ntasks 2`).

    TF 2.21's SlurmClusterResolver reads SLURM_PROCID, SLURM_STEP_NUM_TASKS, SLURM_STEP_NODELIST and
    SLURM_STEP_TASKS_PER_NODE, and expands the node list itself: it does not call scontrol (its
    docstring still says so), so no fake scontrol is needed. The rest are here as srun sets them.
    """
    shared = {
        "SLURM_JOB_ID": "4242", "SLURM_STEP_ID": "0", "SLURM_NNODES": "1", "SLURM_NTASKS": "2",
        "SLURM_JOB_NODELIST": host, "SLURM_NODELIST": host, "SLURM_TASKS_PER_NODE": "2",
        "SLURM_STEP_NUM_NODES": "1", "SLURM_STEP_NUM_TASKS": "2", "SLURM_STEP_NODELIST": host,
        "SLURM_STEP_TASKS_PER_NODE": "2", "SLURM_NODEID": "0", "SLURMD_NODENAME": host,
    }
    return [{**shared, "SLURM_PROCID": str(index), "SLURM_LOCALID": str(index)} for index in range(2)]


def worker_environment(cluster_env: dict, extra: dict) -> dict:
    entry_folder = str(Path(__file__).parent)
    environment = {name: value for name, value in os.environ.items() if not name.startswith(("SLURM_", "TF_CONFIG"))}
    return {
        **environment, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONUNBUFFERED": "1",
        "PYTHONPATH": os.pathsep.join([entry_folder, os.environ.get("PYTHONPATH", "")]), **cluster_env, **extra,
    }


def start_entry_workers(tmp_path, dataset, run_dir, extra_env, model, set_flags, cluster_envs):
    entry = Path(__file__).with_name("multiworker_entry.py")
    return [
        subprocess.Popen(
            [sys.executable, str(entry), model, str(run_dir), dataset, str(tmp_path / f"w{index}.npz"), *set_flags],
            env=worker_environment(cluster_envs[index], extra_env[index]),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for index in range(2)
    ]


def assert_identical_weights(tmp_path):
    chief, worker = np.load(tmp_path / "w0.npz"), np.load(tmp_path / "w1.npz")
    assert len(chief.files) == len(worker.files) > 0
    for name in chief.files:
        np.testing.assert_array_equal(chief[name], worker[name])


def run_two_workers(tmp_path, dataset, run_dir, extra_env=({}, {}), model="dcgan", set_flags=TINY_DCGAN,
                     cluster_envs=None):
    processes = start_entry_workers(
        tmp_path, dataset, run_dir, extra_env, model, set_flags, cluster_envs or tf_config_environments(),
    )
    outputs = []
    try:
        for process in processes:
            stdout, stderr = process.communicate(timeout=300)
            assert process.returncode == 0, stderr[-3000:]
            outputs.append(stdout.strip().splitlines()[-1].split())
    finally:
        for process in processes:
            process.kill()
    assert_identical_weights(tmp_path)
    return outputs


class OutputLines:
    """Collects a process's output lines (with the time each arrived) on a thread."""

    def __init__(self, stream):
        self.lines: list[tuple[float, str]] = []
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream):
        for line in stream:
            self.lines.append((time.monotonic(), line.rstrip("\n")))

    def text(self) -> list[str]:
        self._thread.join(timeout=30)
        return [line for _, line in self.lines]


def start_cli_workers(run_dir, dataset, epochs, cluster_envs, extra=()):
    processes = []
    for index in range(2):
        environment = worker_environment(cluster_envs[index], {})
        environment.pop("TF_CPP_MIN_LOG_LEVEL")  # as users run it: the command line quiets TensorFlow itself
        processes.append(subprocess.Popen(
            [sys.executable, "-m", "genkit", "train", "dcgan", "--dataset", dataset, "--epochs", str(epochs),
             "--batch-size", "32", "--out", str(run_dir), "--strategy", "multiworker", *tiny_set_flags(),
             "--set", "train.log_every_seconds=0.01", *extra],  # a line after (almost) every step of the chief
            env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        ))
    return processes


def global_step(line: str) -> int | None:
    match = PROGRESS.match(line)
    return (int(match.group(1)) - 1) * STEPS_PER_EPOCH + int(match.group(2)) if match else None

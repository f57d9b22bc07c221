"""tf.distribute: MirroredStrategy on logical CPU devices matches one device; two workers agree (TF_CONFIG or
Slurm), and a killed or stuck worker stops the other in one line, from where both resume."""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import keras
import numpy as np
import pytest

from conftest import TINY_DCGAN, read_json, run_cli, run_genkit, tiny_set_flags

import genkit.models  # noqa: F401  (registers genkit's serialisable classes)

# Dropout off: its masks are the only randomness not drawn from the global-batch noise.
NO_DROPOUT = ["dropout_rate=0"]


def _generator_weights(run_dir: Path):
    model = keras.saving.load_model(run_dir / "model.keras")
    return [np.asarray(w) for w in model.generator.weights]


@pytest.mark.slow
def test_two_mirrored_devices_match_one_device(tmp_path, tiny_npz):
    runs = {}
    for devices in (1, 2):
        runs[devices] = tmp_path / f"devices-{devices}"
        run_genkit(
            "train", "dcgan", "--dataset", f"npz:{tiny_npz}", "--epochs", 1, "--batch-size", 64,
            "--devices", devices, "--out", runs[devices], "--quiet", *tiny_set_flags(NO_DROPOUT),
        )
    strategy = read_json(runs[2] / "genkit.json")["training"]["strategy"]
    assert strategy == {"name": "MirroredStrategy", "num_replicas": 2}
    one, two = _generator_weights(runs[1]), _generator_weights(runs[2])
    assert len(one) == len(two)
    for a, b in zip(one, two):
        np.testing.assert_allclose(a, b, atol=1e-4, rtol=1e-3)
    assert read_json(runs[1] / "genkit.json")["training"]["global_steps"] == 4


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def _free_port_pair() -> int:
    """A port P with P and P + 1 free: Slurm's resolver gives the tasks of a node consecutive ports."""
    for _ in range(100):
        (port,) = _free_ports(1)
        try:
            with socket.socket() as next_one:
                next_one.bind(("127.0.0.1", port + 1))
            return port
        except OSError:
            continue
    raise RuntimeError("no two consecutive free ports")


def _tf_config_environments():
    workers = [f"127.0.0.1:{port}" for port in _free_ports(2)]
    return [
        {"TF_CONFIG": json.dumps({"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}})}
        for index in range(2)
    ]


def _slurm_environments(host="localhost"):
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


def _worker_environment(cluster_env: dict, extra: dict) -> dict:
    entry_folder = str(Path(__file__).parent)
    environment = {name: value for name, value in os.environ.items() if not name.startswith(("SLURM_", "TF_CONFIG"))}
    return {
        **environment, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONUNBUFFERED": "1",
        "PYTHONPATH": os.pathsep.join([entry_folder, os.environ.get("PYTHONPATH", "")]), **cluster_env, **extra,
    }


def _start_entry_workers(tmp_path, dataset, run_dir, extra_env, model, set_flags, cluster_envs):
    entry = Path(__file__).with_name("multiworker_entry.py")
    return [
        subprocess.Popen(
            [sys.executable, str(entry), model, str(run_dir), dataset, str(tmp_path / f"w{index}.npz"), *set_flags],
            env=_worker_environment(cluster_envs[index], extra_env[index]),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for index in range(2)
    ]


def _assert_identical_weights(tmp_path):
    chief, worker = np.load(tmp_path / "w0.npz"), np.load(tmp_path / "w1.npz")
    assert len(chief.files) == len(worker.files) > 0
    for name in chief.files:
        np.testing.assert_array_equal(chief[name], worker[name])


def _run_two_workers(tmp_path, dataset, run_dir, extra_env=({}, {}), model="dcgan", set_flags=TINY_DCGAN,
                     cluster_envs=None):
    processes = _start_entry_workers(
        tmp_path, dataset, run_dir, extra_env, model, set_flags, cluster_envs or _tf_config_environments(),
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
    _assert_identical_weights(tmp_path)
    return outputs


@pytest.mark.slow
def test_two_workers_train_one_model(tmp_path, tiny_npz):
    run_dir = tmp_path / "run"
    outputs = _run_two_workers(tmp_path, f"npz:{tiny_npz}", run_dir)
    assert outputs == [["chief", "completed", "8"], ["worker", "completed", "8"]]

    metadata = read_json(run_dir / "genkit.json")
    assert metadata["training"]["strategy"] == {"name": "MultiWorkerMirroredStrategy", "num_replicas": 2}
    assert metadata["training"]["global_steps"] == 256 // 32
    for name in ("model.keras", "config.json", "history.json", "samples.png", "serving/1/saved_model.pb"):
        assert (run_dir / name).exists(), name
    # Only the chief wrote: no temporary files or worker checkpoints in the run folder.
    assert sorted(p.name for p in run_dir.iterdir() if p.name.startswith(".")) == []


@pytest.mark.slow
def test_workers_stop_together_and_resume_together(tmp_path, tiny_npz):
    # Only the second worker has a time budget (spent after its first step); the chief must
    # stop after the same step, or the collective ops of the next step would hang.
    run_dir = tmp_path / "run"
    outputs = _run_two_workers(
        tmp_path, f"npz:{tiny_npz}", run_dir,
        extra_env=({"GENKIT_TEST_EPOCHS": "2"}, {"GENKIT_TEST_EPOCHS": "2", "GENKIT_TEST_TIME_LIMIT": "0.00001"}),
    )
    assert outputs[0][:2] == ["chief", "other_worker"] and outputs[1][:2] == ["worker", "time_limit"]
    assert outputs[0][2] == outputs[1][2] == "1"
    assert read_json(run_dir / "genkit.json")["training"]["global_steps"] == 1

    # Both resume from the chief's checkpoint (the other worker's own went to a temporary folder).
    resume = {"GENKIT_TEST_EPOCHS": "2", "GENKIT_TEST_RESUME": "1"}
    outputs = _run_two_workers(tmp_path, f"npz:{tiny_npz}", run_dir, extra_env=(resume, resume))
    assert outputs == [["chief", "completed", "16"], ["worker", "completed", "16"]]
    assert read_json(run_dir / "genkit.json")["training"]["global_steps"] == 16


@pytest.mark.slow
def test_workers_share_one_learning_rate_when_only_one_has_a_time_limit(tmp_path, tiny_text):
    # char-lstm's rate decays with the training's progress: by steps for the chief, by the clock
    # for the worker with a budget. Both must use the same (mean) progress, or their weights part.
    run_dir = tmp_path / "run"
    budget = {"GENKIT_TEST_EPOCHS": "1000", "GENKIT_TEST_TIME_LIMIT": "0.25"}
    outputs = _run_two_workers(
        tmp_path, f"text:{tiny_text}", run_dir, extra_env=({"GENKIT_TEST_EPOCHS": "1000"}, budget),
        model="char-lstm", set_flags=["units=16", "embedding_dim=8", "sequence_length=16"],
    )
    assert outputs[0][:2] == ["chief", "other_worker"] and outputs[1][:2] == ["worker", "time_limit"]
    assert outputs[0][2] == outputs[1][2] and int(outputs[0][2]) > 1


# -- Slurm ------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_two_slurm_tasks_train_one_model(tmp_path, tiny_npz):
    # Two "srun" tasks on one node (localhost): the cluster comes from SLURM_* through TensorFlow's
    # SlurmClusterResolver (ports P and P + 1), not from TF_CONFIG (removed from their environment).
    run_dir = tmp_path / "run"
    port = _free_port_pair()
    outputs = _run_two_workers(
        tmp_path, f"npz:{tiny_npz}", run_dir, cluster_envs=_slurm_environments(),
        set_flags=[*TINY_DCGAN, "train.cluster=slurm", f"train.cluster_port={port}"],
    )
    assert outputs == [["chief", "completed", "8"], ["worker", "completed", "8"]]  # SLURM_PROCID 0 is the chief
    metadata = read_json(run_dir / "genkit.json")
    assert metadata["training"]["strategy"] == {"name": "MultiWorkerMirroredStrategy", "num_replicas": 2}
    assert metadata["train"]["cluster"] == "slurm"


def test_slurm_resolver_reads_the_step_variables(monkeypatch):
    from genkit.runtime.cluster import slurm_cluster_resolver

    for name, value in _slurm_environments("node[07-08]")[1].items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("SLURM_STEP_NUM_TASKS", "4")
    monkeypatch.setenv("SLURM_STEP_NODELIST", "node[07-08]")
    monkeypatch.setenv("SLURM_STEP_TASKS_PER_NODE", "2(x2)")
    monkeypatch.setenv("SLURM_PROCID", "3")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")  # a node without GPUs
    resolver = slurm_cluster_resolver(port=9000)
    assert resolver.cluster_spec().as_dict() == {
        "worker": ["node07:9000", "node07:9001", "node08:9000", "node08:9001"]
    }
    assert (resolver.task_type, resolver.task_id) == ("worker", 3)
    assert resolver.num_accelerators() == {}
    assert os.environ["CUDA_VISIBLE_DEVICES"] == ""  # left alone


def test_slurm_resolver_shares_a_nodes_gpus_out(monkeypatch):
    # TF's resolver, as it is, where GPUs are visible (no GPU is touched: only the environment is read and set).
    from genkit.errors import UserError
    from genkit.runtime.cluster import slurm_cluster_resolver

    for name, value in _slurm_environments()[1].items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1,2,3")
    resolver = slurm_cluster_resolver()
    assert resolver.cluster_spec().as_dict() == {"worker": ["localhost:8888", "localhost:8889"]}
    assert resolver.num_accelerators() == {"GPU": 2}
    assert os.environ["CUDA_VISIBLE_DEVICES"] == "2,3"  # task 1's half

    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")  # srun --gpus-per-task=1: each task sees only its own
    with pytest.raises(UserError, match=r"1 GPU\(s\) visible to this task for 2 tasks on its node"):
        slurm_cluster_resolver()


def test_cluster_slurm_outside_srun_is_one_line(monkeypatch, tmp_path, tiny_npz):
    for name in list(os.environ):
        if name.startswith("SLURM_"):
            monkeypatch.delenv(name)
    result = run_cli(
        "train", "dcgan", "--dataset", f"npz:{tiny_npz}", "--cluster", "slurm", "--out", tmp_path / "run", check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "genkit train: error: --cluster slurm: SLURM_PROCID is not set; run under srun (in an sbatch or salloc allocation)"
    )
    assert not (tmp_path / "run").exists()


# -- a lost worker ----------------------------------------------------------------------------------

STEPS_PER_EPOCH = 32  # 1024 images, batch 32
PROGRESS = re.compile(r"^epoch (\d+)/\d+ step (\d+)/\d+ ")


@pytest.fixture(scope="module")
def npz_1024(tmp_path_factory) -> Path:
    """1024 embedded Fashion-MNIST images: 32 steps per epoch at batch 32, time to kill a worker mid-epoch."""
    from genkit.data import load_image_dataset

    data = load_image_dataset("embedded")
    path = tmp_path_factory.mktemp("data") / "images-1024.npz"
    np.savez(
        path, x_train=data.train_images[:1024], y_train=data.train_labels[:1024],
        x_test=data.test_images[:64], y_test=data.test_labels[:64], label_names=np.array(data.label_names),
    )
    return path


class _Lines:
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


def _start_cli_workers(run_dir, dataset, epochs, cluster_envs, extra=()):
    processes = []
    for index in range(2):
        environment = _worker_environment(cluster_envs[index], {})
        environment.pop("TF_CPP_MIN_LOG_LEVEL")  # as users run it: the command line quiets TensorFlow itself
        processes.append(subprocess.Popen(
            [sys.executable, "-m", "genkit", "train", "dcgan", "--dataset", dataset, "--epochs", str(epochs),
             "--batch-size", "32", "--out", str(run_dir), "--strategy", "multiworker", *tiny_set_flags(),
             "--set", "train.log_every_seconds=0.01", *extra],  # a line after (almost) every step of the chief
            env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        ))
    return processes


def _global_step(line: str) -> int | None:
    match = PROGRESS.match(line)
    return (int(match.group(1)) - 1) * STEPS_PER_EPOCH + int(match.group(2)) if match else None


_DEFINED_AT = (
    "Graph execution error:\n\nDetected at node CollectiveReduceV2 defined at (most recent call last):\n"
    '  File "<frozen runpy>", line 198, in _run_module_as_main\n\n  File "/work/genkit/runtime/trainer.py", line 149, '
    "in distributed_step\n\n"
)
_RESTART = "The error could be from a previous operation. Restart your program to reset.\n\t [[{{node CollectiveReduceV2}}]]"


@pytest.mark.parametrize("message, reason", [
    # TF 2.21's errors on the survivor, as seen in the tests below (a killed worker, a killed chief, a stuck worker)
    (_DEFINED_AT + "Collective ops is aborted by: recvmsg:Connection reset by peer\nAdditional GRPC error information "
     "from remote target /job:worker/replica:0/task:1 while calling /tensorflow.WorkerService/RecvBuf:\n:UNKNOWN:Error "
     'received from peer  {grpc_status:14, grpc_message:"recvmsg:Connection reset by peer"}\n' + _RESTART,
     "recvmsg:Connection reset by peer, from /job:worker/replica:0/task:1"),
    ("Collective ops is aborted by: Error reported from /job:worker/task:1: The following tasks are unhealthy (stopped "
     "sending heartbeats):\n/job:worker/replica:0/task:1\nThe tasks have crashed. Check the task logs for an earlier "
     "error.\n" + _RESTART,
     "Error reported from /job:worker/task:1: The following tasks are unhealthy (stopped sending heartbeats): "
     "/job:worker/replica:0/task:1"),
    (_DEFINED_AT + "Collective ops is aborted by: Deadline Exceeded\nRPC: /tensorflow.CoordinationService/Heartbeat\n"
     + _RESTART, "Deadline Exceeded (/tensorflow.CoordinationService/Heartbeat)"),
    (_DEFINED_AT + "Collective has timed out during execution.\n\t [[{{node CollectiveReduceV2}}]] [Op:__inference_f_1]",
     "Collective has timed out during execution."),
])
def test_the_reason_a_worker_was_lost_is_one_short_line(message, reason):
    from genkit.runtime.cluster import failure_reason

    assert failure_reason(message) == reason


@pytest.mark.slow
@pytest.mark.parametrize("victim", [1, 0], ids=["worker-killed", "chief-killed"])
def test_a_killed_worker_stops_the_other_and_both_resume(tmp_path, npz_1024, victim):
    from genkit.runtime.training_checkpoint import TrainingCheckpoint

    run_dir, dataset, epochs = tmp_path / "run", f"npz:{npz_1024}", 3
    processes = _start_cli_workers(run_dir, dataset, epochs, _tf_config_environments())
    try:
        chief_out, *errors = _Lines(processes[0].stdout), _Lines(processes[0].stderr), _Lines(processes[1].stderr)
        # Kill only once the chief is a few steps into epoch 2: the epoch-1 checkpoint is saved, training is moving.
        deadline = time.monotonic() + 400
        while not any((_global_step(line) or 0) >= STEPS_PER_EPOCH + 3 for _, line in list(chief_out.lines)):
            assert all(process.poll() is None for process in processes), errors[0].text()[-20:] + errors[1].text()[-20:]
            assert time.monotonic() < deadline, "the workers did not reach epoch 2"
            time.sleep(0.2)
        processes[victim].send_signal(signal.SIGKILL)
        killed_at = time.monotonic()
        survivor = processes[1 - victim]
        survivor.wait(timeout=180)  # TF's heartbeats notice a dead worker in ~10 s; generous for a loaded machine
        detection_seconds = time.monotonic() - killed_at
    finally:
        for process in processes:
            process.kill()
            process.wait()

    stderr = errors[1 - victim].text()
    assert survivor.returncode == 1, "\n".join(stderr[-30:])
    genkit_lines = [line for line in stderr if line.startswith("genkit train:")]
    assert len(genkit_lines) == 1 and not any(line.startswith("Traceback") for line in stderr), "\n".join(stderr[-30:])
    assert genkit_lines[0].startswith("genkit train: error: lost another worker of the multi-worker run (")
    assert genkit_lines[0].endswith("; relaunch every worker with --resume")

    # The chief's last checkpoint is intact (read back below by both workers): epoch 1's end or later.
    position = TrainingCheckpoint.saved_position(run_dir / "checkpoints")
    assert position is not None and position[0] >= 1
    assert not (run_dir / "genkit.json").exists()
    stepped = [_global_step(line) for moment, line in chief_out.lines if moment <= killed_at and _global_step(line)]
    print(
        f"victim {victim}: survivor exited {detection_seconds:.1f} s after SIGKILL; last step shown before the kill "
        f"{max(stepped)}, checkpoint at step {position[0] * STEPS_PER_EPOCH + position[1]}: "
        f"~{max(stepped) - position[0] * STEPS_PER_EPOCH - position[1]} steps lost; {genkit_lines[0]}"
    )

    # Both relaunched with --resume continue from the chief's checkpoint to one complete run folder.
    resume = {"GENKIT_TEST_EPOCHS": str(epochs), "GENKIT_TEST_RESUME": "1"}
    outputs = _run_two_workers(tmp_path, dataset, run_dir, extra_env=(resume, resume))
    total = str(epochs * STEPS_PER_EPOCH)
    assert outputs == [["chief", "completed", total], ["worker", "completed", total]]
    metadata = read_json(run_dir / "genkit.json")
    assert metadata["training"]["stop_reason"] == "completed"
    assert metadata["training"]["epochs_completed"] == epochs
    assert [record["epoch"] for record in read_json(run_dir / "history.json")] == list(range(1, epochs + 1))
    assert sorted(p.name for p in run_dir.iterdir() if p.name.startswith(".")) == []


@pytest.mark.slow
def test_sigterm_to_every_worker_saves_one_checkpoint_and_both_exit_0(tmp_path, npz_1024):
    """Pre-emption: a cluster manager sends SIGTERM to every worker at once. They agree on the step to stop
    after, save one checkpoint there, finish the run folder and exit 0; relaunched, both continue from it."""
    from genkit.runtime.training_checkpoint import TrainingCheckpoint

    run_dir, dataset, epochs = tmp_path / "run", f"npz:{npz_1024}", 3
    processes = _start_cli_workers(run_dir, dataset, epochs, _tf_config_environments(), ["--checkpoint-every", "8"])
    try:
        chief_out, *errors = _Lines(processes[0].stdout), _Lines(processes[0].stderr), _Lines(processes[1].stderr)
        deadline = time.monotonic() + 400
        while not any((_global_step(line) or 0) >= 5 for _, line in list(chief_out.lines)):
            assert all(process.poll() is None for process in processes), errors[0].text()[-20:] + errors[1].text()[-20:]
            assert time.monotonic() < deadline, "the workers did not start stepping"
            time.sleep(0.2)
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            process.wait(timeout=180)
    finally:
        for process in processes:
            process.kill()
            process.wait()
    for process, lines in zip(processes, errors):
        text = lines.text()
        assert process.returncode == 0, "\n".join(text[-30:])
        assert any("received SIGTERM" in line for line in text) and not any(l.startswith("Traceback") for l in text)

    training = read_json(run_dir / "genkit.json")["training"]
    epoch, step = TrainingCheckpoint.saved_position(run_dir / "checkpoints")
    assert training["stop_reason"] == "signal" and 0 < training["global_steps"] < epochs * STEPS_PER_EPOCH
    assert epoch * STEPS_PER_EPOCH + step == training["global_steps"], "the checkpoint is where both stopped"

    resume = {"GENKIT_TEST_EPOCHS": str(epochs), "GENKIT_TEST_RESUME": "1"}
    outputs = _run_two_workers(tmp_path, dataset, run_dir, extra_env=(resume, resume))  # identical weights checked
    total = str(epochs * STEPS_PER_EPOCH)
    assert outputs == [["chief", "completed", total], ["worker", "completed", total]]


@pytest.mark.slow
def test_a_stuck_worker_is_timed_out_by_the_other(tmp_path, tiny_npz):
    # Worker 1 stops answering after its 2nd step but lives on (TensorFlow's heartbeats go on: only the
    # collective timeout can tell); the chief's collective fails after train.collective_timeout.
    timeout, stall = 30, 100
    set_flags = [*TINY_DCGAN, f"train.collective_timeout={timeout}"]
    stalled = {"GENKIT_TEST_STALL_AFTER_STEPS": "2", "GENKIT_TEST_STALL_SECONDS": str(stall)}
    processes = _start_entry_workers(
        tmp_path, f"npz:{tiny_npz}", tmp_path / "run", ({}, stalled), "dcgan", set_flags, _tf_config_environments(),
    )
    try:
        errors = [_Lines(process.stderr) for process in processes]
        deadline = time.monotonic() + 400
        while not any("stalling after step 2" in line for _, line in list(errors[1].lines)):
            assert all(process.poll() is None for process in processes), errors[0].text()[-20:] + errors[1].text()[-20:]
            assert time.monotonic() < deadline, "the workers did not reach step 2"
            time.sleep(0.2)
        stalled_at = time.monotonic()
        processes[0].wait(timeout=timeout + 120)
        chief_seconds = time.monotonic() - stalled_at
        # Once it answers again, the stuck worker finds the chief gone and stops too.
        processes[1].wait(timeout=stall + 120)
    finally:
        for process in processes:
            process.kill()
            process.wait()
    for index, process in enumerate(processes):
        lost = [line for line in errors[index].text() if line.startswith("genkit.runtime.cluster.WorkerLost: ")]
        assert process.returncode == 1 and len(lost) == 1, "\n".join(errors[index].text()[-30:])
        if index == 0:
            assert f"(Collective has timed out during execution after train.collective_timeout={timeout} s)" in lost[0]
    assert chief_seconds >= timeout - 1
    print(f"stuck worker: the chief stopped {chief_seconds:.1f} s after the stall began (timeout {timeout} s)")

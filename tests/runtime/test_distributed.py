"""tf.distribute: MirroredStrategy on logical CPU devices matches one device; two workers agree."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from conftest import TINY_DCGAN, read_json, run_genkit, tiny_set_flags

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


def _run_two_workers(tmp_path, dataset, run_dir, extra_env=({}, {}), model="dcgan", set_flags=TINY_DCGAN):
    workers = [f"127.0.0.1:{port}" for port in _free_ports(2)]
    entry = Path(__file__).with_name("multiworker_entry.py")
    processes = []
    for index in range(2):
        environment = {
            **os.environ,
            "TF_CONFIG": json.dumps({"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}),
            "TF_CPP_MIN_LOG_LEVEL": "2",
            "PYTHONPATH": os.pathsep.join([str(entry.parent), os.environ.get("PYTHONPATH", "")]),
            **extra_env[index],
        }
        processes.append(
            subprocess.Popen(
                [sys.executable, str(entry), model, str(run_dir), dataset, str(tmp_path / f"w{index}.npz"),
                 *set_flags],
                env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            )
        )
    outputs = []
    try:
        for process in processes:
            stdout, stderr = process.communicate(timeout=240)
            assert process.returncode == 0, stderr[-3000:]
            outputs.append(stdout.strip().splitlines()[-1].split())
    finally:
        for process in processes:
            process.kill()
    chief, worker = np.load(tmp_path / "w0.npz"), np.load(tmp_path / "w1.npz")
    assert len(chief.files) == len(worker.files) > 0
    for name in chief.files:
        np.testing.assert_array_equal(chief[name], worker[name])
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

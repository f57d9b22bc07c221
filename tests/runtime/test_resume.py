"""Stopping and resuming: --time-limit, SIGTERM, --resume continuing exactly, divergence."""

import signal
import subprocess
import sys
import time

import pytest

from conftest import (
    assert_resumed_like_straight, read_json, run_cli, run_genkit, run_genkit_sessions, tiny_set_flags,
    without_step_race,
)
from genkit.runtime.run_lock import LOCK_FILE


def _train_arguments(tiny_npz, out, *extra):
    return [
        "train", "dcgan", "--dataset", f"npz:{tiny_npz}", "--batch-size", 64, "--epochs", 2,
        "--out", out, "--quiet", *tiny_set_flags(), *extra,
    ]


def _train(tiny_npz, out, *extra, check=True):
    return run_genkit(*_train_arguments(tiny_npz, out, *extra), check=check)


@pytest.mark.slow
def test_time_limit_then_resume_continues_exactly_where_it_stopped(tmp_path, tiny_npz):
    """End to end, across processes: a run stopped by its time limit and resumed ends like a straight run.

    Within RESUME_TOLERANCE (measured: see conftest.py); the restored state, the next batch and the
    next step are checked bit for bit in one process by tests/runtime/test_training_checkpoint.py.
    """
    straight, stopped = tmp_path / "straight", tmp_path / "stopped"
    # This process trains straight through, then another run that a budget spent after its first step stops.
    with without_step_race():
        run_cli(*_train_arguments(tiny_npz, straight))
        run_cli(*_train_arguments(tiny_npz, stopped, "--time-limit", "0.00001"))
    metadata = read_json(stopped / "genkit.json")
    assert metadata["training"]["stop_reason"] == "time_limit"
    assert metadata["training"]["global_steps"] == 1  # the run folder is complete, mid-epoch
    assert (stopped / "model.keras").is_file() and (stopped / "serving" / "1").is_dir()
    finished = (straight / "genkit.json").read_bytes()

    # A fresh process resumes it, then asks the finished straight run for more epochs than it has.
    (resumed, resume_errors), (refused, stderr) = run_genkit_sessions(
        _train_arguments(tiny_npz, stopped, "--resume"), _train_arguments(tiny_npz, straight, "--resume"),
        check=False,
    )
    assert resumed == 0, resume_errors[-3000:]
    metadata = read_json(stopped / "genkit.json")
    assert metadata["training"]["stop_reason"] == "completed"
    assert metadata["training"]["global_steps"] == 2 * (256 // 64)
    assert metadata["training"]["steps_this_session"] == 2 * (256 // 64) - 1
    assert (stopped / "serving" / "2").is_dir()  # a new TF Serving version; version 1 is kept
    assert_resumed_like_straight(stopped, straight)

    # Nothing left to train: a clear error, and the finished run is left as it is.
    assert refused == 2 and "already trained 2 epochs; pass --epochs N with N > 2" in stderr
    assert (straight / "genkit.json").read_bytes() == finished


@pytest.mark.slow
def test_resume_refuses_to_change_what_the_run_computes(tmp_path, tiny_npz, trained_run):
    process = run_genkit("train", "dcgan", "--resume", "--out", trained_run, "--batch-size", 32, check=False)
    assert process.returncode == 2 and "'batch_size' cannot change on resume" in process.stderr
    process = run_genkit("train", "dcgan", "--resume", "--out", trained_run, "--set", "latent_dim=4", check=False)
    assert process.returncode == 2 and "'latent_dim' cannot change on resume" in process.stderr
    process = run_genkit("train", "dcgan", "--resume", "--out", tmp_path, check=False)
    assert process.returncode == 2 and "not a run folder" in process.stderr


@pytest.mark.slow
def test_sigterm_saves_a_checkpoint_and_exits_cleanly(tmp_path, tiny_npz):
    out = tmp_path / "run"
    command = [
        sys.executable, "-m", "genkit", "train", "dcgan", "--dataset", f"npz:{tiny_npz}", "--batch-size", "64",
        "--epochs", "100000", "--out", str(out), "--quiet", *tiny_set_flags(),
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    # The first checkpoint folder appears with the first save (ckpt-1 itself is soon rotated out).
    while not any((out / "checkpoints").glob("ckpt-*/manifest.json")):
        assert process.poll() is None and time.monotonic() < deadline, process.communicate()[1][-2000:]
        time.sleep(0.2)
    # The trainer holds the run folder: a second writer is refused, naming it.
    assert read_json(out / LOCK_FILE)["pid"] == process.pid
    refused = run_cli("train", "dcgan", "--resume", "--out", out, "--epochs", 100001, check=False)
    assert refused.returncode == 2 and f"in use by 'genkit train dcgan' (pid {process.pid} on" in refused.stderr
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 0, stderr[-2000:]
    assert "received SIGTERM" in stderr
    assert not (out / LOCK_FILE).exists()
    metadata = read_json(out / "genkit.json")
    assert metadata["training"]["stop_reason"] == "signal"
    assert 1 <= metadata["training"]["epochs_completed"] < 100000
    assert (out / "model.keras").is_file()


@pytest.mark.slow
def test_a_diverging_run_stops_with_a_clear_message_and_stays_incomplete(tmp_path, tiny_npz):
    out = tmp_path / "run"
    process = _train(tiny_npz, out, "--set", "discriminator_learning_rate=1e30", "--set", "generator_learning_rate=1e30",
                     "--epochs", "3", check=False)
    assert process.returncode == 1, process.stderr
    assert "training diverged" in process.stderr and "Traceback" not in process.stderr
    assert not (out / "genkit.json").exists()
    assert (out / "config.json").exists()

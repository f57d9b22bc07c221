"""The trainer's progress output: one line per epoch where standard output is a log, not a terminal,
and plain progress lines within an epoch every ``train.log_every_seconds``."""

import json

import pytest

from conftest import run_cli, tiny_set_flags
from genkit.config import TrainConfig
from genkit.errors import UserError


def test_a_log_gets_one_line_per_epoch_not_a_live_progress_bar(tmp_path, tiny_npz):
    result = run_cli("train", "dcgan", "--dataset", f"npz:{tiny_npz}", "--epochs", 2, "--batch-size", 64,
                     "--out", tmp_path / "run", *tiny_set_flags())
    assert "\r" not in result.stdout and "\b" not in result.stdout
    lines = result.stdout.splitlines()
    for epoch in (1, 2):
        header = lines.index(f"Epoch {epoch}/2")
        assert lines[header + 1].startswith("4/4 - ") and "d_loss: " in lines[header + 1], lines[header : header + 2]


# -- progress lines every N seconds (train.log_every_seconds) ---------------------------------------


class _FakeClock:
    """A clock that moves only when told to."""

    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


class _Model:
    example_unit = "images"


def _progress_lines(every_seconds=10.0, batch_size=64, steps=300, epochs=50):
    import io

    from genkit.runtime.progress_lines import ProgressLines

    clock, stream = _FakeClock(), io.StringIO()
    callback = ProgressLines(every_seconds, batch_size, clock=clock, stream=stream)
    callback.set_model(_Model())
    callback.set_params({"epochs": epochs, "steps": steps, "verbose": 2})
    return callback, clock, stream


def test_progress_lines_come_at_most_every_n_seconds_with_the_metrics_and_rate():
    callback, clock, stream = _progress_lines(every_seconds=10.0)
    callback.on_epoch_begin(2)
    logs = {"d_loss": 0.69314718, "g_loss": 0.7, "tiny": 1.5e-5}
    for step in range(100):  # 0.125 s per step: a line once 10 s have passed (step 80), none before
        clock.now += 0.125
        callback.on_train_batch_end(step, logs)
    assert stream.getvalue() == (
        "epoch 3/50 step 80/300 - 10.0 s - d_loss: 0.6931 - g_loss: 0.7000 - tiny: 1.5000e-05 - 512 images/s\n"
    )
    for step in range(100, 300):  # then 10 s after the last line (not the epoch's start); none at its last step
        clock.now += 0.125
        callback.on_train_batch_end(step, logs)
    lines = stream.getvalue().splitlines()
    assert [line.split(" - ")[:2] for line in lines] == [
        ["epoch 3/50 step 80/300", "10.0 s"], ["epoch 3/50 step 160/300", "20.0 s"], ["epoch 3/50 step 240/300", "30.0 s"],
    ]

    # A new epoch starts the clock again; a slow step gives at most one line; no carriage returns.
    callback.on_epoch_begin(3)
    clock.now += 60
    callback.on_train_batch_end(0, {"d_loss": 1.0})
    callback.on_train_batch_end(1, {"d_loss": 1.0})
    lines = stream.getvalue().splitlines()
    assert lines[3] == "epoch 4/50 step 1/300 - 60.0 s - d_loss: 1.0000 - 1.07 images/s" and len(lines) == 4
    assert "\r" not in stream.getvalue() and "\b" not in stream.getvalue()


def test_progress_lines_of_a_stream_resumed_mid_epoch():
    callback, clock, stream = _progress_lines(every_seconds=1.0, steps=None, batch_size=None)
    callback.on_epoch_begin(0)
    clock.now += 2
    callback.on_train_batch_end(41, {"loss": 2.0})  # resumed at step 41: its step number, no total, no rate
    assert stream.getvalue() == "epoch 1/50 step 42 - 2.0 s - loss: 2.0000\n"


def test_a_log_gets_progress_lines_every_n_seconds_when_set(tmp_path, tiny_npz):
    result = run_cli("train", "dcgan", "--dataset", f"npz:{tiny_npz}", "--epochs", 2, "--batch-size", 32,
                     "--out", tmp_path / "run", *tiny_set_flags(["train.log_every_seconds=1e-9"]))
    assert "\r" not in result.stdout and "\b" not in result.stdout
    lines = result.stdout.splitlines()
    for epoch in (1, 2):
        header = lines.index(f"Epoch {epoch}/2")
        # A line after every step but the last (all are more than 1e-9 s apart), then Keras' epoch line.
        progress = lines[header + 1 : header + 8]
        assert [line.split(" - ")[0] for line in progress] == [f"epoch {epoch}/2 step {step}/8" for step in range(1, 8)]
        assert all(" - d_loss: " in line and line.endswith(" images/s") for line in progress), progress
        assert lines[header + 8].startswith("8/8 - ") and "d_loss: " in lines[header + 8]
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["train"]["log_every_seconds"] == 1e-9


def test_log_every_seconds_must_be_positive():
    with pytest.raises(UserError, match=r"field 'log_every_seconds' must be a positive number of seconds.*=0"):
        TrainConfig.from_dict({"log_every_seconds": 0})
    assert TrainConfig.from_dict({"log_every_seconds": 30}).log_every_seconds == 30.0
    assert TrainConfig().log_every_seconds is None

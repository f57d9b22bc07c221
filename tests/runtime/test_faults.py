"""Training that survives faults: step checkpoints, damaged checkpoints, full disks, and kill -9 at random moments."""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import (
    _WITHOUT_STEP_RACE, assert_resumed_like_straight, read_json, run_cli, tiny_set_flags, weights_distance,
    without_step_race,
)
from genkit.runtime.training_checkpoint import (
    MANIFEST_FILE, TrainingCheckpoint, checkpoint_folders, newest_good_checkpoint,
)

STEPS_PER_EPOCH = 4  # tiny_npz: 256 images, 64 a step


def _arguments(tiny_npz, out, epochs, *extra):
    return ["train", "dcgan", "--dataset", f"npz:{tiny_npz}", "--batch-size", 64, "--epochs", epochs, "--out", out,
            "--quiet", *tiny_set_flags(["train.num_sample_images=4"]), *extra]


def _positions(run_dir: Path) -> list[tuple[int, int]]:
    """(epoch, step in epoch) of each checkpoint kept, oldest first, from the manifests."""
    manifests = [read_json(folder / MANIFEST_FILE) for folder in reversed(checkpoint_folders(run_dir / "checkpoints"))]
    return [(manifest["epoch"], manifest["step_in_epoch"]) for manifest in manifests]


@pytest.fixture(scope="module")
def stepped_run(tmp_path_factory, tiny_npz) -> Path:
    """2 epochs of 4 steps with a checkpoint every 3 steps, the newest 5 kept."""
    run_dir = tmp_path_factory.mktemp("faults") / "stepped"
    with without_step_race():
        run_cli(*_arguments(tiny_npz, run_dir, 2, "--checkpoint-every", 3, "--set", "train.checkpoints_to_keep=5"))
    return run_dir


def test_step_checkpoints_come_between_the_epoch_ends_with_a_manifest(stepped_run):
    # Global steps 3 and 6 (mid-epoch), and the ends of epochs 1 and 2 (steps 4 and 8).
    assert _positions(stepped_run) == [(0, 3), (1, 0), (1, 2), (2, 0)]
    folder = checkpoint_folders(stepped_run / "checkpoints")[0]
    manifest = read_json(folder / MANIFEST_FILE)
    assert sorted(manifest["files"]) == ["ckpt.data-00000-of-00001", "ckpt.index"]
    assert all(len(entry["sha256"]) == 64 and entry["bytes"] > 0 for entry in manifest["files"].values())
    assert not [path for path in (stepped_run / "checkpoints").iterdir() if path.name.startswith(".")]


def test_only_the_newest_checkpoints_are_kept(tmp_path, tiny_npz):
    with without_step_race():
        run_cli(*_arguments(tiny_npz, tmp_path / "run", 2, "--checkpoint-every", 1))
    assert _positions(tmp_path / "run") == [(1, 3), (2, 0)]  # checkpoints_to_keep: 2 (the default)


@pytest.mark.parametrize("damage", ["truncated", "altered", "manifest missing", "file missing"])
def test_a_damaged_newest_checkpoint_is_reported_and_the_one_before_is_used(stepped_run, tmp_path, damage, capsys):
    run_dir = tmp_path / "run"
    shutil.copytree(stepped_run, run_dir)
    newest = checkpoint_folders(run_dir / "checkpoints")[0]
    data = newest / "ckpt.data-00000-of-00001"
    if damage == "truncated":
        data.write_bytes(data.read_bytes()[: data.stat().st_size // 2])
    elif damage == "altered":
        content = bytearray(data.read_bytes())
        content[len(content) // 2] ^= 0xFF
        data.write_bytes(bytes(content))
    elif damage == "manifest missing":  # what a save cut off before its last write would leave, had it no temporary name
        (newest / MANIFEST_FILE).unlink()
    else:
        (newest / "ckpt.index").unlink()
    assert TrainingCheckpoint.saved_position(run_dir / "checkpoints") == (1, 2)
    folder, manifest = newest_good_checkpoint(run_dir / "checkpoints", report=True)  # what restore_latest uses
    assert folder.name == "ckpt-3" and (manifest["epoch"], manifest["step_in_epoch"]) == (1, 2)
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"genkit: checkpoint {newest} is damaged (")
    assert lines[0].endswith("; using ckpt-3")


def test_a_resume_over_a_damaged_checkpoint_ends_like_a_straight_run(stepped_run, tmp_path, tiny_npz):
    run_dir = tmp_path / "run"
    shutil.copytree(stepped_run, run_dir)
    (run_dir / "genkit.json").unlink()  # as if killed after its last checkpoint, before finishing the folder
    shutil.rmtree(checkpoint_folders(run_dir / "checkpoints")[0])
    newest = checkpoint_folders(run_dir / "checkpoints")[0]  # (1, 2) damaged: epoch 2 again from (1, 0)
    (newest / "ckpt.index").write_bytes(b"not an index")
    with without_step_race():
        result = run_cli(*_arguments(tiny_npz, run_dir, 2, "--resume"))
    assert f"checkpoint {newest} is damaged" in result.stderr
    assert read_json(run_dir / "genkit.json")["training"]["global_steps"] == 2 * STEPS_PER_EPOCH
    assert weights_distance(run_dir, stepped_run) == 0.0  # one process, the same kernels: bit for bit


def test_every_checkpoint_damaged_is_one_line(stepped_run, tmp_path, tiny_npz):
    run_dir = tmp_path / "run"
    shutil.copytree(stepped_run, run_dir)
    for folder in checkpoint_folders(run_dir / "checkpoints"):
        (folder / MANIFEST_FILE).write_text("{")
    result = run_cli(*_arguments(tiny_npz, run_dir, 3, "--resume"), check=False)
    assert result.returncode == 2 and "every checkpoint is damaged (ckpt-4: unreadable manifest.json" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_full_disk_while_checkpointing_is_one_line_and_keeps_what_was_saved(stepped_run, tmp_path, tiny_npz,
                                                                              monkeypatch):
    run_dir = tmp_path / "run"
    shutil.copytree(stepped_run, run_dir)
    before = {path: path.read_bytes() for path in (run_dir / "checkpoints").rglob("*") if path.is_file()}
    monkeypatch.setattr(os, "replace", _full_disk_in(run_dir / "checkpoints"))  # the last step of a save
    result = run_cli(*_arguments(tiny_npz, run_dir, 3, "--resume"), check=False)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].endswith(
        f": {run_dir / 'checkpoints'}: cannot write a checkpoint (No space left on device); "
        "the checkpoints already saved are kept"
    )
    after = {path: path.read_bytes() for path in (run_dir / "checkpoints").rglob("*") if path.is_file()}
    assert after == before, "a checkpoint folder changed, or a temporary one was left behind"
    assert not (run_dir / ".genkit.lock").exists()


def _full_disk_in(folder: Path):
    """``os.replace`` that fails as on a full disk for a destination in ``folder`` (the file-system boundary)."""
    replace = os.replace

    def full_disk(source, destination, *args, **kwargs):
        if Path(destination).parent == folder:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(destination))
        return replace(source, destination, *args, **kwargs)

    return full_disk


def test_a_full_disk_while_writing_a_sample_grid_is_one_line_and_keeps_the_checkpoints(stepped_run, tmp_path, tiny_npz,
                                                                                       monkeypatch):
    run_dir = tmp_path / "run"
    shutil.copytree(stepped_run, run_dir)
    monkeypatch.setattr(os, "replace", _full_disk_in(run_dir / "samples"))
    result = run_cli(*_arguments(tiny_npz, run_dir, 3, "--resume"), check=False)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].endswith(
        f": {run_dir / 'samples' / 'epoch_003.png'}: cannot write (No space left on device); nothing was changed"
    )
    assert not (run_dir / "samples" / "epoch_003.png").exists() and not list((run_dir / "samples").glob(".*"))
    # The run's checkpoint every 3 steps (global step 9) was saved; the epoch's end, after its sample grid, was not.
    assert _positions(run_dir)[-2:] == [(2, 0), (2, 1)]
    assert TrainingCheckpoint.saved_position(run_dir / "checkpoints") == (2, 1)


def test_a_full_disk_while_exporting_is_one_line_and_keeps_the_earlier_export(stepped_run, tmp_path, monkeypatch):
    run_dir = tmp_path / "run"
    shutil.copytree(stepped_run, run_dir)
    run_cli("export", run_dir, "--format", "onnx")
    before = {path: path.read_bytes() for path in (run_dir / "exports").rglob("*") if path.is_file()}
    replace, failed = os.replace, []

    def full_disk(source, destination, *args, **kwargs):  # moving the new export into place fails, once
        if Path(destination) == run_dir / "exports" / "onnx" and Path(source).name == "onnx" and not failed:
            failed.append(source)
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(destination))
        return replace(source, destination, *args, **kwargs)

    monkeypatch.setattr(os, "replace", full_disk)
    result = run_cli("export", run_dir, "--format", "onnx", check=False)
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert result.stderr.strip().endswith(
        f"{run_dir / 'exports'}: cannot write the exports (No space left on device); the earlier exports are kept"
    )
    after = {path: path.read_bytes() for path in (run_dir / "exports").rglob("*") if path.is_file()}
    assert failed and after == before, "the earlier export changed, or a temporary folder was left behind"


def test_a_resume_with_no_checkpoint_yet_starts_from_the_beginning(tmp_path, tiny_npz, stepped_run):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    shutil.copy(stepped_run / "config.json", run_dir / "config.json")  # killed before its first checkpoint
    with without_step_race():
        result = run_cli(*_arguments(tiny_npz, run_dir, 2, "--resume", "--checkpoint-every", 3,
                                     "--set", "train.checkpoints_to_keep=5"))
    assert "no checkpoint in" in result.stderr and "from the start" in result.stderr
    assert weights_distance(run_dir, stepped_run) == 0.0


# -- kill -9 at random moments -------------------------------------------------------------------------

KILLS = 4


def _start(arguments, log):
    """``genkit ARGS`` in a fresh process (Grappler's racy pass off, as for every cross-process comparison)."""
    code = _WITHOUT_STEP_RACE + "import sys\nfrom genkit.cli import main\nsys.exit(main(sys.argv[1:]))\n"
    return subprocess.Popen([sys.executable, "-c", code, *map(str, arguments)], stdout=log, stderr=subprocess.STDOUT)


def _steps_saved(run_dir: Path) -> int:
    found = newest_good_checkpoint(run_dir / "checkpoints") if (run_dir / "checkpoints").is_dir() else None
    return 0 if found is None else found[1]["epoch"] * STEPS_PER_EPOCH + found[1]["step_in_epoch"]


@pytest.mark.slow
def test_kill_9_at_random_moments_then_resume_ends_like_a_straight_run(tmp_path, tiny_npz):
    """SIGKILL a training process at seeded random moments (during steps, checkpoint saves or the final files),
    resume each time, and end with the weights of an uninterrupted run (within RESUME_TOLERANCE)."""
    epochs = 12
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    with without_step_race():
        run_cli(*_arguments(tiny_npz, straight, epochs, "--checkpoint-every", 1))
    rng = np.random.default_rng(20261207)
    record = []
    with open(tmp_path / "killed.log", "w") as log:
        for kill in range(KILLS):
            resume = ["--resume"] if (killed / "config.json").exists() else []
            process = _start(_arguments(tiny_npz, killed, epochs, "--checkpoint-every", 1, *resume), log)
            saved_before = _steps_saved(killed)
            deadline = time.monotonic() + 180
            # Training has started once this session saves its first checkpoint; then a random wait.
            while _steps_saved(killed) <= saved_before and process.poll() is None:
                assert time.monotonic() < deadline, "no checkpoint within 180 s"
                time.sleep(0.02)
            time.sleep(rng.uniform(0.0, 0.6))
            landed = process.poll() is None
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=60)
            record.append({"kill": kill, "landed": landed, "steps_saved": _steps_saved(killed)})
            if (killed / "genkit.json").exists():
                break
        if not (killed / "genkit.json").exists():
            final = _start(_arguments(tiny_npz, killed, epochs, "--checkpoint-every", 1, "--resume"), log)
            assert final.wait(timeout=300) == 0, (tmp_path / "killed.log").read_text()[-3000:]
    print(json.dumps(record))
    assert sum(entry["landed"] for entry in record) >= 2, f"too few kills landed mid-run: {record}"
    training = read_json(killed / "genkit.json")["training"]
    assert training["global_steps"] == epochs * STEPS_PER_EPOCH and training["stop_reason"] == "completed"
    assert [entry["epoch"] for entry in read_json(killed / "history.json")] == list(range(1, epochs + 1))
    assert_resumed_like_straight(killed, straight)

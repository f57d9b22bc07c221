"""One writer per run folder: a second writer is refused in one line; a dead owner's lock is taken over."""

from __future__ import annotations

import errno
import json
import socket
import subprocess
import sys

import pytest

from conftest import read_json, run_cli, tiny_set_flags
from genkit.errors import UserError
from genkit.runtime import run_lock
from genkit.runtime.run_lock import LOCK_FILE, RunFolderLock


def _write_lock(folder, pid, host=None, command="genkit train dcgan"):
    owner = {"command": command, "pid": pid, "host": host or socket.gethostname(), "since": "2026-12-03T10:00:00+00:00"}
    (folder / LOCK_FILE).write_text(json.dumps(owner))


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_a_second_writer_is_refused_naming_the_owner_and_the_lock_goes_with_its_owner(tmp_path):
    with RunFolderLock(tmp_path, "genkit train dcgan") as lock:
        assert lock.held and read_json(tmp_path / LOCK_FILE)["command"] == "genkit train dcgan"
        with pytest.raises(UserError) as refused:
            RunFolderLock(tmp_path, "genkit export").acquire()
        message = str(refused.value)
        assert message.startswith(f"{tmp_path}: in use by 'genkit train dcgan' (pid ") and message.endswith("wait for it to finish")
        assert "\n" not in message
    assert not (tmp_path / LOCK_FILE).exists()


def test_a_dead_owners_lock_is_taken_over_with_a_message(tmp_path, capsys):
    dead = _dead_pid()
    _write_lock(tmp_path, dead)
    with RunFolderLock(tmp_path, "genkit export"):
        assert read_json(tmp_path / LOCK_FILE)["command"] == "genkit export"
    assert f"taking over {tmp_path / LOCK_FILE}: its owner 'genkit train dcgan' (pid {dead} on" in capsys.readouterr().err
    (tmp_path / LOCK_FILE).write_text('{"pid": 12')  # a writer died while writing it
    with RunFolderLock(tmp_path, "genkit export"):
        pass
    assert "it names no owner" in capsys.readouterr().err


def test_an_owner_on_another_host_is_not_guessed_dead(tmp_path):
    _write_lock(tmp_path, _dead_pid(), host="node-7")
    with pytest.raises(UserError, match=rf"on node-7, since .*; if that process is gone, delete {tmp_path / LOCK_FILE}$"):
        RunFolderLock(tmp_path, "genkit export").acquire()


def test_a_read_only_run_folder_has_no_writer_to_exclude(tmp_path, monkeypatch):
    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(run_lock.os, "open", read_only)  # the file-system boundary, as a read-only mount answers
    with RunFolderLock(tmp_path, "genkit export") as lock:
        assert not lock.held


@pytest.mark.slow
def test_resume_and_export_wait_for_the_live_trainer_then_take_over_its_lock_once_it_is_dead(tmp_path, tiny_npz):
    run = tmp_path / "run"
    run_cli("train", "dcgan", "--dataset", f"npz:{tiny_npz}", "--epochs", 1, "--batch-size", 64, "--out", run, "--quiet",
            *tiny_set_flags())
    assert not (run / LOCK_FILE).exists()
    trainer = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])  # a live owner on this host
    try:
        _write_lock(run, trainer.pid)
        before = {path.name: path.stat().st_mtime_ns for path in run.iterdir()}
        for command in (["train", "dcgan", "--resume", "--out", run, "--epochs", 2, "--quiet"], ["export", run, "--format", "onnx"]):
            refused = run_cli(*command, check=False)
            assert refused.returncode == 2 and len(refused.stderr.strip().splitlines()) == 1, refused.stderr
            assert f"in use by 'genkit train dcgan' (pid {trainer.pid} on" in refused.stderr
        assert {path.name: path.stat().st_mtime_ns for path in run.iterdir()} == before  # nothing touched
    finally:
        trainer.kill()
        trainer.wait()
    resumed = run_cli("train", "dcgan", "--resume", "--out", run, "--epochs", 2, "--quiet")
    assert "is no longer running" in resumed.stderr
    assert read_json(run / "genkit.json")["training"]["epochs_completed"] == 2 and not (run / LOCK_FILE).exists()

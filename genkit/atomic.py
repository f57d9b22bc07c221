"""Writes that never leave a half-written file: write to a temporary name, then move into place."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path

from genkit.errors import UserError


@contextlib.contextmanager
def atomic_path(destination: str | Path, directory: bool = False):
    """Yields a temporary path beside ``destination``; moves it into place on success.

    On failure the temporary file or folder is removed and ``destination`` is
    left exactly as it was; a failure of the file system (a full disk, a
    read-only or vanished folder) is one :class:`~genkit.errors.UserError`
    line naming the file. The temporary name keeps the destination's suffix
    (writers such as ``model.save`` check it).
    """
    destination = Path(destination)
    temporary = destination.with_name(f".{destination.stem}.tmp-{os.getpid()}{destination.suffix}")
    try:
        destination.parent.mkdir(parents=True, exist_ok=True)
        if temporary.exists():
            shutil.rmtree(temporary) if temporary.is_dir() else temporary.unlink()
        if directory:
            temporary.mkdir()
        yield temporary
        if directory and destination.exists():
            shutil.rmtree(destination)
        os.replace(temporary, destination)
    except BaseException as error:
        if temporary.is_dir():
            shutil.rmtree(temporary, ignore_errors=True)
        elif temporary.exists():
            temporary.unlink()
        if isinstance(error, OSError):
            raise UserError(f"{destination}: cannot write ({error.strerror or error}); nothing was changed") from None
        raise


def write_json(destination: str | Path, value) -> None:
    with atomic_path(destination) as temporary:
        temporary.write_text(json.dumps(value, indent=2, sort_keys=False) + "\n", encoding="utf-8")


def write_bytes(destination: str | Path, data: bytes) -> None:
    with atomic_path(destination) as temporary:
        temporary.write_bytes(data)


def temporary_directory(prefix: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=prefix))

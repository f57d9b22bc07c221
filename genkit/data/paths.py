"""Paths the user gives (``--dataset`` arguments, manifest cells, ``--data-dir``), read as a shell reads them."""

from __future__ import annotations

from pathlib import Path


def user_path(text: str | Path, resolve: bool = False) -> Path:
    """``text`` as a path: ``~`` and ``~user`` expanded as a shell expands them, made absolute when ``resolve``.

    As in a shell, ``~name`` of an unknown user stays as it is (pathlib raises RuntimeError). A path the
    system cannot look up (a NUL byte: ValueError) is made absolute without resolving links. Either way the
    path names no file, so the caller's one-line "not found" error follows.
    """
    path = Path(text)
    try:
        path = path.expanduser()
    except RuntimeError:
        pass
    if resolve:
        try:
            path = path.resolve()
        except (OSError, ValueError, RuntimeError):
            path = path.absolute()
    return path

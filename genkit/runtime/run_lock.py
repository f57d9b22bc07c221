"""One writer per run folder: a lock file that names its owner, taken over once that owner is gone.

``genkit train`` (the chief) and ``genkit export`` hold ``RUN/.genkit.lock``
while they write. A second writer is refused in one line naming the owner
(command, pid, host, since when). A lock left by a process that died
(``kill -9``, a lost node) is taken over with a message when its owner ran
on this host and no longer runs; an owner on another host cannot be checked
from here, so its lock is only reported, with how to remove it.
"""

from __future__ import annotations

import datetime
import errno
import json
import os
import socket
import sys
from pathlib import Path

from genkit.errors import UserError

LOCK_FILE = ".genkit.lock"
_READ_ONLY = (errno.EACCES, errno.EPERM, errno.EROFS)


def _process_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user
        return True
    return True


class RunFolderLock:
    """``with RunFolderLock(run_dir, "genkit train dcgan"): ...`` (or :meth:`acquire` / :meth:`release`).

    In a folder this process may not write to (a read-only copy of a run),
    no writer can be at work: nothing is locked and ``held`` stays false.
    """

    def __init__(self, folder: str | Path, command: str):
        self.folder = Path(folder)
        self.path = self.folder / LOCK_FILE
        self.owner = {
            "command": command, "pid": os.getpid(), "host": socket.gethostname(),
            "since": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        }
        self.held = False

    def acquire(self) -> "RunFolderLock":
        for _ in range(3):  # a lock taken over can be taken by another process first
            try:
                descriptor = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                self._take_over_or_refuse()
                continue
            except OSError as error:
                if error.errno in _READ_ONLY:
                    return self
                raise UserError(f"{self.folder}: cannot write the run folder's lock {self.path} ({error.strerror})") from None
            with os.fdopen(descriptor, "w", encoding="utf-8") as file:
                json.dump(self.owner, file)
            self.held = True
            return self
        raise UserError(f"{self.folder}: another process keeps taking the run folder's lock {self.path}; try again")

    def _take_over_or_refuse(self) -> None:
        try:
            holder = json.loads(self.path.read_text(encoding="utf-8"))
            command, pid, host, since = holder["command"], int(holder["pid"]), holder["host"], holder["since"]
        except FileNotFoundError:
            return  # released meanwhile
        except (OSError, ValueError, KeyError, TypeError):
            print(f"genkit: taking over {self.path}: it names no owner (a writer died while taking it)", file=sys.stderr)
            self.path.unlink(missing_ok=True)
            return
        if host == self.owner["host"] and not _process_running(pid):
            print(
                f"genkit: taking over {self.path}: its owner '{command}' (pid {pid} on {host}, since {since}) "
                "is no longer running", file=sys.stderr,
            )
            self.path.unlink(missing_ok=True)
            return
        where = "; wait for it to finish" if host == self.owner["host"] else f"; if that process is gone, delete {self.path}"
        raise UserError(f"{self.folder}: in use by '{command}' (pid {pid} on {host}, since {since}){where}")

    def release(self) -> None:
        if not self.held:
            return
        self.held = False
        try:
            if json.loads(self.path.read_text(encoding="utf-8")).get("pid") == self.owner["pid"]:
                self.path.unlink()
        except (OSError, ValueError):
            pass  # gone or replaced: nothing of ours to remove

    def __enter__(self) -> "RunFolderLock":
        return self.acquire()

    def __exit__(self, *exc_info) -> None:
        self.release()

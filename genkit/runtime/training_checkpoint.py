"""Checkpoints of the whole training state: networks, optimizers, epoch and step counters.

Each checkpoint is a folder ``checkpoints/ckpt-N/`` holding TensorFlow's
checkpoint files (``ckpt.index``, ``ckpt.data-*``) and a ``manifest.json``:
the loop position and every file's size and SHA-256. A checkpoint is written
under a temporary name (``.ckpt-N.tmp-PID``) and moved into place whole, so a
``kill -9`` during a save leaves the previous checkpoints as they were; on
resume each checkpoint is checked against its manifest, newest first, and a
damaged one (cut off, truncated, altered) is reported in one line and passed
over for the one before. The newest ``max_to_keep`` are kept.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import re
import shutil
import sys
from pathlib import Path

import tensorflow as tf

from genkit.errors import UserError

MANIFEST_FILE = "manifest.json"
FILE_PREFIX = "ckpt"
FOLDER = re.compile(r"ckpt-(\d+)$")
TEMPORARY = re.compile(r"\.ckpt-\d+\.tmp-\d+$")


class CheckpointDamaged(Exception):
    """A checkpoint folder that does not match its manifest; the message says how."""


def checkpoint_folders(directory: Path) -> list[Path]:
    """The checkpoint folders in ``directory``, newest (highest number) first."""
    if not Path(directory).is_dir():
        return []
    folders = [(int(match.group(1)), path) for path in Path(directory).iterdir()
               if (match := FOLDER.match(path.name)) and path.is_dir()]
    return [path for _, path in sorted(folders, reverse=True)]


def verified_manifest(folder: Path) -> dict:
    """The manifest of a checkpoint folder whose files all match it; :class:`CheckpointDamaged` otherwise."""
    try:
        manifest = json.loads((folder / MANIFEST_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CheckpointDamaged(f"no {MANIFEST_FILE}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CheckpointDamaged(f"unreadable {MANIFEST_FILE} ({error})") from None
    files = manifest.get("files") if isinstance(manifest, dict) else None
    if not isinstance(files, dict) or not files or "epoch" not in manifest or "step_in_epoch" not in manifest:
        raise CheckpointDamaged(f"{MANIFEST_FILE} lacks its files or position")
    for name, expected in files.items():
        path = folder / name
        if not path.is_file():
            raise CheckpointDamaged(f"{name} is missing")
        size = path.stat().st_size
        if size != expected.get("bytes"):
            raise CheckpointDamaged(f"{name} has {size} bytes, the manifest says {expected.get('bytes')}")
        if _sha256(path) != expected.get("sha256"):
            raise CheckpointDamaged(f"{name} does not match its checksum")
    return manifest


def newest_good_checkpoint(directory: Path, report: bool = False) -> tuple[Path, dict] | None:
    """(folder, manifest) of the newest checkpoint that matches its manifest, or None when there is none;
    a :class:`UserError` when every checkpoint is damaged.

    With ``report``, each damaged checkpoint passed over is one line on standard error.
    """
    damaged = []
    for folder in checkpoint_folders(directory):
        try:
            manifest = verified_manifest(folder)
        except CheckpointDamaged as reason:
            damaged.append((folder, str(reason)))
            continue
        if report:
            for bad, reason in damaged:
                print(f"genkit: checkpoint {bad} is damaged ({reason}); using {folder.name}", file=sys.stderr)
        return folder, manifest
    if damaged:
        reasons = "; ".join(f"{folder.name}: {reason}" for folder, reason in damaged)
        raise UserError(f"{directory}: every checkpoint is damaged ({reasons})")
    return None


class TrainingCheckpoint:
    """A ``tf.train.Checkpoint`` of ``model.checkpoint_objects()`` plus the loop position, saved as checked folders.

    The loop position is the epoch and the number of batches done within it,
    so a run stopped mid-epoch resumes at the very next batch. The noise of
    the train steps is drawn from the optimizer step counter, and the seed
    states of layers such as dropout are saved too, so a resumed run
    continues exactly as an uninterrupted one would.

    Every worker of a multi-worker run must save (saving may need collective
    ops); only the chief saves into the run folder, the others into a
    temporary folder that :meth:`close` removes.
    """

    def __init__(self, model, directory: Path, max_to_keep: int, is_chief: bool = True):
        self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
        self.step_in_epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="step_in_epoch")
        self.checkpoint = tf.train.Checkpoint(
            epoch=self.epoch, step_in_epoch=self.step_in_epoch, **model.checkpoint_objects(),
            random_states=_random_states(model),
        )
        self.directory = Path(directory)
        self.max_to_keep = max_to_keep
        self.is_chief = is_chief
        self.latest: str | None = None  # the folder last saved or restored

    @staticmethod
    def saved_position(directory: Path) -> tuple[int, int] | None:
        """(epoch, step_in_epoch) of the newest good checkpoint in ``directory``, read from its manifest (or, for
        a run folder of a genkit before manifests, from TensorFlow's newest checkpoint); None when there is none,
        a :class:`UserError` when every checkpoint is damaged."""
        found = newest_good_checkpoint(directory)
        if found is not None:
            return int(found[1]["epoch"]), int(found[1]["step_in_epoch"])
        legacy = tf.train.latest_checkpoint(str(directory)) if Path(directory).is_dir() else None
        if legacy is None:
            return None
        reader = tf.train.load_checkpoint(legacy)
        return tuple(int(reader.get_tensor(f"{name}/.ATTRIBUTES/VARIABLE_VALUE")) for name in ("epoch", "step_in_epoch"))

    def restore_latest(self, directory: Path | None = None) -> tuple[int, int]:
        """Restores the newest good checkpoint (of ``directory``, by default this one's); a damaged one is
        reported and passed over. Returns (epoch, step_in_epoch) to continue from: (0, 0) when there is none.

        Every worker of a resumed multi-worker run restores from the chief's folder.
        """
        directory = Path(directory or self.directory)
        found = newest_good_checkpoint(directory, report=True)
        if found is not None:
            path = str(found[0] / FILE_PREFIX)
        else:
            path = tf.train.latest_checkpoint(str(directory)) if directory.is_dir() else None
            if path is None:
                return 0, 0
        self.checkpoint.read(path).assert_existing_objects_matched()
        self.latest = str(found[0] if found is not None else path)
        return int(self.epoch.numpy()), int(self.step_in_epoch.numpy())

    def save(self, epoch: int, step_in_epoch: int) -> str:
        """Saves the training state at (epoch, step_in_epoch) as the next ``ckpt-N`` folder; returns its path.

        A failure to write (a full disk, an unwritable folder) is one :class:`UserError` line, and the
        checkpoints already saved stay as they were.
        """
        self.epoch.assign(epoch)
        self.step_in_epoch.assign(step_in_epoch)
        existing = checkpoint_folders(self.directory)
        number = int(FOLDER.match(existing[0].name).group(1)) + 1 if existing else 1
        destination = self.directory / f"ckpt-{number}"
        temporary = self.directory / f".ckpt-{number}.tmp-{os.getpid()}"
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            if temporary.exists():
                shutil.rmtree(temporary)
            self.checkpoint.write(str(temporary / FILE_PREFIX))
            files = {}
            for path in sorted(temporary.iterdir()):
                _fsync(path)
                files[path.name] = {"bytes": path.stat().st_size, "sha256": _sha256(path)}
            manifest = {
                "format": "genkit-checkpoint", "number": number, "epoch": epoch, "step_in_epoch": step_in_epoch,
                "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"), "files": files,
            }
            (temporary / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
            _fsync(temporary / MANIFEST_FILE)
            os.replace(temporary, destination)
        except (OSError, tf.errors.OpError) as error:
            shutil.rmtree(temporary, ignore_errors=True)
            reason = getattr(error, "strerror", None) or getattr(error, "message", None) or str(error)
            raise UserError(
                f"{self.directory}: cannot write a checkpoint ({reason.strip().splitlines()[0] if reason else type(error).__name__}); "
                f"the checkpoints already saved are kept"
            ) from None
        self.latest = str(destination)
        self._prune()
        return str(destination)

    def _prune(self) -> None:
        """Keeps the newest ``max_to_keep`` checkpoints; removes older ones and what cut-off saves left."""
        for folder in checkpoint_folders(self.directory)[self.max_to_keep :]:
            shutil.rmtree(folder, ignore_errors=True)
        for path in self.directory.iterdir():
            if TEMPORARY.match(path.name) and not path.name.endswith(f".tmp-{os.getpid()}"):
                shutil.rmtree(path, ignore_errors=True)

    def close(self) -> None:
        if not self.is_chief:
            shutil.rmtree(self.directory, ignore_errors=True)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fsync(path: Path) -> None:
    """Flushes a written file to the disk, so a checkpoint that is in place survives a crash of the machine."""
    with open(path, "rb") as file:
        os.fsync(file.fileno())


def _random_states(model) -> list:
    """The seed-generator states of the model's layers (dropout), which are not among its weights."""
    weight_ids = {id(weight) for weight in model.weights}
    return [variable.value for variable in model.variables if id(variable) not in weight_ids]

"""The run folder: the contract between training and everything that reads a trained model.

::

    saved_models/<run>/
        config.json        resolved config (model name, model fields, train section), written first
        checkpoints/       whole training state, every epoch (and on a clean stop)
        logs/              TensorBoard
        samples/           epoch_NNN.png grids from one fixed latent batch
        history.json       per-epoch metrics
        model.keras        the trained model (float32, reloadable with genkit imported)
        serving/<version>/ TF Serving SavedModel (named signatures, no genkit needed)
        samples.png        a final grid
        genkit.json        metadata, written last: a run without it is incomplete (a warm start's names its
                           "parent": the run folder it started from and its model)
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import keras

from genkit.errors import UserError
from genkit.atomic import atomic_path, write_json

CONFIG_FILE = "config.json"
METADATA_FILE = "genkit.json"
MODEL_FILE = "model.keras"
FORMAT_VERSION = 1


class RunFolder:
    """Paths of one run folder and the reading and writing of its files."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    config_path = property(lambda self: self.path / CONFIG_FILE)
    metadata_path = property(lambda self: self.path / METADATA_FILE)
    model_path = property(lambda self: self.path / MODEL_FILE)
    checkpoint_dir = property(lambda self: self.path / "checkpoints")
    logs_dir = property(lambda self: self.path / "logs")
    samples_dir = property(lambda self: self.path / "samples")
    history_path = property(lambda self: self.path / "history.json")
    serving_dir = property(lambda self: self.path / "serving")

    @property
    def is_complete(self) -> bool:
        return self.metadata_path.is_file()

    def write_config(self, resolved: dict) -> None:
        write_json(self.config_path, resolved)

    def read_config(self) -> dict:
        config = read_json_document(self.config_path, "run config")
        _check_document(config, self.config_path, "run config", CONFIG_SCHEMA)
        return config

    def read_metadata(self) -> dict:
        """genkit.json of a complete run; a clear error for a missing, incomplete or corrupt folder."""
        if not self.path.is_dir():
            raise UserError(f"{self.path}: no such run folder")
        if not self.metadata_path.is_file():
            hint = (
                "training did not finish; continue it with 'genkit train MODEL --resume --out "
                f"{self.path}'" if self.config_path.is_file() else "it is not a genkit run folder"
            )
            raise UserError(f"{self.path}: incomplete run (no {METADATA_FILE}): {hint}")
        metadata = read_json_document(self.metadata_path, "run metadata")
        if metadata.get("format") != "genkit-run" or "model" not in metadata:
            raise UserError(f"{self.metadata_path}: not a genkit run metadata file (missing 'format' or 'model')")
        _check_document(metadata, self.metadata_path, "run metadata", METADATA_SCHEMA)
        return metadata

    def next_serving_version(self) -> int:
        versions = [int(p.name) for p in self.serving_dir.glob("*") if p.is_dir() and p.name.isdigit()]
        return max(versions, default=0) + 1

    def save_model(self, model) -> None:
        with atomic_path(self.model_path) as temporary:
            model.save(temporary)

    def export_serving(self, model, version: int) -> Path:
        """Writes a TF Serving SavedModel of every serving endpoint the model declares to serving/<version>/."""
        destination = self.serving_dir / str(version)
        archive = keras.export.ExportArchive()
        archive.track(model)
        for name, (function, input_signature) in model.serving_endpoints().items():
            archive.add_endpoint(name=name, fn=function, input_signature=input_signature)
        with atomic_path(destination, directory=True) as temporary:
            temporary.rmdir()  # write_out makes the folder itself
            archive.write_out(str(temporary), verbose=False)
        return destination

    def load_model(self):
        """Loads model.keras (with every registered model family discovered first)."""
        from genkit.registry import get_model_entry

        name = self.read_metadata()["model"]
        try:
            get_model_entry(name)  # discovers every family and plugin
        except UserError as error:
            raise UserError(f"{self.path}: {error} (is the package that provides '{name}' installed?)") from None
        if not self.model_path.is_file():
            raise UserError(f"{self.model_path}: missing; the run folder is incomplete")
        try:
            return keras.saving.load_model(self.model_path)  # safe_mode: no Lambda or other code runs from the file
        except (OSError, ValueError, TypeError, KeyError, AttributeError, EOFError, zipfile.BadZipFile) as error:
            # A corrupt, truncated or tampered file (an unknown class, a Lambda layer, a damaged config).
            text = str(error).strip()
            reason = f"{type(error).__name__}: {text.splitlines()[0][:200]}" if text else type(error).__name__
            raise UserError(f"{self.model_path}: cannot load the model ({reason})") from None


# What genkit train writes and the commands read: {field: (type, required)}; a tampered file is one line naming the field.
CONFIG_SCHEMA = {"model": (str, True), "config": (dict, True), "train": (dict, True)}
METADATA_SCHEMA = {
    **CONFIG_SCHEMA, "data": (dict, True), "files": (dict, False), "serving": (dict, False), "training": (dict, False),
    "metrics": (dict, False), "versions": (dict, False), "parent": (dict, False),
}
# Inside those: {(section, field): type} when present.
NESTED_SCHEMA = {("data", "name"): str, ("serving", "signatures"): dict, ("serving", "version"): int,
                 ("training", "strategy"): dict, ("parent", "path"): str, ("parent", "model"): str}
TYPE_NAMES = {str: "a string", dict: "a JSON object", int: "an integer"}


def _check_document(document: dict, path: Path, what: str, schema: dict) -> None:
    """Raises a one-line UserError naming the first field of a run file that genkit train would not have written."""

    def corrupt(field: str, expected: str, value) -> UserError:
        shown = json.dumps(value)
        shown = shown if len(shown) <= 40 else shown[:37] + "..."
        return UserError(f"{path}: corrupt {what} ({field!r} must be {expected}, got {shown})")

    for field, (kind, required) in schema.items():
        if field not in document:
            if required:
                raise UserError(f"{path}: corrupt {what} (no '{field}')")
            continue
        value = document[field]
        if not isinstance(value, kind) or isinstance(value, bool):
            raise corrupt(field, TYPE_NAMES[kind], value)
    model = document["model"]
    if not model or not model.isprintable():
        raise corrupt("model", "a model name", model)
    for (section, field), kind in NESTED_SCHEMA.items():
        value = document.get(section, {}).get(field, kind())
        if not isinstance(value, kind) or isinstance(value, bool):
            raise corrupt(f"{section}.{field}", TYPE_NAMES[kind], value)
    for name, file in document.get("files", {}).items():
        if not isinstance(file, str):
            raise corrupt(f"files.{name}", "a file name", file)
    for name, value in document.get("metrics", {}).items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise corrupt(f"metrics.{name}", "a number", value)


def read_json_document(path: Path, what: str, kind: type = dict):
    """A JSON file that holds a ``kind`` (an object, or a list); a missing, unreadable or damaged one is one
    :class:`UserError` line naming it."""
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{path}: missing {what}") from None
    except (OSError, ValueError) as error:  # UnicodeDecodeError, JSONDecodeError, a number of more than 4300 digits
        raise UserError(f"{path}: corrupt {what} ({error})") from None
    except RecursionError:
        raise UserError(f"{path}: corrupt {what} (nested too deeply)") from None
    if not isinstance(value, kind):
        raise UserError(f"{path}: corrupt {what} (expected a JSON {'object' if kind is dict else 'list'})")
    return value

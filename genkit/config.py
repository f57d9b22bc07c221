"""Typed configs: dataclasses loaded from YAML/JSON, overridden with ``--set``, validated once.

Every model registers a config dataclass derived from :class:`ModelConfig`.
Training settings shared by every family live in :class:`TrainConfig`. A
config file is a mapping of the model's fields plus an optional ``train:``
section (and an optional ``model:`` name that must match the model trained)::

    latent_dim: 64
    generator_learning_rate: 0.0002
    train:
      epochs: 10
      batch_size: 128

Every problem is a :class:`~genkit.errors.UserError` naming the field and the
file (or ``--set``) it came from.
"""

from __future__ import annotations

import dataclasses
import json
import math
import sys
import types
import typing
from pathlib import Path
from typing import Any

import yaml

from genkit.errors import UserError

STRATEGIES = ("auto", "default", "mirrored", "multiworker")
CLUSTERS = ("tf_config", "slurm")  # where a multi-worker run's cluster comes from (genkit.runtime.cluster)
MIXED_PRECISION_POLICIES = ("none", "mixed_float16", "mixed_bfloat16")
# --devices: GPUs, or logical CPU devices; TensorFlow takes minutes (100,000: hours) to make very many.
MAX_DEVICES = 256
MAX_SEED = 2**32 - 1  # NumPy's global seed (keras.utils.set_random_seed) takes no more


_FLOAT_MAX = sys.float_info.max
# YAML's and JSON's parsers raise these besides their own errors: ValueError for a date like 2020-13-45 or an
# integer of more than 4300 digits, AttributeError for '!!timestamp x', RecursionError for '[[[[...' nested deeply.
PARSER_ERRORS = (yaml.YAMLError, json.JSONDecodeError, ValueError, TypeError, AttributeError, RecursionError)


def _shown(value: Any, limit: int = 60) -> str:
    """``repr(value)``, cut to ``limit`` characters (a 400-digit number, a long list)."""
    try:
        text = repr(value)
    except ValueError:  # an int of more than 4300 digits
        return f"<an integer of {value.bit_length()} bits>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def parser_error_line(error: BaseException) -> str:
    """The first line of a YAML or JSON parser's error, for a one-line message."""
    if isinstance(error, RecursionError):
        return "nested too deeply"
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def field_error(source: str, name: str, message: str) -> UserError:
    return UserError(f"{source}: field '{name}' {message}")


def _coerce(value: Any, annotation: Any, source: str, name: str) -> Any:
    """Checks ``value`` against a field's type annotation, converting where lossless."""
    origin = typing.get_origin(annotation)
    arguments = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in arguments:
            return None
        inner = [a for a in arguments if a is not type(None)]
        return _coerce(value, inner[0], source, name)
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise field_error(source, name, f"must be a list. Received: {name}={value!r}")
        item_type = arguments[0] if arguments else Any
        return tuple(_coerce(v, item_type, source, name) for v in value)
    if annotation is bool:
        if isinstance(value, bool):
            return value
        raise field_error(source, name, f"must be true or false. Received: {name}={value!r}")
    if annotation is int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise field_error(source, name, f"must be an integer. Received: {name}={value!r}")
        return value
    if annotation is float:
        if isinstance(value, str):  # YAML reads 1e-4 (no dot) as a string
            try:
                value = float(value)
            except ValueError:
                pass
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise field_error(source, name, f"must be a number. Received: {name}={value!r}")
        if isinstance(value, int) and not -_FLOAT_MAX <= value <= _FLOAT_MAX:  # beyond float: OverflowError
            raise field_error(source, name, f"must be finite. Received: {name}={_shown(value)}")
        if not math.isfinite(float(value)):
            raise field_error(source, name, f"must be finite. Received: {name}={value!r}")
        return float(value)
    if annotation is str:
        if not isinstance(value, str):
            raise field_error(source, name, f"must be a string. Received: {name}={value!r}")
        return value
    return value


@dataclasses.dataclass
class BaseConfig:
    """Shared loading, overriding and validation for config dataclasses."""

    def validate(self, source: str) -> None:
        """Raises :class:`UserError` naming the first invalid field."""

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def from_dict(cls, values: dict[str, Any], source: str = "config"):
        if not isinstance(values, dict):
            raise UserError(f"{source}: expected a mapping of field names to values. Received: {values!r}")
        allowed = cls.field_names()
        unknown = sorted(set(values) - set(allowed))
        if unknown:
            raise UserError(
                f"{source}: unknown field {unknown[0]!r} for {cls.__name__}; "
                f"allowed fields: {', '.join(allowed)}"
            )
        hints = typing.get_type_hints(cls)
        coerced = {name: _coerce(value, hints[name], source, name) for name, value in values.items()}
        config = cls(**coerced)
        config.validate(source)
        return config

    def to_dict(self) -> dict[str, Any]:
        return {
            name: list(value) if isinstance(value, tuple) else value
            for name, value in dataclasses.asdict(self).items()
        }

    def replace(self, source: str, **changes):
        """A validated copy with ``changes`` applied."""
        return type(self).from_dict({**self.to_dict(), **changes}, source)


def require(condition: bool, source: str, name: str, message: str, value: Any) -> None:
    """Raises a field error ``message`` (with the received value) unless ``condition``."""
    if not condition:
        raise field_error(source, name, f"{message}. Received: {name}={value!r}")


@dataclasses.dataclass
class ModelConfig(BaseConfig):
    """Base of every model's hyper-parameter config."""


@dataclasses.dataclass
class TrainConfig(BaseConfig):
    """Settings of a training run shared by every model family."""

    epochs: int = 10
    batch_size: int = 128
    seed: int = 1337
    dataset: str = "embedded"
    data_dir: str | None = None
    strategy: str = "auto"
    devices: int | None = None
    cluster: str = "tf_config"
    cluster_port: int | None = None  # --cluster slurm: the first port of the tasks on a node (None: 8888)
    collective_timeout: float | None = None  # seconds before a multi-worker collective fails (None: never)
    mixed_precision: str = "none"
    jit: bool = False
    time_limit: float | None = None
    num_sample_images: int = 64
    checkpoints_to_keep: int = 2
    checkpoint_every: int | None = None  # steps between checkpoints (besides each epoch's end)
    checkpoint_minutes: float | None = None  # minutes between checkpoints (besides each epoch's end)
    log_every_steps: int = 10
    histograms: bool = True
    log_every_seconds: float | None = None
    init_from: str | None = None  # a complete run folder this new run starts from (its config, vocabulary, weights)

    def validate(self, source: str) -> None:
        require(self.epochs >= 1, source, "epochs", "must be >= 1", self.epochs)
        require(self.batch_size >= 1, source, "batch_size", "must be >= 1", self.batch_size)
        require(0 <= self.seed <= MAX_SEED, source, "seed", f"must be between 0 and {MAX_SEED} (2**32 - 1)", self.seed)
        require(
            self.strategy in STRATEGIES, source, "strategy",
            f"must be one of {', '.join(STRATEGIES)}", self.strategy,
        )
        require(
            self.devices is None or 1 <= self.devices <= MAX_DEVICES, source, "devices",
            f"must be between 1 and {MAX_DEVICES} (GPUs, or logical CPU devices)", self.devices
        )
        require(self.cluster in CLUSTERS, source, "cluster", f"must be one of {', '.join(CLUSTERS)}", self.cluster)
        require(
            self.cluster_port is None or 1 <= self.cluster_port <= 65535, source, "cluster_port",
            "must be a port number (1-65535)", self.cluster_port,
        )
        require(
            self.collective_timeout is None or self.collective_timeout > 0, source, "collective_timeout",
            "must be a positive number of seconds (or null: no timeout)", self.collective_timeout,
        )
        require(
            self.mixed_precision in MIXED_PRECISION_POLICIES, source, "mixed_precision",
            f"must be one of {', '.join(MIXED_PRECISION_POLICIES)}", self.mixed_precision,
        )
        require(
            self.time_limit is None or self.time_limit > 0, source, "time_limit",
            "must be a positive number of minutes", self.time_limit,
        )
        require(
            1 <= self.num_sample_images <= 1024, source, "num_sample_images",
            "must be between 1 and 1024", self.num_sample_images,
        )
        require(
            self.checkpoints_to_keep >= 1, source, "checkpoints_to_keep", "must be >= 1",
            self.checkpoints_to_keep,
        )
        require(
            self.checkpoint_every is None or self.checkpoint_every >= 1, source, "checkpoint_every",
            "must be >= 1 (steps between checkpoints)", self.checkpoint_every,
        )
        require(
            self.checkpoint_minutes is None or (math.isfinite(self.checkpoint_minutes) and self.checkpoint_minutes > 0),
            source, "checkpoint_minutes", "must be a number of minutes > 0", self.checkpoint_minutes,
        )
        require(
            self.log_every_steps >= 1, source, "log_every_steps", "must be >= 1 (steps between TensorBoard step scalars)",
            self.log_every_steps,
        )
        require(
            self.log_every_seconds is None or self.log_every_seconds > 0, source, "log_every_seconds",
            "must be a positive number of seconds (between progress lines in a log)", self.log_every_seconds,
        )
        require(
            self.init_from is None or (self.init_from.strip() != "" and self.init_from.isprintable()), source,
            "init_from", "must be the path of a run folder", self.init_from,
        )


def read_config_file(path: str | Path) -> dict[str, Any]:
    """Reads a YAML or JSON mapping; errors name the file."""
    path = Path(path)
    if path.suffix.lower() not in (".yaml", ".yml", ".json"):
        raise UserError(f"--config {path}: unsupported file type '{path.suffix}'; allowed: .yaml, .yml, .json")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise UserError(f"--config {path}: not UTF-8 text (byte {error.start})") from None
    except OSError as error:
        raise UserError(f"--config {path}: cannot read file ({error.strerror})") from None
    try:
        values = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except PARSER_ERRORS as error:
        raise UserError(f"--config {path}: not valid {path.suffix[1:].upper()}: {parser_error_line(error)}") from None
    if values is None:
        return {}
    if not isinstance(values, dict):
        raise UserError(f"--config {path}: expected a mapping of field names to values")
    _check_field_names(values, f"--config {path}")
    if "model" in values:
        _check_model_name(values["model"], f"--config {path}")
    if "train" in values and not isinstance(values["train"], dict):
        raise UserError(
            f"--config {path}: 'train' must be a mapping of training fields to values. Received: train={_shown(values['train'])}"
        )
    if isinstance(values.get("train"), dict):
        _check_field_names(values["train"], f"--config {path} (train)")
    return values


def _check_model_name(value: Any, source: str) -> None:
    if not (isinstance(value, str) and value.isprintable()):
        raise UserError(f"{source}: field 'model' must be a model name (see 'genkit list'). Received: model={_shown(value)}")


def _check_field_names(values: dict, source: str) -> None:
    """Field names are strings (YAML also reads 1:, null: and true: as keys)."""
    for key in values:
        if not isinstance(key, str):
            raise UserError(f"{source}: field names must be strings. Received: {key!r} ({type(key).__name__})")


def parse_overrides(assignments: list[str]) -> dict[str, Any]:
    """Parses ``--set key=value`` items; values are read as YAML scalars or lists.

    ``train.epochs=3`` sets a field of the ``train`` section.
    """
    values: dict[str, Any] = {}
    for assignment in assignments:
        key, separator, text = assignment.partition("=")
        key = key.strip()
        if not separator or not key:
            raise UserError(f"--set {assignment!r}: expected key=value, e.g. --set latent_dim=64")
        try:
            value = yaml.safe_load(text) if text.strip() else ""
        except PARSER_ERRORS:  # not YAML (or a date like 2020-13-45): the text as it is
            value = text
        if key == "train":
            raise UserError(
                f"--set {assignment!r}: 'train' is a section; set its fields as train.FIELD=VALUE, e.g. train.epochs=3"
            )
        if key == "model":
            _check_model_name(value, f"--set {assignment!r}")
        section, dot, field = key.partition(".")
        if dot:
            if section != "train":
                raise UserError(f"--set {assignment!r}: only the 'train.' section may be dotted")
            values.setdefault("train", {})[field] = value
        else:
            values[key] = value
    return values


def merge_config_values(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """``update`` over ``base``, merging the ``train`` section field by field."""
    merged = {**base, **update}
    if "train" in base or "train" in update:
        merged["train"] = {**base.get("train", {}), **update.get("train", {})}
    return merged

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
import types
import typing
from pathlib import Path
from typing import Any

import yaml

from genkit.errors import UserError

STRATEGIES = ("auto", "default", "mirrored", "multiworker")
MIXED_PRECISION_POLICIES = ("none", "mixed_float16", "mixed_bfloat16")


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
                f"{source}: unknown field '{unknown[0]}' for {cls.__name__}; "
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
    mixed_precision: str = "none"
    jit: bool = False
    time_limit: float | None = None
    num_sample_images: int = 64
    checkpoints_to_keep: int = 2
    log_every_steps: int = 10
    histograms: bool = True
    log_every_seconds: float | None = None

    def validate(self, source: str) -> None:
        require(self.epochs >= 1, source, "epochs", "must be >= 1", self.epochs)
        require(self.batch_size >= 1, source, "batch_size", "must be >= 1", self.batch_size)
        require(self.seed >= 0, source, "seed", "must be >= 0", self.seed)
        require(
            self.strategy in STRATEGIES, source, "strategy",
            f"must be one of {', '.join(STRATEGIES)}", self.strategy,
        )
        require(
            self.devices is None or self.devices >= 1, source, "devices", "must be >= 1", self.devices
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
            self.log_every_steps >= 1, source, "log_every_steps", "must be >= 1 (steps between TensorBoard step scalars)",
            self.log_every_steps,
        )
        require(
            self.log_every_seconds is None or self.log_every_seconds > 0, source, "log_every_seconds",
            "must be a positive number of seconds (between progress lines in a log)", self.log_every_seconds,
        )


def read_config_file(path: str | Path) -> dict[str, Any]:
    """Reads a YAML or JSON mapping; errors name the file."""
    path = Path(path)
    if path.suffix.lower() not in (".yaml", ".yml", ".json"):
        raise UserError(f"--config {path}: unsupported file type '{path.suffix}'; allowed: .yaml, .yml, .json")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise UserError(f"--config {path}: cannot read file ({error.strerror})") from None
    try:
        values = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as error:
        first_line = str(error).splitlines()[0]
        raise UserError(f"--config {path}: not valid {path.suffix[1:].upper()}: {first_line}") from None
    if values is None:
        return {}
    if not isinstance(values, dict):
        raise UserError(f"--config {path}: expected a mapping of field names to values")
    return values


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
        except yaml.YAMLError:
            value = text
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

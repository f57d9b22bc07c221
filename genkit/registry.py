"""The model registry: models register themselves by name; the CLI, loaders and exporters look them up."""

from __future__ import annotations

import dataclasses
from typing import Any

from genkit.errors import UserError


@dataclasses.dataclass(frozen=True)
class ModelEntry:
    """What the registry knows of one model."""

    name: str
    model_class: type
    config_class: type
    family: str
    description: str
    train_defaults: dict[str, Any]


_REGISTRY: dict[str, ModelEntry] = {}


def register_model(name: str, *, config: type, family: str, description: str, train_defaults=None):
    """Class decorator: ``@register_model("dcgan", config=DCGANConfig, family="gan", ...)``.

    ``train_defaults`` overrides :class:`~genkit.config.TrainConfig` defaults
    (epochs, batch size, ...) that suit this model.
    """

    def decorator(model_class):
        if name in _REGISTRY and _REGISTRY[name].model_class is not model_class:
            raise ValueError(f"A model named '{name}' is already registered. Received: name={name!r}")
        _REGISTRY[name] = ModelEntry(
            name=name,
            model_class=model_class,
            config_class=config,
            family=family,
            description=description,
            train_defaults=dict(train_defaults or {}),
        )
        model_class.registered_name = name
        return model_class

    return decorator


def _load_builtin_models() -> None:
    # Importing the models package runs every @register_model decorator.
    import genkit.models  # noqa: F401


def get_model_entry(name: str) -> ModelEntry:
    _load_builtin_models()
    if name not in _REGISTRY:
        raise UserError(f"unknown model '{name}'; registered models: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name]


def registered_models() -> list[ModelEntry]:
    _load_builtin_models()
    return [_REGISTRY[name] for name in sorted(_REGISTRY)]

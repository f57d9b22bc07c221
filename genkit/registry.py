"""The model registry: families register their models by name; the CLI, loaders and exporters look them up.

Families are found, not listed: every sub-package of :mod:`genkit.models` is
imported, then every entry point of the ``genkit.models`` group (how a
third-party package adds models: ``[project.entry-points."genkit.models"]
my_models = "my_package.models"``). Importing a family runs its
:func:`register_model` decorators.
"""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
import sys
from importlib.metadata import entry_points
from typing import Any

from genkit.errors import UserError

ENTRY_POINT_GROUP = "genkit.models"
BUILTIN_FAMILIES_PACKAGE = "genkit.models"


@dataclasses.dataclass(frozen=True)
class ModelEntry:
    """What the registry knows of one model."""

    name: str
    model_class: type
    config_class: type
    family: str
    description: str
    train_defaults: dict[str, Any]
    source: str  # the module that registered it (a plugin's, or genkit's own)
    tiny_overrides: tuple[str, ...] | None  # --set items that make it tiny for the shared test harness


_REGISTRY: dict[str, ModelEntry] = {}
_DISCOVERED = False
PLUGIN_ERRORS: list[str] = []


def register_model(
    name: str, *, config: type, family: str, description: str, train_defaults=None, tiny_overrides=None,
):
    """Class decorator: ``@register_model("dcgan", config=DCGANConfig, family="gan", description=...)``.

    Registers the class in genkit's registry and as a Keras serialisable
    object (package: the class's top-level package, ``genkit`` for genkit's
    own), so ``model.keras`` files reload. ``train_defaults`` overrides
    :class:`~genkit.config.TrainConfig` defaults (epochs, batch size, ...)
    that suit this model. ``tiny_overrides`` are the ``--set`` items that
    make it small enough for the shared test harness (seconds per step on a
    CPU); the harness refuses a model that does not give them (``()`` when
    the defaults are tiny already).
    """

    def decorator(model_class):
        import keras

        if name in _REGISTRY and _REGISTRY[name].model_class.__qualname__ != model_class.__qualname__:
            raise ValueError(
                f"A model named '{name}' is already registered by {_REGISTRY[name].source}. "
                f"Received: name={name!r} from {model_class.__module__}"
            )
        package = model_class.__module__.split(".")[0]
        model_class = keras.saving.register_keras_serializable(package=package)(model_class)
        _REGISTRY[name] = ModelEntry(
            name=name,
            model_class=model_class,
            config_class=config,
            family=family,
            description=description,
            train_defaults=dict(train_defaults or {}),
            source=model_class.__module__,
            tiny_overrides=None if tiny_overrides is None else tuple(tiny_overrides),
        )
        model_class.registered_name = name
        model_class.family = family
        return model_class

    return decorator


def discover_models() -> None:
    """Imports every built-in family package and every ``genkit.models`` entry point (once)."""
    global _DISCOVERED
    if _DISCOVERED:
        return
    _DISCOVERED = True
    package = importlib.import_module(BUILTIN_FAMILIES_PACKAGE)
    for module in pkgutil.iter_modules(package.__path__, prefix=BUILTIN_FAMILIES_PACKAGE + "."):
        if module.ispkg:
            importlib.import_module(module.name)
    for entry_point in entry_points(group=ENTRY_POINT_GROUP):
        try:
            entry_point.load()
        except Exception as error:  # noqa: BLE001 - a broken plugin must not break genkit
            message = f"genkit: plugin '{entry_point.name}' ({entry_point.value}) failed to load: {type(error).__name__}: {error}"
            PLUGIN_ERRORS.append(message)
            print(message, file=sys.stderr)


def get_model_entry(name: str) -> ModelEntry:
    discover_models()
    if name not in _REGISTRY:
        raise UserError(f"unknown model '{name}'; registered models: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name]


def registered_models() -> list[ModelEntry]:
    discover_models()
    return [_REGISTRY[name] for name in sorted(_REGISTRY)]

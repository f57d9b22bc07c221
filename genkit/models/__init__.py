"""genkit's model families, one sub-package each; :func:`genkit.registry.discover_models` imports them all.

Adding a family is adding a folder here (see docs/adding-a-model.md); nothing
else in genkit lists the families. ``import genkit.models`` registers every
family (and plugin), so plain ``keras.saving.load_model()`` reloads a
``model.keras``; ``from genkit.models import DCGAN, DCGANConfig`` finds any
registered model class or config class by its name.
"""

from genkit.registry import discover_models, registered_models

discover_models()


def __getattr__(name: str):
    for entry in registered_models():
        for candidate in (entry.model_class, entry.config_class):
            if candidate.__name__ == name:
                return candidate
    raise AttributeError(f"module 'genkit.models' has no attribute '{name}' (no registered model or config class of that name)")

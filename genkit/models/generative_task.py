"""The base class of genkit's trainable models: the contract between a family and the shared runtime."""

from __future__ import annotations

import keras
import numpy as np


class GenerativeTask(keras.Model):
    """A Keras model with a custom ``train_step`` that the genkit runtime can drive.

    A family subclasses this (and registers itself with
    :func:`genkit.registry.register_model`) and implements:

    - ``from_hyperparameters(config)``: build the networks from a typed config
      and the image shape of the data (``config.image_shape``).
    - ``compile_for_training(config, seed)``: create and build the optimizers
      (inside the active distribution strategy scope) and compile.
    - ``train_step(data)``: one update, returning a dict of scalar metrics.
    - ``checkpoint_objects()``: every object whose state a checkpoint must hold.
    - ``sample_inputs(num_samples, seed)``: generator inputs (e.g. ``{"z": ...}``).
    - ``generate(**inputs)``: images as float32 in [0, 1], shape [N, H, W, C].
    - ``serving_endpoints()``: ``{name: (function, input_signature)}`` for the
      TF Serving SavedModel; ``serving_default`` is required.

    ``data_scale`` says how the runtime scales training images ("tanh" for
    [-1, 1], "unit" for [0, 1]).
    """

    data_scale = "tanh"

    @classmethod
    def from_hyperparameters(cls, config):
        raise NotImplementedError(f"{cls.__name__} must implement from_hyperparameters(config).")

    def compile_for_training(self, config, seed: int = 0):
        raise NotImplementedError(f"{type(self).__name__} must implement compile_for_training().")

    def checkpoint_objects(self) -> dict:
        raise NotImplementedError(f"{type(self).__name__} must implement checkpoint_objects().")

    def sample_inputs(self, num_samples: int, seed: int) -> dict[str, np.ndarray]:
        raise NotImplementedError(f"{type(self).__name__} must implement sample_inputs().")

    def generate(self, **inputs):
        raise NotImplementedError(f"{type(self).__name__} must implement generate().")

    def serving_endpoints(self) -> dict:
        raise NotImplementedError(f"{type(self).__name__} must implement serving_endpoints().")

    def serving_description(self) -> dict:
        """Names, shapes and dtypes of each serving endpoint's inputs and outputs (for genkit.json)."""
        description = {}
        for name, (function, input_signature) in self.serving_endpoints().items():
            outputs = function(*[keras.ops.zeros([1, *spec.shape[1:]], dtype=spec.dtype.name) for spec in input_signature])
            description[name] = {
                "inputs": {
                    spec.name: {"dtype": spec.dtype.name, "shape": [None, *spec.shape[1:]]}
                    for spec in input_signature
                },
                "outputs": {
                    key: {"dtype": value.dtype.name, "shape": [None, *value.shape[1:]]}
                    for key, value in outputs.items()
                },
            }
        return description

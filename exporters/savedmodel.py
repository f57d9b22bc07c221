"""TF Serving SavedModels: ``<out>/<model_name>/<version>/`` with every serving signature, named inputs and outputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np

FILE_SUFFIX = ""  # a SavedModel is a folder


def write_savedmodel(model, endpoints, destination: Path) -> Path:
    """Writes a SavedModel of ``endpoints`` (each a signature of the same name) to ``destination``."""
    import keras

    archive = keras.export.ExportArchive()
    archive.track(model)
    for endpoint in endpoints:
        archive.add_endpoint(name=endpoint.name, fn=endpoint.checked_function, input_signature=endpoint.input_signature)
    destination.parent.mkdir(parents=True, exist_ok=True)
    archive.write_out(str(destination), verbose=False)
    return destination


class SavedModelRunner:
    """Runs one signature of a SavedModel loaded with plain TensorFlow (what TF Serving would run)."""

    runtime = "savedmodel"

    def __init__(self, path: Path, signature: str):
        import tensorflow as tf

        self._tf = tf
        self._loaded = tf.saved_model.load(str(path))
        self._function = self._loaded.signatures[signature]
        _, self._input_specs = self._function.structured_input_signature
        self.output_names = sorted(self._function.structured_outputs)

    @property
    def input_names(self) -> list[str]:
        return sorted(self._input_specs)

    def __call__(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        tensors = {
            name: self._tf.convert_to_tensor(inputs[name], dtype=spec.dtype)
            for name, spec in self._input_specs.items()
        }
        return {name: value.numpy() for name, value in self._function(**tensors).items()}


def describe(path: Path, signature: str) -> dict:
    """Input and output names, dtypes and shapes of one signature, read back from the SavedModel."""
    runner = SavedModelRunner(path, signature)
    function = runner._function
    return {
        "inputs": {
            name: {"dtype": spec.dtype.name, "shape": _shape(spec.shape)}
            for name, spec in sorted(runner._input_specs.items())
        },
        "outputs": {
            name: {"dtype": spec.dtype.name, "shape": _shape(spec.shape)}
            for name, spec in sorted(function.structured_outputs.items())
        },
    }


def _shape(shape) -> list:
    return [None if dim is None else int(dim) for dim in shape.as_list()]

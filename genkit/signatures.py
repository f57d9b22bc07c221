"""Declared inputs and outputs: what every endpoint of a model takes and gives, said once by the model.

A model declares each endpoint (a function that TF Serving, TFLite or ONNX
exports run) as an :class:`Endpoint` of :class:`TensorDeclaration` inputs and
outputs: name, modality, dtype, shape (batch dimension left out; ``None`` for
an unknown size), value range and, for a noise input, the distribution that
draws it. The runtime, ``genkit sample``, ``genkit evaluate``, the exporters,
an export's ``genkit.json`` and the edge apps read these declarations; nothing
guesses from shapes or probes with seeds.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import numpy as np

# What a tensor holds. A new modality (e.g. "video") is one more entry here.
MODALITIES = {
    "image": "images [N, H, W, C]",
    "audio": "waveforms or spectrograms",
    "text": "strings",
    "tokens": "integer token ids",
    "label": "integer class ids",
    "latent": "latent codes or noise",
    "state": "recurrent state carried between calls",
    "logits": "unnormalised log-probabilities",
    "scores": "probabilities, similarities or per-modality weights",
    "embedding": "vectors in a learned space (unit length where said)",
    "file": "encoded file contents (PNG, JPEG, WAV bytes)",
    "parameter": "a per-example setting (length, temperature, a seed, ...)",
}
DTYPES = ("float32", "float16", "int32", "int64", "uint8", "string")


@dataclasses.dataclass(frozen=True)
class StandardNormal:
    """Noise drawn as ``np.random.default_rng(seed).standard_normal((n, *shape)).astype('float32')``."""

    name = "standard_normal"

    def draw(self, num_samples: int, shape: tuple, seed: int) -> np.ndarray:
        return np.random.default_rng(seed).standard_normal((num_samples, *shape)).astype("float32")

    def describe(self, shape: tuple) -> dict:
        dims = ", ".join(str(d) for d in shape)
        return {
            "distribution": self.name,
            "numpy": f"np.random.default_rng(seed).standard_normal((n, {dims})).astype('float32')",
            "note": "genkit draws this input with this exact recipe; the same seed gives the same samples",
        }


@dataclasses.dataclass(frozen=True)
class ClassCycle:
    """Class ids in turn, ``(np.arange(n) % num_classes)``: every class equally often."""

    num_classes: int
    name = "class_cycle"

    def draw(self, num_samples: int, shape: tuple, seed: int) -> np.ndarray:
        return (np.arange(num_samples) % self.num_classes).astype(np.int32)

    def describe(self, shape: tuple) -> dict:
        return {
            "distribution": self.name,
            "numpy": f"(np.arange(n) % {self.num_classes}).astype('int32')",
            "num_classes": int(self.num_classes),
            "note": "genkit's default class ids: the classes in turn; pass one class id to generate it",
        }


@dataclasses.dataclass(frozen=True)
class TensorDeclaration:
    """One input or output of an endpoint.

    Args:
        name: the tensor's name in every export (SavedModel, TFLite, ONNX).
        modality: a key of :data:`MODALITIES`.
        dtype: a key of :data:`DTYPES`.
        shape: the shape without the batch dimension; ``None`` entries are unknown sizes.
        value_range: ``(low, high)`` of the values, when bounded.
        distribution: how genkit draws this input when nobody gives it (noise, class ids).
        description: one line for people.
    """

    name: str
    modality: str
    dtype: str
    shape: tuple = ()
    value_range: tuple[float, float] | None = None
    distribution: Any = None
    description: str = ""

    def __post_init__(self):
        if self.modality not in MODALITIES:
            raise ValueError(
                f"TensorDeclaration '{self.name}': modality must be one of {', '.join(MODALITIES)}. "
                f"Received: modality={self.modality!r}"
            )
        if self.dtype not in DTYPES:
            raise ValueError(
                f"TensorDeclaration '{self.name}': dtype must be one of {', '.join(DTYPES)}. Received: dtype={self.dtype!r}"
            )
        object.__setattr__(self, "shape", tuple(None if d is None else int(d) for d in self.shape))

    def tensor_spec(self):
        import tensorflow as tf

        return tf.TensorSpec([None, *self.shape], tf.dtypes.as_dtype(self.dtype), name=self.name)

    def draw(self, num_samples: int, seed: int) -> np.ndarray:
        """``num_samples`` values drawn from this input's distribution (an error for an input that has none)."""
        if self.distribution is None:
            raise ValueError(f"input '{self.name}' declares no distribution to draw it from")
        return self.distribution.draw(num_samples, self.shape, seed)

    def input_checks(self, tensor) -> list:
        """Assertions a served request must pass for this input, each failing with a message naming it:
        floats finite, values within the declared range."""
        import tensorflow as tf

        checks = []
        if self.dtype in ("float32", "float16"):
            checks.append(tf.debugging.assert_equal(
                tf.reduce_all(tf.math.is_finite(tensor)), True, message=f"input {self.name} must be finite (no NaN or inf)",
            ))
        if self.value_range is not None and self.dtype != "string":
            low, high = self.value_range
            message = f"input {self.name} must be in [{low:g}, {high:g}]"
            checks.append(tf.debugging.assert_greater_equal(tensor, tf.cast(low, tensor.dtype), message=message))
            checks.append(tf.debugging.assert_less_equal(tensor, tf.cast(high, tensor.dtype), message=message))
        return checks

    def describe(self) -> dict:
        """The JSON description in run and export metadata."""
        description = {"dtype": self.dtype, "shape": [None, *self.shape], "modality": self.modality}
        if self.value_range is not None:
            description["range"] = [float(v) for v in self.value_range]
        if self.distribution is not None:
            description["sampling"] = self.distribution.describe(self.shape)
        return description


# Rows one served request may hold unless an endpoint says otherwise: a 10**6-row request would hold a TF
# Serving worker for minutes and gigabytes (benchmarks/serving_worst_case.py); 1,024 rows of the heaviest
# one-pass endpoint (a fusion classifier) take about a second on a 2-core CPU.
DEFAULT_MAX_ROWS = 1024


@dataclasses.dataclass(frozen=True)
class Endpoint:
    """A function a model serves or exports: ``function(*inputs) -> {output name: tensor}``.

    ``serving``: part of the TF Serving SavedModel; ``edge``: converted to
    TFLite and ONNX (builtin ops only: no strings, no random ops).
    ``max_rows``: the most examples one served request may hold, named
    ``row_name`` in the error: ``DEFAULT_MAX_ROWS`` unless the endpoint sets
    its own (fewer where a row costs a decoding loop); None leaves it
    unbounded. Edge exports are not bounded (the app owns its batch).
    """

    name: str
    function: Callable
    inputs: tuple[TensorDeclaration, ...]
    outputs: tuple[TensorDeclaration, ...]
    serving: bool = True
    edge: bool = True
    max_rows: int | None = DEFAULT_MAX_ROWS
    row_name: str = "rows"

    @property
    def input_signature(self) -> list:
        return [declaration.tensor_spec() for declaration in self.inputs]

    @property
    def checked_function(self) -> Callable:
        """``function`` behind the checks of its declared inputs (:meth:`TensorDeclaration.input_checks`): what the
        TF Serving SavedModels run, so a request with NaN noise, an image outside [0, 1], a class id out of range
        or more than ``max_rows`` examples gets an error naming the input instead of an output. Edge exports
        convert ``function`` itself (builtin ops only)."""
        import tensorflow as tf

        def checked(*values):
            checks = [check for declaration, value in zip(self.inputs, values) for check in declaration.input_checks(value)]
            if self.max_rows is not None:
                checks.append(tf.debugging.assert_less_equal(
                    tf.shape(values[0])[0], self.max_rows, message=f"at most {self.max_rows} {self.row_name} per request",
                ))
            with tf.control_dependencies(checks):
                values = [tf.identity(value) for value in values]
            return self.function(*values)

        return checked

    @property
    def input_names(self) -> list[str]:
        return [declaration.name for declaration in self.inputs]

    def input(self, name: str) -> TensorDeclaration:
        return next(d for d in self.inputs if d.name == name)

    def output(self, name: str) -> TensorDeclaration:
        return next(d for d in self.outputs if d.name == name)

    def outputs_of(self, modality: str) -> list[TensorDeclaration]:
        return [d for d in self.outputs if d.modality == modality]

    def describe(self) -> dict:
        description = {
            "inputs": {d.name: d.describe() for d in self.inputs},
            "outputs": {d.name: d.describe() for d in self.outputs},
        }
        if self.max_rows is not None:
            description["max_rows"] = self.max_rows
        return description

    def tf_function(self):
        """The endpoint traced with its input signature."""
        import tensorflow as tf

        return tf.function(self.function, input_signature=self.input_signature)

    def call(self, inputs: dict[str, np.ndarray], function: Callable | None = None) -> dict[str, np.ndarray]:
        """Runs the endpoint (eagerly, or ``function``, e.g. its ``tf_function()``) on numpy inputs; numpy outputs."""
        import tensorflow as tf

        tensors = [tf.convert_to_tensor(inputs[d.name], dtype=tf.dtypes.as_dtype(d.dtype)) for d in self.inputs]
        return {name: np.asarray(value) for name, value in (function or self.function)(*tensors).items()}

"""TFLite (LiteRT) files: float32, float16, dynamic-range or full-integer int8, builtin ops only by default.

Each edge endpoint becomes ``<endpoint>.tflite`` with one signature of the
same name, converted from a SavedModel of the endpoint so the file keeps the
endpoint's input and output names. Files are run and checked with the
``ai-edge-litert`` interpreter.
"""

from __future__ import annotations

import collections
import re
import warnings

import numpy as np

from genkit.errors import UserError

QUANTIZATIONS = ("none", "float16", "dynamic", "int8")
FILE_SUFFIX = ".tflite"
# Calibration of full-integer quantisation: batches of example inputs drawn from the run's data.
CALIBRATION_BATCHES = 32
CALIBRATION_BATCH_SIZE = 8


def convert(
    saved_model_dir,
    endpoint,
    quantize: str = "none",
    int8_io: bool = False,
    allow_flex: bool = False,
    calibration_inputs=None,
) -> bytes:
    """Converts one signature of ``saved_model_dir`` to a TFLite flatbuffer.

    ``calibration_inputs(batch_index) -> {input_name: array}`` feeds the
    int8 representative dataset. A graph that needs TensorFlow (Flex) ops is
    a :class:`UserError` naming them unless ``allow_flex``.
    """
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_model_dir), signature_keys=[endpoint.name])
    builtin = tf.lite.OpsSet.TFLITE_BUILTINS_INT8 if quantize == "int8" else tf.lite.OpsSet.TFLITE_BUILTINS
    ops = [builtin]
    if allow_flex:
        ops.append(tf.lite.OpsSet.SELECT_TF_OPS)
        converter._experimental_lower_tensor_list_ops = False  # keep TensorList ops (RNNs) as Flex ops
    if quantize == "int8" and allow_flex:
        ops.append(tf.lite.OpsSet.TFLITE_BUILTINS)
    converter.target_spec.supported_ops = ops
    if quantize != "none":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantize in ("dynamic", "int8"):
        # One scale per dense weight matrix, not one per output unit: a generator's projection to
        # H*W*C units would otherwise carry thousands of scales and zero points (DCGAN: int8 file
        # 33% -> 26% of float32, same error).
        converter._experimental_disable_per_channel_quantization_for_dense_layers = True
    if quantize == "float16":
        converter.target_spec.supported_types = [tf.float16]
    if quantize == "int8":
        def representative_dataset():
            for index in range(CALIBRATION_BATCHES):
                yield calibration_inputs(index)

        converter.representative_dataset = representative_dataset
        if int8_io:
            converter.inference_input_type = tf.int8
            converter.inference_output_type = tf.int8
    try:
        with warnings.catch_warnings():
            # The calibrator itself still uses the deprecated tf.lite.Interpreter.
            warnings.filterwarnings("ignore", message=r"(?s).*tf\.lite\.Interpreter is deprecated")
            return converter.convert()
    except Exception as error:  # ConverterError and the calibrator's errors
        message = str(error)
        flex_ops = sorted(set(_named_ops(message, "TF Select ops:")) | set(_illegal_ops(message)))
        custom_ops = _named_ops(message, "Custom ops:")
        if flex_ops and not allow_flex:
            flex_ops = _all_flex_ops(saved_model_dir, endpoint) or flex_ops
            raise UserError(
                f"--format tflite: signature '{endpoint.name}' needs TensorFlow (Flex) ops not in the builtin "
                f"TFLite op set: {', '.join(flex_ops)}; pass --allow-flex to export it anyway (the app then needs "
                "the Flex delegate)"
            ) from None
        if custom_ops:
            raise UserError(
                f"--format tflite: signature '{endpoint.name}' needs ops TFLite does not have: {', '.join(custom_ops)}"
            ) from None
        last_line = next((line for line in reversed(message.strip().splitlines()) if line.strip()), type(error).__name__)
        raise UserError(
            f"--format tflite --quantize {quantize}: signature '{endpoint.name}' cannot be converted "
            f"({last_line.strip()[:300]})"
        ) from None


def _all_flex_ops(saved_model_dir, endpoint) -> list[str]:
    """Every TensorFlow op the graph keeps when Flex is allowed (the builtin-only error names only the first)."""
    try:
        content = convert(saved_model_dir, endpoint, allow_flex=True)
    except UserError:
        return []
    return [name.removeprefix("Flex") for name in flex_ops(op_counts(content))]


def _illegal_ops(message: str) -> list[str]:
    # Ops the builtin set cannot express, e.g. the TensorList ops of a whole-sequence Keras LSTM.
    return re.findall(r"failed to legalize operation 'tf\.(\w+)'", message)


def _named_ops(message: str, marker: str) -> list[str]:
    names = []
    for line in message.splitlines():
        if line.strip().startswith(marker):
            names += [name.strip() for name in line.split(":", 1)[1].split(",") if name.strip()]
    return sorted(set(names))


def _interpreter(path_or_content):
    from ai_edge_litert.interpreter import Interpreter

    if isinstance(path_or_content, bytes):
        return Interpreter(model_content=path_or_content)
    return Interpreter(model_path=str(path_or_content))


def op_counts(path_or_content) -> dict[str, int]:
    """How many of each op the file's graph holds (e.g. {"TRANSPOSE_CONV": 2, ...})."""
    interpreter = _interpreter(path_or_content)
    counts = collections.Counter(op["op_name"] for op in interpreter._get_ops_details())
    return dict(sorted(counts.items()))


def flex_ops(op_names) -> list[str]:
    return sorted(name for name in op_names if re.match(r"^Flex", name) or name == "DELEGATE")


class TFLiteRunner:
    """Runs one signature of a .tflite file with the ai-edge-litert interpreter.

    Float inputs of an int8-I/O file are quantised with the file's scale and
    zero point, and int8 outputs dequantised, so callers pass and get floats.
    """

    runtime = "tflite"

    def __init__(self, path, signature: str, num_threads: int | None = None):
        from ai_edge_litert.interpreter import Interpreter

        self._interpreter = Interpreter(model_path=str(path), num_threads=num_threads)
        self._runner = self._interpreter.get_signature_runner(signature)
        self.input_details = self._runner.get_input_details()
        self.output_details = self._runner.get_output_details()

    @property
    def input_names(self) -> list[str]:
        return sorted(self.input_details)

    def __call__(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        feed = {name: quantize(np.asarray(inputs[name]), detail) for name, detail in self.input_details.items()}
        outputs = self._runner(**feed)
        return {name: dequantize(value, self.output_details[name]) for name, value in outputs.items()}


def quantize(values: np.ndarray, detail: dict) -> np.ndarray:
    dtype = np.dtype(detail["dtype"])
    scale, zero_point = detail["quantization"]
    if dtype in (np.int8, np.uint8) and scale and values.dtype.kind == "f":
        info = np.iinfo(dtype)
        return np.clip(np.round(values / scale + zero_point), info.min, info.max).astype(dtype)
    return values.astype(dtype, copy=False)


def dequantize(values: np.ndarray, detail: dict) -> np.ndarray:
    scale, zero_point = detail["quantization"]
    if np.dtype(detail["dtype"]) in (np.int8, np.uint8) and scale:
        return ((values.astype(np.float32) - zero_point) * scale).astype(np.float32)
    return values


def describe(path, signature: str) -> dict:
    """Names, dtypes, shapes (and int8 scale/zero point) of one signature, read back from the file."""
    runner = TFLiteRunner(path, signature)

    def entry(detail):
        description = {
            "dtype": np.dtype(detail["dtype"]).name,
            "shape": [None if d < 0 else int(d) for d in detail["shape_signature"]],
        }
        scale, zero_point = detail["quantization"]
        if scale:
            description["quantization"] = {"scale": float(scale), "zero_point": int(zero_point)}
        return description

    return {
        "inputs": {name: entry(detail) for name, detail in sorted(runner.input_details.items())},
        "outputs": {name: entry(detail) for name, detail in sorted(runner.output_details.items())},
    }

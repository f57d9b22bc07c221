"""ONNX files through tf2onnx: opset 17 by default (13-18), a dynamic batch dimension, checked and run with onnxruntime.

Each edge endpoint becomes ``<endpoint>.onnx``; graph inputs and outputs
carry the endpoint's names (``z``, ``images``, ...) and the batch dimension is
the symbolic ``batch``.
"""

from __future__ import annotations

import numpy as np

from genkit.errors import UserError

DEFAULT_OPSET = 17
OPSETS = range(13, 19)
FILE_SUFFIX = ".onnx"
BATCH_DIMENSION = "batch"


def convert(endpoint, opset: int = DEFAULT_OPSET):
    """The endpoint as a checked ``onnx.ModelProto``; a :class:`UserError` when it cannot be converted."""
    import onnx
    import tf2onnx

    overlap = _input_output_overlap(endpoint)
    if overlap:
        raise UserError(
            f"--format onnx: signature '{endpoint.name}' has '{overlap}' as both an input and an output name, "
            "which ONNX forbids"
        )
    try:
        proto, _ = tf2onnx.convert.from_function(
            endpoint.tf_function(), input_signature=endpoint.input_signature, opset=opset
        )
    except Exception as error:  # tf2onnx raises plain exceptions for ops it cannot map
        first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise UserError(
            f"--format onnx: signature '{endpoint.name}' cannot be converted to ONNX opset {opset} ({first_line[:300]})"
        ) from None
    _rename_batch_dimension(proto)
    expected = set(endpoint.input_names)
    received = {value.name for value in proto.graph.input}
    if received != expected:
        raise RuntimeError(f"ONNX inputs {sorted(received)} do not carry the signature's names {sorted(expected)}")
    proto.producer_name = "genkit"
    onnx.checker.check_model(proto, full_check=True)
    return proto


def _input_output_overlap(endpoint) -> str | None:
    overlap = sorted({d.name for d in endpoint.outputs} & set(endpoint.input_names))
    return overlap[0] if overlap else None


def _rename_batch_dimension(proto) -> None:
    """tf2onnx names unknown dimensions ``unk__N``: the leading one of every input and output is the batch."""
    for value in [*proto.graph.input, *proto.graph.output]:
        dims = value.type.tensor_type.shape.dim
        if dims and not dims[0].HasField("dim_value"):
            dims[0].dim_param = BATCH_DIMENSION


def opset_of(proto) -> int:
    return max(entry.version for entry in proto.opset_import if entry.domain in ("", "ai.onnx"))


class ONNXRunner:
    """Runs an .onnx file with onnxruntime on the CPU."""

    runtime = "onnx"

    def __init__(self, path, signature: str | None = None, num_threads: int | None = None):
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3
        if num_threads:
            options.intra_op_num_threads = num_threads
        self._session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self._inputs = {value.name: value for value in self._session.get_inputs()}
        self.output_names = [value.name for value in self._session.get_outputs()]

    @property
    def input_names(self) -> list[str]:
        return sorted(self._inputs)

    def __call__(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        feed = {name: np.asarray(inputs[name], dtype=_numpy_dtype(value.type)) for name, value in self._inputs.items()}
        return dict(zip(self.output_names, self._session.run(self.output_names, feed)))


def _numpy_dtype(onnx_type: str):
    return {"tensor(float)": np.float32, "tensor(int32)": np.int32, "tensor(int64)": np.int64}.get(onnx_type, None)


def describe(proto) -> dict:
    import onnx

    def entry(value):
        tensor_type = value.type.tensor_type
        return {
            "dtype": np.dtype(onnx.helper.tensor_dtype_to_np_dtype(tensor_type.elem_type)).name,
            "shape": [dim.dim_value if dim.HasField("dim_value") else None for dim in tensor_type.shape.dim],
        }

    return {
        "inputs": {value.name: entry(value) for value in sorted(proto.graph.input, key=lambda v: v.name)},
        "outputs": {value.name: entry(value) for value in sorted(proto.graph.output, key=lambda v: v.name)},
    }

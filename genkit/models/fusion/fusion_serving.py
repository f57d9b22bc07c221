"""What a fusion classifier serves: four endpoints over one classification (raw inputs, inputs with a presence
mask, file bytes, and the encoded inputs the TFLite/ONNX exports take), their inputs and outputs declared."""

from __future__ import annotations

from genkit.signatures import Endpoint, TensorDeclaration


def output_declarations(model, with_strings: bool = True) -> tuple:
    """The classification's outputs: probabilities, the class id, each input's share and (``with_strings``) the
    class name, which the TFLite/ONNX exports leave out."""
    count, modalities = len(model.class_names), len(model.preprocessor.input_names)
    declarations = [
        TensorDeclaration("probabilities", "scores", "float32", (count,), (0.0, 1.0), description="class probabilities"),
        TensorDeclaration("class_id", "label", "int32", (), (0, count - 1), description="the most probable class"),
        TensorDeclaration(
            "modality_weights", "scores", "float32", (modalities,), (0.0, 1.0),
            description=f"each input's share of the fusion ({', '.join(model.preprocessor.input_names)})",
        ),
    ]
    if with_strings:
        declarations.append(TensorDeclaration("label", "text", "string", (), description="the most probable class name"))
    return tuple(declarations)


def fusion_endpoints(model) -> dict[str, Endpoint]:
    """``serving_default`` (raw inputs), ``classify_partial`` (raw inputs and a presence mask), ``classify_files``
    (PNG/JPEG/WAV bytes) and ``classify_encoded`` (word ids and spectrograms: the TFLite/ONNX exports)."""
    raw = tuple(model.raw_declarations())
    names = model.preprocessor.input_names
    present = TensorDeclaration(
        "present", "parameter", "float32", (len(names),), (0.0, 1.0),
        description=f"1 where an input is given, 0 where it is missing ({', '.join(names)})",
    )

    def classify(*values):
        encoded = model.preprocessor(dict(zip(names, values)))
        return model._outputs(encoded, model._all_present(values[0]))

    def classify_partial(*values):
        encoded = model.preprocessor(dict(zip(names, values[:-1])))
        return model._outputs(encoded, values[-1])

    files = tuple(model.file_declarations())

    def classify_files(*values):
        raw_inputs = model.preprocessor.decode_files(dict(zip([d.name for d in files], values)))
        encoded = model.preprocessor(raw_inputs)
        return model._outputs(encoded, model._all_present(values[0]))

    edge = tuple(model.encoded_declarations())

    def classify_encoded(*values):
        encoded = dict(zip(names, values[:-1]))
        return model._outputs(encoded, values[-1], with_strings=False)

    outputs = output_declarations(model, )
    return {
        "serving_default": Endpoint("serving_default", classify, raw, outputs, edge=False),
        "classify_partial": Endpoint("classify_partial", classify_partial, (*raw, present), outputs, edge=False),
        "classify_files": Endpoint("classify_files", classify_files, files, outputs, edge=False),
        "classify_encoded": Endpoint(
            "classify_encoded", classify_encoded, (*edge, present), output_declarations(model, False), serving=False,
        ),
    }

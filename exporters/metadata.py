"""genkit.json of an export folder: everything an edge app needs beside the exported files.

Signature names with their input and output specs (names, dtypes, shapes,
int8 scale and zero point), how genkit draws each noise input, the value
range of image outputs, the label names, the run's data description, and
whatever the model's ``export_metadata()`` adds (a text model's vocabulary).
"""

from __future__ import annotations

import datetime

import numpy as np

EXPORT_FORMAT_VERSION = 1
STANDARD_NORMAL_RECIPE = "np.random.default_rng(seed).standard_normal((n, {dims})).astype('float32')"


def describe_sampling(model, endpoint) -> dict[str, dict]:
    """How genkit draws each input of ``endpoint`` that ``sample_inputs`` provides.

    An input is described as standard normal only when ``sample_inputs``
    gives exactly ``np.random.default_rng(seed).standard_normal((n, ...))``
    for several seeds — so an app that follows the recipe reproduces genkit.
    """
    described = {}
    try:
        drawn = [(seed, model.sample_inputs(3, seed)) for seed in (0, 1, 7)]
    except Exception:  # noqa: BLE001 - a model whose samples are not drawn from inputs (e.g. text prompts)
        return described
    if not all(isinstance(inputs, dict) for _, inputs in drawn):
        return described
    num_classes = getattr(model, "num_classes", None)
    for spec in endpoint.input_signature:
        name = spec.name
        if not all(name in inputs for _, inputs in drawn):
            continue
        if spec.dtype.is_integer and num_classes:
            count = 2 * int(num_classes) + 1
            if np.array_equal(np.asarray(model.sample_inputs(count, 0)[name]), np.arange(count) % num_classes):
                described[name] = {
                    "distribution": "class_cycle",
                    "numpy": f"(np.arange(n) % {num_classes}).astype('int32')",
                    "num_classes": int(num_classes),
                    "note": "genkit's default class ids: the classes in turn; pass one class id to generate it",
                }
            continue
        if spec.dtype.name != "float32":
            continue
        shape = tuple(np.asarray(drawn[0][1][name]).shape[1:])
        if all(
            np.array_equal(
                np.asarray(inputs[name]),
                np.random.default_rng(seed).standard_normal((3, *shape)).astype("float32"),
            )
            for seed, inputs in drawn
        ):
            dims = ", ".join(str(d) for d in shape)
            described[name] = {
                "distribution": "standard_normal",
                "numpy": STANDARD_NORMAL_RECIPE.format(dims=dims),
                "note": "genkit draws this input with this exact recipe; the same seed gives the same samples",
            }
    return described


def _output_range(spec: dict) -> list | None:
    # genkit's generators return images as float32 [N, H, W, C] in [0, 1] (GenerativeTask.generate).
    shape = spec.get("shape", [])
    if len(shape) == 4 and spec.get("dtype") == "float32" and shape[-1] in (1, 3, 4):
        return [0.0, 1.0]
    return None


def export_document(source, format_name: str, options: dict, signatures: dict, extra: dict | None = None) -> dict:
    """The export's genkit.json.

    ``signatures``: ``{name: {"file": ..., "inputs": {...}, "outputs": {...}}}``
    as read back from the exported files.
    """
    model, metadata = source.model, source.metadata
    edge = {endpoint.name: endpoint for endpoint in source.endpoints("edge")}
    serving = {endpoint.name: endpoint for endpoint in source.endpoints("serving")}
    described = {}
    for name, signature in signatures.items():
        endpoint = edge.get(name) or serving.get(name)
        sampling = describe_sampling(model, endpoint) if endpoint is not None else {}
        inputs = {
            input_name: {**spec, **({"sampling": sampling[input_name]} if input_name in sampling else {})}
            for input_name, spec in signature["inputs"].items()
        }
        outputs = {}
        for output_name, spec in signature["outputs"].items():
            value_range = _output_range(spec)
            outputs[output_name] = {**spec, **({"range": value_range} if value_range else {})}
        described[name] = {**signature, "inputs": inputs, "outputs": outputs}
    data = metadata.get("data", {})
    document = {
        "format": "genkit-export",
        "format_version": EXPORT_FORMAT_VERSION,
        "export": {
            "format": format_name,
            **options,
            "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        },
        "model": metadata["model"],
        "family": metadata.get("family"),
        "description": metadata.get("description"),
        "run": {
            "path": str(source.run.path.resolve()),
            "created": metadata.get("created"),
            "config": metadata.get("config"),
            "serving_version": metadata.get("serving", {}).get("version"),
        },
        "signatures": described,
        "labels": data.get("label_names"),
        "data": data,
        **(extra or {}),
    }
    export_metadata = model.export_metadata() if hasattr(model, "export_metadata") else {}
    return _merge(document, export_metadata or {})


def _merge(base: dict, update: dict) -> dict:
    merged = dict(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged

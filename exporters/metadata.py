"""genkit.json of an export folder: everything an edge app needs beside the exported files.

Signature names with their input and output specs as read back from the
exported files (names, dtypes, shapes, int8 scale and zero point) and as the
model declares them (modality, value range, and how genkit draws each noise
or class input), the label names, the run's data description, and whatever
the model's ``export_metadata()`` adds (a text model's vocabulary).
"""

from __future__ import annotations

import datetime

EXPORT_FORMAT_VERSION = 1


def _declared(description: dict, declaration) -> dict:
    """A tensor as read back from the exported file, with what the model declares of it
    (modality, value range, and for a noise or class input the recipe that draws it)."""
    declared = declaration.describe()
    return {**description, **{key: declared[key] for key in ("modality", "range", "sampling") if key in declared}}


def export_document(source, format_name: str, options: dict, signatures: dict, extra: dict | None = None) -> dict:
    """The export's genkit.json.

    ``signatures``: ``{name: {"file": ..., "inputs": {...}, "outputs": {...}}}``
    as read back from the exported files.
    """
    model, metadata = source.model, source.metadata
    declared = model.endpoints()
    described = {}
    for name, signature in signatures.items():
        endpoint = declared[name]
        inputs = {key: _declared(spec, endpoint.input(key)) for key, spec in signature["inputs"].items()}
        outputs = {key: _declared(spec, endpoint.output(key)) for key, spec in signature["outputs"].items()}
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

"""The cost of a quantised export in the task's own metric, through the model's ``export_quality`` hook."""

from __future__ import annotations

import numpy as np

DEFAULT_QUALITY_SAMPLES = 1000


def export_quality(model, endpoint: str, run_export, data=None, num_samples: int = DEFAULT_QUALITY_SAMPLES, seed: int = 0) -> dict:
    """``model.export_quality(...)``: Keras against the export on the same inputs, in the task's metric.

    ``run_export({input_name: array}) -> {output_name: array}`` runs the
    exported file. Models without the hook get the generic image comparison.
    """
    hook = getattr(model, "export_quality", None)
    if hook is not None:
        return hook(endpoint, run_export, data=data, num_samples=num_samples, seed=seed)
    return image_quality_delta(model, endpoint, run_export, data=data, num_samples=num_samples, seed=seed)


def run_in_batches(function, inputs: dict[str, np.ndarray], batch_size: int = 250) -> dict[str, np.ndarray]:
    """``function`` over row slices of ``inputs``, outputs concatenated."""
    count = len(next(iter(inputs.values())))
    parts = [function({k: v[start : start + batch_size] for k, v in inputs.items()}) for start in range(0, count, batch_size)]
    return {name: np.concatenate([np.asarray(part[name]) for part in parts]) for name in parts[0]}


def _is_image_batch(array: np.ndarray) -> bool:
    return array.ndim == 4 and array.dtype.kind == "f" and array.shape[-1] in (1, 3, 4)


def _reference_images(data):
    """The run's held-out images as float32 [N,H,W,C] in [0, 1] (test split, else the training split)."""
    for split in ("test_images", "train_images"):
        images = getattr(data, split, None)
        if images is not None and len(images):
            return np.asarray(images, np.float32) / 255.0, split.replace("_images", "")
    return None, None


def image_quality_delta(model, endpoint: str, run_export, data=None, num_samples: int = DEFAULT_QUALITY_SAMPLES, seed: int = 0) -> dict:
    """Generic default: for each image output, FID/KID (and precision/recall) of the export vs of Keras.

    Both sides generate from the same inputs (``endpoint_inputs``) and are
    compared with the run's test images; the deltas are export minus Keras.
    """
    from exporters.source import Endpoint, endpoint_inputs

    endpoints = model.edge_endpoints() if hasattr(model, "edge_endpoints") else model.serving_endpoints()
    function, signature = endpoints[endpoint]
    wrapped = Endpoint(endpoint, function, list(signature))
    try:
        inputs = endpoint_inputs(model, wrapped, num_samples, seed, data)
    except NotImplementedError:
        return {"skipped": f"no example inputs for '{endpoint}'"}
    inputs = {name: np.asarray(inputs[name]) for name in wrapped.input_names}
    keras_outputs = run_in_batches(wrapped.call, inputs)
    export_outputs = run_in_batches(run_export, inputs)
    image_outputs = [name for name, value in keras_outputs.items() if _is_image_batch(value)]
    if not image_outputs:
        return {"skipped": f"no task metric for outputs {sorted(keras_outputs)} (not images)"}
    reference, split = _reference_images(data)
    if reference is None:
        return {"skipped": "the run's images are not available here (no reference for FID/KID)"}
    try:
        from genkit.evaluation import image_generation_metrics, load_feature_extractor
    except ImportError:
        return {"skipped": "genkit.evaluation (FID/KID) is not available in this genkit"}
    extractor = load_feature_extractor(name=_feature_name(data))
    result = {"metric": "fid_kid", "num_samples": int(num_samples), "reference": f"{data.name} {split} split ({len(reference)} images)", "outputs": {}}
    for name in image_outputs:
        if keras_outputs[name].shape[1:] != reference.shape[1:]:
            result["outputs"][name] = {"skipped": f"shape {keras_outputs[name].shape[1:]} differs from the data's"}
            continue
        keras_metrics = image_generation_metrics(np.clip(keras_outputs[name], 0, 1), reference, extractor, seed=seed)
        export_metrics = image_generation_metrics(np.clip(export_outputs[name], 0, 1), reference, extractor, seed=seed)
        entry = {"keras": _floats(keras_metrics), "export": _floats(export_metrics)}
        for key in ("fid", "kid", "precision", "recall"):
            if key in keras_metrics and key in export_metrics:
                entry[f"{key}_delta"] = float(export_metrics[key]) - float(keras_metrics[key])
        result["outputs"][name] = entry
    return result


def _feature_name(data) -> str:
    return "fashion_mnist"


def _floats(metrics: dict) -> dict:
    return {key: float(value) for key, value in metrics.items() if isinstance(value, (int, float, np.floating, np.integer))}


def summary(quality: dict | None) -> str:
    """One short cell for the printed table, e.g. 'FID +1.23'."""
    if not quality:
        return ""
    if "skipped" in quality:
        return "n/a"
    if "summary" in quality:
        return str(quality["summary"])
    cells = []
    for entry in quality.get("outputs", {}).values():
        if "fid_delta" in entry:
            cells.append(f"FID {entry['fid_delta']:+.2f}")
        if "kid_delta" in entry:
            cells.append(f"KID {entry['kid_delta']:+.4f}")
    return ", ".join(cells)

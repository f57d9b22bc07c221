"""What a quantised export costs in an image model's own metric: FID/KID of the export's images vs Keras'.

What :meth:`ImageGenerationTask.export_quality` measures, for the outputs an
endpoint declares as images; plus the helpers every task's export cost uses.
"""

from __future__ import annotations

import numpy as np

DEFAULT_QUALITY_SAMPLES = 1000


def run_in_batches(function, inputs: dict[str, np.ndarray], batch_size: int = 250) -> dict[str, np.ndarray]:
    """``function({name: rows})`` over row slices of ``inputs``; outputs concatenated."""
    count = len(next(iter(inputs.values())))
    parts = [
        function({name: value[start : start + batch_size] for name, value in inputs.items()})
        for start in range(0, count, batch_size)
    ]
    return {name: np.concatenate([np.asarray(part[name]) for part in parts]) for name in parts[0]}


def aligned_rows(inputs: dict) -> dict[str, np.ndarray]:
    """The inputs cut to their smallest row count (example inputs drawn from a small dataset may have fewer images)."""
    count = min(len(value) for value in inputs.values())
    return {name: np.asarray(value)[:count] for name, value in inputs.items()}


def endpoint_runner(model, endpoint: str):
    """A numpy-in, numpy-out runner of one of ``model``'s endpoints (Keras, eager)."""
    return model.endpoints()[endpoint].call


def reference_images(data):
    """The run's held-out images as float32 [N, H, W, C] in [0, 1] (test split, else training split)."""
    for split in ("test", "train"):
        images = getattr(data, f"{split}_images", None)
        if images is not None and len(images):
            return np.asarray(images, np.float32) / 255.0, split
    return None, None


def image_quality_delta(model, endpoint: str, run_export, data=None, num_samples: int = DEFAULT_QUALITY_SAMPLES,
                        seed: int = 0, features: str = "fashion_mnist") -> dict:
    """For each image output: FID, KID, precision and recall of Keras' and of the export's images
    (and, for an output that reconstructs an image input, both sides' reconstruction error).

    Both generate from the same ``endpoint_inputs(endpoint, num_samples,
    seed, data)`` and are compared with the run's test images; each
    ``*_delta`` is export minus Keras (FID/KID: positive = the export is worse).
    ``fid_seed_noise`` is how much Keras' own FID moves with the next seed's
    inputs: a delta below it is noise.
    """
    try:
        inputs = model.endpoint_inputs(endpoint, num_samples, seed, data=data)
    except NotImplementedError:
        return {"skipped": f"no example inputs for '{endpoint}'"}
    inputs = aligned_rows(inputs)
    declared = model.endpoints()[endpoint]
    image_outputs = sorted(d.name for d in declared.outputs_of("image"))
    if not image_outputs:
        return {"skipped": f"no task metric for outputs {declared.describe()['outputs'].keys()} (not images)"}
    keras_runner = endpoint_runner(model, endpoint)
    keras_outputs = run_in_batches(keras_runner, inputs)
    export_outputs = run_in_batches(run_export, inputs)
    reconstruction = _reconstruction_errors(declared, inputs, keras_outputs, export_outputs)
    reference, split = reference_images(data)
    if reference is None:
        skipped = {"skipped": "the run's images are not available here (no reference for FID/KID)"}
        return {**skipped, "reconstruction": reconstruction} if reconstruction else skipped
    try:
        from genkit.evaluation import image_generation_metrics, load_feature_extractor
    except ImportError:
        return {"skipped": "genkit.evaluation (FID/KID) is not available in this genkit"}
    extractor = load_feature_extractor(name=features)
    reference_features = other_outputs = None
    result = {
        "metric": "fid_kid",
        "features": features,
        "num_samples": int(len(next(iter(inputs.values())))),
        "reference": f"{getattr(data, 'name', 'data')} {split} split ({len(reference)} images)",
        "outputs": {},
    }
    for name in image_outputs:
        if keras_outputs[name].shape[1:] != reference.shape[1:]:
            result["outputs"][name] = {"skipped": f"shape {list(keras_outputs[name].shape[1:])} differs from the data's"}
            continue
        if reference_features is None:
            reference_features = extractor.features(reference)
        measured = {
            side: image_generation_metrics(
                np.clip(outputs[name], 0.0, 1.0), None, extractor, seed=seed, reference_features=reference_features
            )
            for side, outputs in (("keras", keras_outputs), ("export", export_outputs))
        }
        entry = {side: _numbers(values) for side, values in measured.items()}
        for key in ("fid", "kid", "precision", "recall"):
            if key in entry["keras"] and key in entry["export"]:
                entry[f"{key}_delta"] = entry["export"][key] - entry["keras"][key]
        # The noise floor of the deltas: Keras itself on inputs of the next seed.
        if other_outputs is None:
            other_inputs = aligned_rows(model.endpoint_inputs(endpoint, num_samples, seed + 1, data=data))
            other_outputs = run_in_batches(keras_runner, other_inputs)
        other = image_generation_metrics(
            np.clip(other_outputs[name], 0.0, 1.0), None, extractor, seed=seed, reference_features=reference_features
        )
        entry["fid_seed_noise"] = abs(float(other["fid"]) - entry["keras"]["fid"])
        if name in reconstruction:
            entry["reconstruction"] = reconstruction[name]
        result["outputs"][name] = entry
    return result


def _reconstruction_errors(declared, inputs, keras_outputs, export_outputs) -> dict:
    """Declared image outputs of an endpoint that also takes an image of that shape (it reconstructs it):
    the mean squared error of each side against that input, and the delta."""
    errors = {}
    image_inputs = [d for d in declared.inputs if d.modality == "image"]
    for output in declared.outputs_of("image"):
        sources = [d.name for d in image_inputs if d.shape == output.shape]
        if not sources:
            continue
        target = np.asarray(inputs[sources[0]], np.float64)
        keras_error = float(np.mean((keras_outputs[output.name] - target) ** 2))
        export_error = float(np.mean((export_outputs[output.name] - target) ** 2))
        errors[output.name] = {
            "keras_mse": keras_error, "export_mse": export_error, "reconstruction_error_delta": export_error - keras_error,
        }
    return errors


def _numbers(metrics: dict) -> dict:
    return {
        key: float(value) for key, value in metrics.items()
        if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    }

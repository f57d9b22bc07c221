"""Every export checks itself: parity with the Keras model on the same inputs, and latency side by side."""

from __future__ import annotations

import statistics
import time

import numpy as np

from genkit.errors import ExportCheckFailed

# Largest absolute difference from Keras a float export may have, per (format, quantisation).
# Dynamic-range and int8 files are judged by their cost in the task's metric (quality), not by a bound.
TOLERANCES = {
    ("savedmodel", "none"): 1e-4,
    ("onnx", "none"): 1e-4,
    ("tflite", "none"): 1e-4,
    ("tflite", "float16"): 1e-2,
}


def tolerance(format_name: str, quantize: str) -> float | None:
    return TOLERANCES.get((format_name, quantize))


def parity(reference: dict[str, np.ndarray], exported: dict[str, np.ndarray], tolerance_value: float | None) -> dict:
    """Max and mean absolute error of each exported float output against Keras' (same inputs).

    Strings must agree exactly. Integer outputs (a classifier's class id) are
    decisions taken from float outputs that are compared themselves: they
    report how many differ and their agreement, but a difference of ids is no
    error size, and a near-tie may flip within a float tolerance.
    """
    missing = sorted(set(reference) - set(exported))
    if missing:
        raise ExportCheckFailed(f"the export lacks output '{missing[0]}' (it has {sorted(exported)})")
    outputs = {}
    for name, expected in sorted(reference.items()):
        received = np.asarray(exported[name])
        if received.shape != expected.shape:
            raise ExportCheckFailed(f"output '{name}' has shape {received.shape}, Keras gives {expected.shape}")
        if expected.dtype.kind in "OSU":  # strings: exact agreement
            mismatches = int(np.sum(received != expected))
            outputs[name] = {"max_abs_error": 0.0 if mismatches == 0 else float("inf"), "mismatches": mismatches}
            continue
        if expected.dtype.kind in "iub":
            mismatches = int(np.sum(received != expected))
            outputs[name] = {"mismatches": mismatches, "agreement": 1.0 - mismatches / max(expected.size, 1)}
            continue
        error = np.abs(received.astype(np.float64) - expected.astype(np.float64))
        outputs[name] = {"max_abs_error": float(error.max()), "mean_abs_error": float(error.mean())}
    worst = max((entry["max_abs_error"] for entry in outputs.values() if "max_abs_error" in entry), default=0.0)
    return {
        "tolerance": tolerance_value,
        "max_abs_error": worst,
        "passed": None if tolerance_value is None else bool(worst <= tolerance_value),
        "outputs": outputs,
    }


def measure_latency(runners: dict, inputs: dict[str, np.ndarray], repeats: int = 30, warmup: int = 3) -> dict:
    """Median milliseconds per call of each runner on ``inputs``, measured interleaved.

    Each round calls every runner once (in a rotating order), so the machine's
    load drifts over all of them alike; the result is the median per runner.
    """
    labels = list(runners)
    for label in labels:
        for _ in range(warmup):
            runners[label](inputs)
    times = {label: [] for label in labels}
    for round_index in range(repeats):
        shift = round_index % len(labels)
        for label in labels[shift:] + labels[:shift]:
            start = time.perf_counter()
            runners[label](inputs)
            times[label].append(time.perf_counter() - start)
    return {label: 1000.0 * statistics.median(values) for label, values in times.items()}


def folder_size(path) -> int:
    from pathlib import Path

    path = Path(path)
    if path.is_file():
        return path.stat().st_size
    return sum(item.stat().st_size for item in path.rglob("*") if item.is_file())

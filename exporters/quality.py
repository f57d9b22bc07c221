"""The cost of a quantised export in the task's own metric, through the model's ``export_quality`` hook."""

from __future__ import annotations

from genkit.export_quality import DEFAULT_QUALITY_SAMPLES


def export_quality(model, endpoint: str, run_export, data=None, num_samples: int = DEFAULT_QUALITY_SAMPLES, seed: int = 0) -> dict:
    """``model.export_quality(...)``: Keras against the export on the same inputs, in the task's metric.

    The exported file has passed its conversion and parity checks by now; a
    failure of the measurement itself is reported, not raised.
    """
    try:
        return model.export_quality(endpoint, run_export, data=data, num_samples=num_samples, seed=seed)
    except Exception as error:  # noqa: BLE001 - reported in export_report.json and the table
        first_line = (str(error).strip().splitlines() or [""])[0][:300]
        return {"error": f"{type(error).__name__}: {first_line}"}


def summary(quality: dict | None) -> str:
    """One short cell for the printed table, e.g. 'FID +1.23, KID +0.0012'."""
    if not quality:
        return ""
    if "skipped" in quality:
        reconstruction = quality.get("reconstruction", {})
        cells = [f"MSE {entry['reconstruction_error_delta']:+.2e}" for entry in reconstruction.values()]
        return ", ".join(cells) or "n/a"
    if "error" in quality:
        return "failed"
    if "summary" in quality:  # a family's own one-line summary
        return str(quality["summary"])
    cells = []
    for entry in quality.get("outputs", {}).values():
        if "fid_delta" in entry:
            noise = f" (seed noise {entry['fid_seed_noise']:.2f})" if "fid_seed_noise" in entry else ""
            cells.append(f"FID {entry['fid_delta']:+.2f}{noise}")
        if "kid_delta" in entry:
            cells.append(f"KID {entry['kid_delta']:+.4f}")
        if "reconstruction" in entry:
            cells.append(f"MSE {entry['reconstruction']['reconstruction_error_delta']:+.2e}")
    return ", ".join(cells)

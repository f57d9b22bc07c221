"""export_report.json and the printed table: parity, quality cost, size, ops/opset and latency of each export."""

from __future__ import annotations



def folder_label(format_name: str, quantize: str) -> str:
    """The export folder's name: ``tflite``, ``tflite-int8``, ``onnx``, ``savedmodel``."""
    return format_name if quantize == "none" else f"{format_name}-{quantize}"


def _size(size_bytes: int) -> str:
    return f"{size_bytes / 1024:.1f} KiB" if size_bytes < 1024 * 1024 else f"{size_bytes / 1024 / 1024:.2f} MiB"


def format_table(reports: list[dict]) -> str:
    """One row per exported signature; latency in ms (median) and as a ratio to Keras, side by side."""
    header = ["export", "signature", "size", "max |err|", "tolerance", "quality cost", "ms (keras)", "ms (export)", "x keras"]
    rows = []
    for report in reports:
        label = folder_label(report["format"], report["quantize"]) + ("+int8io" if report.get("int8_io") else "")
        for name, entry in report["signatures"].items():
            latency = entry.get("latency_ms", {})
            own = latency.get(report["format"])
            keras_ms = latency.get("keras")
            tolerance = entry["parity"]["tolerance"]
            rows.append([
                label,
                name,
                _size(entry["size_bytes"]),
                "not run" if entry["parity"]["max_abs_error"] is None else f"{entry['parity']['max_abs_error']:.2e}",
                "-" if tolerance is None else f"{tolerance:.0e}",
                quality_summary(entry.get("quality")) or "-",
                "-" if keras_ms is None else f"{keras_ms:.2f}",
                "-" if own is None else f"{own:.2f}",
                "-" if own is None or not keras_ms else f"{own / keras_ms:.2f}",
            ])
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip() for row in [header, *rows]]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def quality_summary(quality: dict | None) -> str:
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

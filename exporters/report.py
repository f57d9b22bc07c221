"""export_report.json and the printed table: parity, quality cost, size, ops/opset and latency of each export."""

from __future__ import annotations

from exporters.quality import summary as quality_summary


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

"""Size and latency of every export format of trained runs, float32 against quantised TFLite.

    python benchmarks/export_benchmark.py RUN_DIR [RUN_DIR ...] [--batch-sizes 1,16] [--repeats 50]
        [--signature NAME] [--json PATH]

For each run (any model whose endpoints export: DCGAN, a VAE decoder, a text
step model, ...) the script exports SavedModel, ONNX and TFLite float32,
float16, dynamic-range and int8 into a temporary folder with ``exporters.export``
(each export checks itself: parity, quality cost), then measures the median
latency of every runtime on the same inputs, interleaved in one process, as
ratios to Keras ``predict`` (when ``predict`` computes the endpoint) and to the
endpoint run as a ``tf.function`` (what ``predict`` runs per batch, without its
per-call set-up). LiteRT runs with its default thread count (one), the others
with theirs. It checks that int8 TFLite files are at most
30% of the float32 TFLite size.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

INT8_SIZE_LIMIT = 0.30
QUANTIZATIONS = ("float16", "dynamic", "int8")


def _predict_runner(model, endpoint, inputs):
    """Keras ``model.predict`` when it computes this endpoint (one input, an output equal to the endpoint's)."""
    if len(endpoint.input_names) != 1:
        return None
    value = inputs[endpoint.input_names[0]]
    try:
        predicted = np.asarray(model.predict(value, batch_size=len(value), verbose=0))
    except Exception:  # noqa: BLE001 - predict does not apply to this endpoint
        return None
    expected = endpoint.call(inputs)
    if not any(out.shape == predicted.shape and np.allclose(out, predicted, atol=1e-4) for out in expected.values()):
        return None
    return lambda values: model.predict(values[endpoint.input_names[0]], batch_size=len(value), verbose=0)


def benchmark_run(run_dir: Path, batch_sizes, repeats: int, quality_samples: int, signature: str | None = None) -> dict:
    import exporters
    from exporters import checks
    from exporters.onnx import ONNXRunner
    from exporters.savedmodel import SavedModelRunner
    from exporters.source import ExportSource
    from exporters.tflite import TFLiteRunner

    out = Path(tempfile.mkdtemp(prefix="export-benchmark-"))
    options = dict(out=out, verbose=False, quality_samples=quality_samples, latency_repeats=3, signature=signature)
    folders = exporters.export(run_dir, "all", **options)
    for quantize in QUANTIZATIONS:
        folders.update(exporters.export(run_dir, "tflite", quantize, **options))
    reports = {label: json.loads((folder / "export_report.json").read_text()) for label, folder in folders.items()}
    source = ExportSource.load(run_dir)
    result = {"run": str(run_dir), "model": source.model_name, "signatures": {}}
    for endpoint in source.endpoints("edge", signature):
        name = endpoint.name
        rows = {}
        for label, report in reports.items():
            entry = report["signatures"].get(name)
            if entry is None:
                continue
            rows[label] = {
                "size_bytes": entry["size_bytes"],
                "max_abs_error": entry["parity"]["max_abs_error"],
                "mean_abs_error": float(np.mean([o.get("mean_abs_error", 0.0) for o in entry["parity"]["outputs"].values()])),
                "quality": entry.get("quality"),
                "tflite_ops": entry.get("tflite_ops"),
            }
        runners = {"keras": None}
        for label, folder in folders.items():
            if name not in reports[label]["signatures"]:
                continue
            file = reports[label]["signatures"][name]["file"]
            if label == "savedmodel":
                runners[label] = SavedModelRunner(folder / file, name)
            elif label.startswith("tflite"):
                runners[label] = TFLiteRunner(folder / file, name)  # LiteRT's default threads
            else:
                runners[label] = ONNXRunner(folder / file)
        latency = {}
        for batch_size in batch_sizes:
            inputs = source.example_inputs(endpoint, batch_size, seed=0)
            compiled = endpoint.tf_function()
            measured = {"keras": lambda values, compiled=compiled: endpoint.call(values, compiled)}
            predict = _predict_runner(source.model, endpoint, inputs)
            if predict is not None:
                measured["keras_predict"] = predict
            measured.update({label: runner for label, runner in runners.items() if runner is not None})
            milliseconds = checks.measure_latency(measured, inputs, repeats=repeats, warmup=5)
            latency[str(batch_size)] = {
                "ms": milliseconds,
                "ratio_to_keras": {label: value / milliseconds["keras"] for label, value in milliseconds.items()},
            }
            if "keras_predict" in milliseconds:
                latency[str(batch_size)]["ratio_to_keras_predict"] = {
                    label: value / milliseconds["keras_predict"] for label, value in milliseconds.items()
                }
        float_size = rows.get("tflite", {}).get("size_bytes")
        int8_size = rows.get("tflite-int8", {}).get("size_bytes")
        result["signatures"][name] = {
            "formats": rows,
            "latency": latency,
            "int8_size_ratio": int8_size / float_size if float_size and int8_size else None,
            "int8_size_ok": bool(int8_size / float_size <= INT8_SIZE_LIMIT) if float_size and int8_size else None,
        }
    return result


def _quality_cell(quality) -> str:
    from exporters.report import quality_summary as summary

    return summary(quality) or "-"


def format_result(result: dict) -> str:
    lines = [f"== {result['model']} ({result['run']})"]
    for name, entry in result["signatures"].items():
        batches = list(entry["latency"])
        with_predict = "ratio_to_keras_predict" in entry["latency"][batches[0]]
        header = ["format", "size", "vs tflite f32", "max |err|", "quality cost"]
        for b in batches:
            header += [f"ms b={b}", f"x tf.function b={b}"] + ([f"x predict b={b}"] if with_predict else [])
        rows = []
        float_size = entry["formats"].get("tflite", {}).get("size_bytes")
        labels = ["keras_predict", "keras", *entry["formats"]]
        for label in labels:
            fmt = entry["formats"].get(label, {})
            if label not in entry["latency"][batches[0]]["ms"]:
                continue
            size = fmt.get("size_bytes")
            rows.append([
                label,
                f"{size / 1024:.0f} KiB" if size else "-",
                f"{size / float_size:.0%}" if size and float_size else "-",
                f"{fmt['max_abs_error']:.1e}" if fmt else "-",
                _quality_cell(fmt.get("quality")) if fmt else "-",
                *[
                    cell for b in batches for cell in (
                        f"{entry['latency'][b]['ms'][label]:.2f}",
                        f"{entry['latency'][b]['ratio_to_keras'][label]:.2f}",
                        *([f"{entry['latency'][b]['ratio_to_keras_predict'][label]:.3f}"] if with_predict else []),
                    )
                ],
            ])
        widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
        lines.append(f"signature {name}:")
        lines += ["  " + "  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip() for row in [header, *rows]]
        if entry["int8_size_ratio"] is not None:
            verdict = "ok" if entry["int8_size_ok"] else "OVER THE LIMIT"
            lines.append(
                f"  int8 TFLite size = {entry['int8_size_ratio']:.1%} of float32 (limit {INT8_SIZE_LIMIT:.0%}): {verdict}"
            )
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("runs", nargs="+", metavar="RUN_DIR")
    parser.add_argument("--batch-sizes", default="1,16", help="comma-separated (default 1,16)")
    parser.add_argument("--repeats", type=int, default=50, help="timed calls per runtime and batch size")
    parser.add_argument("--quality-samples", type=int, default=1000, help="samples for each quantised file's quality cost")
    parser.add_argument("--signature", metavar="NAME", help="only this signature (e.g. a VAE's decode)")
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    args = parser.parse_args(argv)
    batch_sizes = [int(b) for b in args.batch_sizes.split(",")]
    results = []
    for run in args.runs:
        result = benchmark_run(Path(run), batch_sizes, args.repeats, args.quality_samples, args.signature)
        print(format_result(result), flush=True)
        results.append(result)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    over = [r["model"] for r in results for e in r["signatures"].values() if e["int8_size_ok"] is False]
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())

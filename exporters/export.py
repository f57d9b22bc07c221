"""``genkit export``: a trained run to TF Serving, TFLite and ONNX, each export checked and described.

Every format is written into one temporary folder beside the destination and
moved into place only when all of them have converted and passed their
checks: a failure leaves no partial files behind.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable

from exporters import checks, metadata, onnx as onnx_format, savedmodel, tflite
from exporters.report import folder_label, format_table
from exporters.source import Endpoint, ExportSource
from genkit.errors import UserError
from genkit.evaluation.export_cost import DEFAULT_QUALITY_SAMPLES
from genkit.runtime.run_lock import RunFolderLock
from genkit.atomic import write_json

FORMATS = ("savedmodel", "tflite", "onnx")
FORMAT_CHOICES = (*FORMATS, "all")
QUANTIZATIONS = tflite.QUANTIZATIONS
REPORT_FILE = "export_report.json"
METADATA_FILE = "genkit.json"


@dataclasses.dataclass
class ExportedSignature:
    """One signature written by a format: where, how to run it, and what it looks like read back."""

    endpoint: Endpoint
    file: str
    path: Path
    runner: Callable | None
    description: dict
    details: dict = dataclasses.field(default_factory=dict)
    runner_error: str | None = None


@dataclasses.dataclass
class FormatExport:
    format: str
    quantize: str
    folder: Path
    signatures: list[ExportedSignature]
    options: dict
    extra: dict = dataclasses.field(default_factory=dict)

    @property
    def label(self) -> str:
        return folder_label(self.format, self.quantize)


def _check_options(format: str, quantize: str, int8_io: bool, opset: int) -> list[str]:
    if format not in FORMAT_CHOICES:
        raise UserError(f"--format {format}: unknown format; allowed: {', '.join(FORMAT_CHOICES)}")
    if quantize not in QUANTIZATIONS:
        raise UserError(f"--quantize {quantize}: unknown quantisation; allowed: {', '.join(QUANTIZATIONS)}")
    if quantize != "none" and format in ("savedmodel", "onnx"):
        raise UserError(
            f"--quantize {quantize}: {format} exports are float32; quantisation applies to --format tflite (or all)"
        )
    if int8_io and quantize != "int8":
        raise UserError("--int8-io: needs --quantize int8 (int8 inputs and outputs of a full-integer model)")
    if opset not in onnx_format.OPSETS:
        raise UserError(
            f"--opset {opset}: allowed ONNX opsets are {onnx_format.OPSETS.start}-{onnx_format.OPSETS.stop - 1}"
        )
    return list(FORMATS) if format == "all" else [format]


def export(
    run_dir: str | Path,
    format: str = "all",
    quantize: str = "none",
    *,
    int8_io: bool = False,
    signature: str | None = None,
    out: str | Path | None = None,
    allow_flex: bool = False,
    opset: int = onnx_format.DEFAULT_OPSET,
    parity_samples: int = 64,
    quality_samples: int = DEFAULT_QUALITY_SAMPLES,
    latency_batch: int = 16,
    latency_repeats: int = 30,
    seed: int = 0,
    verbose: bool = True,
) -> dict[str, Path]:
    """Exports the run in ``run_dir``; returns ``{folder label: export folder}``.

    Each export folder (``<out>/<format>[-<quantize>]/``, ``out`` defaulting
    to ``RUN_DIR/exports``) holds the exported file(s), ``genkit.json`` and
    ``export_report.json``. ``quantize`` applies to TFLite; with
    ``format="all"`` the SavedModel and ONNX exports stay float32.
    """
    formats = _check_options(format, quantize, int8_io, opset)
    run_path = Path(run_dir)
    # One writer per run folder: not while the run trains (or another export writes into it).
    lock = RunFolderLock(run_path, "genkit export") if run_path.is_dir() else contextlib.nullcontext()
    with lock:
        source = ExportSource.load(run_dir)
        if signature is not None and format == "all":
            formats = _formats_with_signature(source, formats, signature)
        out_root = Path(out) if out is not None else source.run.path / "exports"
        if out_root.exists() and not out_root.is_dir():
            raise UserError(f"--out {out_root}: exists and is not a folder")
        created_root = not out_root.exists()
        out_root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".export-tmp-", dir=out_root))
        destinations = {}
        try:
            exports = []
            for format_name in formats:
                format_quantize = quantize if format_name == "tflite" else "none"
                folder = staging / folder_label(format_name, format_quantize)
                folder.mkdir()
                if format_name == "savedmodel":
                    exports.append(_export_savedmodel(source, folder, signature))
                elif format_name == "tflite":
                    exports.append(
                        _export_tflite(source, folder, staging, signature, format_quantize, int8_io, allow_flex, seed)
                    )
                else:
                    exports.append(_export_onnx(source, folder, signature, opset))
            reports = _check_exports(
                source, exports, parity_samples, quality_samples, latency_batch, latency_repeats, seed
            )
            for export_entry, report in zip(exports, reports):
                write_json(export_entry.folder / REPORT_FILE, report)
                signatures = {
                    s.endpoint.name: {"file": s.file, **s.description}
                    for s in export_entry.signatures
                }
                document = metadata.export_document(
                    source, export_entry.format, export_entry.options, signatures, export_entry.extra
                )
                write_json(export_entry.folder / METADATA_FILE, document)
            failed = [
                (report, name, entry) for report in reports for name, entry in report["signatures"].items()
                if entry["parity"].get("passed") is False
            ]
            if failed:
                report, name, entry = failed[0]
                raise checks.ExportCheckFailed(
                    f"{folder_label(report['format'], report['quantize'])} signature '{name}' differs from Keras by "
                    f"{entry['parity']['max_abs_error']:.3g} (tolerance {entry['parity']['tolerance']:g}); nothing written"
                )
            _move_into_place(exports, out_root, staging, destinations)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
            if created_root and not destinations:
                shutil.rmtree(out_root, ignore_errors=True)  # a failed first export leaves no empty folder behind
        if verbose:
            print(format_table(reports))
            for label, destination in destinations.items():
                print(f"genkit: wrote {label} export to {destination}")
        return destinations


def _move_into_place(exports, out_root: Path, staging: Path, destinations: dict) -> None:
    """Moves every finished export folder to ``out_root/<label>``, all or none: when a move fails (a full disk, a
    folder that vanished), the ones already moved are taken back and the earlier exports put back in place."""
    moved = []
    try:
        for export_entry in exports:
            destination, previous = out_root / export_entry.label, staging / f"previous-{export_entry.label}"
            if destination.exists():
                os.replace(destination, previous)
            moved.append((destination, previous))
            os.replace(export_entry.folder, destination)
            destinations[export_entry.label] = destination
    except OSError as error:
        for destination, previous in reversed(moved):
            if destinations.pop(destination.name, None) is not None:
                shutil.rmtree(destination, ignore_errors=True)
            if previous.exists():
                os.replace(previous, destination)
        raise UserError(
            f"{out_root}: cannot write the exports ({error.strerror or error}); the earlier exports are kept"
        ) from None


ENDPOINT_KINDS = {"savedmodel": "serving", "tflite": "edge", "onnx": "edge"}


def _formats_with_signature(source: ExportSource, formats: list[str], signature: str) -> list[str]:
    """With ``--format all --signature NAME``: the formats whose endpoints include NAME (serving or edge)."""
    names = {kind: [endpoint.name for endpoint in source.endpoints(kind)] for kind in ("serving", "edge")}
    selected = [name for name in formats if signature in names[ENDPOINT_KINDS[name]]]
    if not selected:
        allowed = ", ".join(dict.fromkeys(names["serving"] + names["edge"]))
        raise UserError(f"--signature {signature}: {source.model_name} has no signature of that name; allowed: {allowed}")
    return selected


def _endpoints(source: ExportSource, kind: str, signature: str | None, format_name: str) -> list[Endpoint]:
    endpoints = source.endpoints(kind, signature)
    if not endpoints:
        raise UserError(f"--format {format_name}: {source.model_name} has no {kind} endpoints to export")
    return endpoints


def _export_savedmodel(source: ExportSource, folder: Path, signature: str | None) -> FormatExport:
    endpoints = _endpoints(source, "serving", signature, "savedmodel")
    version = int(source.metadata.get("serving", {}).get("version") or 1)
    relative = f"{source.model_name}/{version}"
    path = savedmodel.write_savedmodel(source.model, endpoints, folder / relative)
    exported = []
    for endpoint in endpoints:
        exported.append(
            ExportedSignature(
                endpoint=endpoint, file=relative, path=path,
                runner=savedmodel.SavedModelRunner(path, endpoint.name),
                description=savedmodel.describe(path, endpoint.name),
            )
        )
    extra = {
        "tf_serving": {
            "model_name": source.model_name,
            "model_base_path": source.model_name,
            "version": version,
            "rest_predict": f"/v1/models/{source.model_name}:predict",
            "signatures": [endpoint.name for endpoint in endpoints],
        }
    }
    return FormatExport("savedmodel", "none", folder, exported, {"quantize": "none"}, extra)


def _export_tflite(
    source: ExportSource, folder: Path, staging: Path, signature, quantize: str, int8_io: bool, allow_flex: bool, seed: int
) -> FormatExport:
    endpoints = _endpoints(source, "edge", signature, "tflite")
    # The converter reads a SavedModel of the edge endpoints: the file keeps their input and output names.
    edge_dir = savedmodel.write_savedmodel(source.model, endpoints, staging / "edge-savedmodel")
    exported = []
    for endpoint in endpoints:
        def calibration_inputs(index, endpoint=endpoint):
            return source.example_inputs(endpoint, tflite.CALIBRATION_BATCH_SIZE, seed=10_000 + seed * 100 + index)

        if quantize == "int8":
            calibration_inputs(0)  # a clear error now if the model gives no example inputs
        content = tflite.convert(edge_dir, endpoint, quantize, int8_io, allow_flex, calibration_inputs)
        path = folder / f"{endpoint.name}{tflite.FILE_SUFFIX}"
        path.write_bytes(content)
        ops = tflite.op_counts(path)
        description = tflite.describe(path, endpoint.name)
        runner, error = tflite.TFLiteRunner(path, endpoint.name), None
        try:
            runner(source.example_inputs(endpoint, 1, seed))  # Flex ops fail here, without the Flex delegate
        except Exception as exception:  # noqa: BLE001 - reported: the file is written, but not checked
            first_line = (str(exception).strip().splitlines() or [type(exception).__name__])[0][:200]
            runner, error = None, f"the ai-edge-litert interpreter cannot run it ({first_line})"
        exported.append(
            ExportedSignature(
                endpoint=endpoint, file=path.name, path=path, runner=runner, description=description,
                details={"tflite_ops": ops, "flex_ops": tflite.flex_ops(ops)}, runner_error=error,
            )
        )
    options = {"quantize": quantize, "int8_io": int8_io, "allow_flex": allow_flex}
    return FormatExport("tflite", quantize, folder, exported, options)


def _export_onnx(source: ExportSource, folder: Path, signature: str | None, opset: int) -> FormatExport:
    import onnx

    endpoints = _endpoints(source, "edge", signature, "onnx")
    exported = []
    for endpoint in endpoints:
        proto = onnx_format.convert(endpoint, opset)
        path = folder / f"{endpoint.name}{onnx_format.FILE_SUFFIX}"
        onnx.save(proto, str(path))
        exported.append(
            ExportedSignature(
                endpoint=endpoint, file=path.name, path=path, runner=onnx_format.ONNXRunner(path),
                description=onnx_format.describe(proto), details={"onnx_opset": onnx_format.opset_of(proto)},
            )
        )
    return FormatExport("onnx", "none", folder, exported, {"quantize": "none", "opset": opset})


def _check_exports(source, exports, parity_samples, quality_samples, latency_batch, latency_repeats, seed) -> list[dict]:
    """Parity against Keras, quality cost of quantised files, and latency measured side by side."""
    from genkit.versions import library_versions

    references: dict[tuple, Any] = {}

    def reference(endpoint: Endpoint):
        key = (endpoint.name, id(endpoint.function))
        if key not in references:
            inputs = source.example_inputs(endpoint, parity_samples, seed)
            references[key] = (inputs, endpoint.call(inputs))
        return references[key]

    latency = _measure_latencies(source, exports, latency_batch, latency_repeats, seed)
    reports = []
    for export_entry in exports:
        signatures = {}
        for exported in export_entry.signatures:
            entry = {"file": exported.file, "size_bytes": checks.folder_size(exported.path), **exported.details}
            tolerance = checks.tolerance(export_entry.format, export_entry.quantize)
            if exported.runner is None:
                entry["parity"] = {"tolerance": tolerance, "max_abs_error": None, "passed": None,
                                   "skipped": exported.runner_error}
            else:
                inputs, expected = reference(exported.endpoint)
                entry["parity"] = checks.parity(expected, exported.runner(inputs), tolerance)
                if export_entry.quantize != "none":
                    entry["quality"] = _export_quality(
                        source.model, exported.endpoint.name, exported.runner, data=source.data,
                        num_samples=quality_samples, seed=seed,
                    )
            measured = latency.get(exported.endpoint.name, {})
            entry["latency_ms"] = measured
            if measured.get("keras"):
                entry["latency_vs_keras"] = {
                    runtime: value / measured["keras"] for runtime, value in measured.items()
                }
            signatures[exported.endpoint.name] = entry
        reports.append({
            "format": export_entry.format,
            "quantize": export_entry.quantize,
            **{k: v for k, v in export_entry.options.items() if k != "quantize"},
            "model": source.model_name,
            "run": str(source.run.path.resolve()),
            "parity_samples": parity_samples,
            "seed": seed,
            "latency": {
                "batch_size": latency_batch,
                "repeats": latency_repeats,
                "statistic": "median milliseconds per call (numpy in, numpy out), every runtime measured "
                             "interleaved in one process; keras = the endpoint as a tf.function, what predict runs",
            },
            "data": source.data_note or "run's training data",
            "signatures": signatures,
            "versions": library_versions(),
        })
    return reports


def _measure_latencies(source, exports, batch_size, repeats, seed) -> dict[str, dict[str, float]]:
    """{signature: {"keras": ms, "savedmodel": ms, "tflite": ms, "onnx": ms}} for the formats exported now."""
    by_name: dict[str, dict] = {}
    endpoints: dict[str, Endpoint] = {}
    for export_entry in exports:
        for exported in export_entry.signatures:
            if exported.runner is None:
                continue
            name = exported.endpoint.name
            endpoints.setdefault(name, exported.endpoint)
            by_name.setdefault(name, {})[export_entry.format] = exported.runner
    results = {}
    for name, runners in by_name.items():
        endpoint = endpoints[name]
        compiled = endpoint.tf_function()
        inputs = source.example_inputs(endpoint, batch_size, seed)
        all_runners = {"keras": lambda values, compiled=compiled, endpoint=endpoint: endpoint.call(values, compiled)}
        all_runners.update(runners)
        results[name] = checks.measure_latency(all_runners, inputs, repeats=repeats)
    return results


def _export_quality(model, endpoint: str, run_export, data=None, num_samples: int = DEFAULT_QUALITY_SAMPLES, seed: int = 0) -> dict:
    """``model.export_quality(...)``: Keras against the export on the same inputs, in the task's metric.

    The exported file has passed its conversion and parity checks by now; a
    failure of the measurement itself is reported, not raised.
    """
    try:
        return model.export_quality(endpoint, run_export, data=data, num_samples=num_samples, seed=seed)
    except Exception as error:  # noqa: BLE001 - reported in export_report.json and the table
        first_line = (str(error).strip().splitlines() or [""])[0][:300]
        return {"error": f"{type(error).__name__}: {first_line}"}

"""Shared by the edge apps: read an export folder's genkit.json and run its .tflite or .onnx file.

Needs numpy and one of ai-edge-litert / onnxruntime — no TensorFlow, no genkit.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import numpy as np

RUNTIMES = {"litert": ".tflite", "onnx": ".onnx"}


class AppError(Exception):
    """A one-line error for the user (the app prints it and exits with status 2)."""


def fail(app: str, error: Exception) -> None:
    print(f"{app}: error: {error}", file=sys.stderr)
    raise SystemExit(2)


def read_export(folder: str | Path) -> dict:
    """The export's genkit.json; a clear error for anything that is not a genkit export folder."""
    path = Path(folder) / "genkit.json"
    if not path.is_file():
        raise AppError(f"{folder}: not an export folder (no genkit.json); make one with 'genkit export RUN_DIR'")
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise AppError(f"{path}: corrupt ({error})") from None
    if document.get("format") != "genkit-export":
        raise AppError(f"{path}: not a genkit export (format {document.get('format')!r})")
    return document


def choose_runtime(document: dict, folder: Path, requested: str | None) -> str:
    """``requested``, or the runtime of the files the folder holds (LiteRT first)."""
    suffixes = {Path(entry["file"]).suffix for entry in document["signatures"].values()}
    available = [name for name, suffix in RUNTIMES.items() if suffix in suffixes]
    if requested:
        if requested not in available:
            raise AppError(
                f"--runtime {requested}: {folder} holds no {RUNTIMES[requested]} file "
                f"(export one with 'genkit export RUN_DIR --format {'tflite' if requested == 'litert' else 'onnx'}')"
            )
        return requested
    if not available:
        raise AppError(f"{folder}: holds no .tflite or .onnx file (a {document['export']['format']} export)")
    return available[0]


class Model:
    """One signature of an exported file; floats in, floats out (int8 files are (de)quantised here)."""

    def __init__(self, folder: Path, signature: str, entry: dict, runtime: str):
        self.signature, self.entry, self.runtime = signature, entry, runtime
        path = Path(folder) / entry["file"]
        if not path.is_file():
            raise AppError(f"{path}: missing (the export folder is incomplete)")
        try:
            if runtime == "litert":
                from ai_edge_litert.interpreter import Interpreter

                self._runner = Interpreter(model_path=str(path)).get_signature_runner(signature)
                self._inputs = self._runner.get_input_details()
                self._outputs = self._runner.get_output_details()
            else:
                import onnxruntime

                options = onnxruntime.SessionOptions()
                options.log_severity_level = 3
                self._session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
                self._output_names = [value.name for value in self._session.get_outputs()]
        except (ImportError, AttributeError):
            raise
        except Exception as error:  # each runtime has its own error types for a file it cannot read
            text = str(error).strip().splitlines()
            reason = text[-1][:200] if text else type(error).__name__
            raise AppError(f"{path}: the {runtime} runtime cannot load it ({reason}); is it truncated or damaged? Export it again") from None

    def __call__(self, **inputs) -> dict[str, np.ndarray]:
        if self.runtime == "litert":
            feed = {name: _quantize(np.asarray(inputs[name]), detail) for name, detail in self._inputs.items()}
            outputs = self._runner(**feed)
            return {name: _dequantize(value, self._outputs[name]) for name, value in outputs.items()}
        feed = {
            name: np.asarray(inputs[name], dtype=self.entry["inputs"][name]["dtype"])
            for name in self.entry["inputs"]
        }
        return dict(zip(self._output_names, self._session.run(self._output_names, feed)))


def _quantize(values: np.ndarray, detail: dict) -> np.ndarray:
    dtype = np.dtype(detail["dtype"])
    scale, zero_point = detail["quantization"]
    if dtype in (np.int8, np.uint8) and scale and values.dtype.kind == "f":
        info = np.iinfo(dtype)
        return np.clip(np.round(values / scale + zero_point), info.min, info.max).astype(dtype)
    return values.astype(dtype, copy=False)


def _dequantize(values: np.ndarray, detail: dict) -> np.ndarray:
    scale, zero_point = detail["quantization"]
    if np.dtype(detail["dtype"]) in (np.int8, np.uint8) and scale:
        return ((values.astype(np.float32) - zero_point) * scale).astype(np.float32)
    return values


class TextEncoder:
    """genkit.json "preprocessing"."text": vocabulary (index = id), split_pattern, padding_id, oov_id, max_text_length."""

    def __init__(self, text: dict):
        self.ids: dict[str, int] = {}
        for index, word in enumerate(text["vocabulary"]):
            self.ids.setdefault(word, index)
        self.pattern = re.compile(text["split_pattern"])
        self.padding_id, self.oov_id = int(text["padding_id"]), int(text["oov_id"])
        self.length = int(text["max_text_length"])

    def words(self, text: str) -> list[str]:
        return self.pattern.findall(text.lower())

    def unknown_words(self, text: str) -> list[str]:
        """The words of ``text`` (its first max_text_length) that the vocabulary lacks: read as the unknown word."""
        return list(dict.fromkeys(w for w in self.words(text)[: self.length] if w not in self.ids))

    def encode(self, text: str) -> np.ndarray:
        """int32 [max_text_length]: the first max_text_length words' ids, then padding."""
        ids = [self.ids.get(word, self.oov_id) for word in self.words(text)[: self.length]]
        return np.array(ids + [self.padding_id] * (self.length - len(ids)), np.int32)

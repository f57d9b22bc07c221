"""Shared by the edge apps: read an export folder's genkit.json and run its .tflite or .onnx file.

Needs numpy and one of ai-edge-litert / onnxruntime — no TensorFlow, no genkit.
"""

from __future__ import annotations

import json
import math
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


# -- what genkit.json holds: checked once, so a tampered or damaged file is one line naming the field -------------


class Optional:
    """A field of a JSON object that may be missing."""

    def __init__(self, schema):
        self.schema = schema


class Each:
    """A JSON object of any keys whose values all match ``schema``."""

    def __init__(self, schema):
        self.schema = schema


class Rule:
    """A value for which ``test(value)`` is true (``what`` says what that is)."""

    def __init__(self, test, what: str):
        self.test, self.what = test, what


def _is(types):
    return lambda value: isinstance(value, types) and (bool in types or not isinstance(value, bool))


def _finite(value) -> bool:
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer beyond float
        return False


def _dtype(value) -> bool:
    try:
        np.dtype(value)
    except (TypeError, ValueError):
        return False
    return True


def _pattern(value) -> bool:
    try:
        re.compile(value)
    except (re.error, TypeError, RecursionError, OverflowError):
        return False
    return True


TEXT = Rule(_is((str,)), "a string")
INTEGER = Rule(_is((int,)), "an integer")
COUNT = Rule(lambda v: _is((int,))(v) and v >= 1, "an integer >= 1")
INDEX = Rule(lambda v: _is((int,))(v) and v >= 0, "an integer >= 0")
NUMBER = Rule(lambda v: _is((int, float))(v) and _finite(v), "a finite number")
BOOLEAN = Rule(_is((bool,)), "true or false")
PATTERN = Rule(lambda v: isinstance(v, str) and _pattern(v), "a regular expression")
DTYPE = Rule(lambda v: isinstance(v, str) and _dtype(v), "a NumPy dtype name")
FILE_NAME = Rule(lambda v: isinstance(v, str) and bool(v.strip()) and "\0" not in v, "a file name")
SHAPE = Rule(  # null: a size known only when the file runs (the batch, a captioner's grid of cells)
    lambda v: isinstance(v, list) and len(v) >= 1 and all(d is None or INDEX.test(d) for d in v),
    "a shape [batch, ...] of integers >= 0 or null (a size known only when it runs)",
)
TENSOR = {"dtype": DTYPE, "shape": SHAPE, "sampling": Optional(dict), "modality": Optional(TEXT),
          "quantization": Optional({"scale": NUMBER, "zero_point": INTEGER})}
SIGNATURE = {"file": FILE_NAME, "inputs": Each(TENSOR), "outputs": Each(TENSOR)}
EXPORT = {
    "model": Optional(TEXT), "export": Optional({"format": Optional(TEXT)}),
    "signatures": Rule(lambda v: isinstance(v, dict) and bool(v), "a JSON object of one or more signatures"),
    **{section: Optional(Rule(_is((dict, type(None))), "a JSON object")) for section in ("data", "preprocessing", "run")},
}
EXPORT_SIGNATURES = {"signatures": Each(SIGNATURE)}
# genkit.json "preprocessing"."text" of models that take a text (TextEncoder).
TEXT_ENCODER = {"vocabulary": [TEXT], "split_pattern": PATTERN, "padding_id": INDEX, "oov_id": INDEX, "max_text_length": INDEX}


def _shown(value) -> str:
    shown = json.dumps(value)  # ASCII: a line break in a string stays escaped
    return shown if len(shown) <= 40 else shown[:37] + "..."


def _describe(schema) -> str:
    if isinstance(schema, Rule):
        return schema.what
    if isinstance(schema, list):
        return "a list"
    return "a JSON object"


def check(value, schema, where: str, path) -> None:
    """Raises a one-line AppError naming ``path`` and the field ``where`` unless ``value`` matches ``schema``:
    a dict (a JSON object with these fields; :class:`Optional` ones may be missing), a list ``[schema]`` (a list of
    such items), :class:`Each`, a :class:`Rule` or a type."""
    if isinstance(schema, type):
        schema = Rule(_is((schema,)), {dict: "a JSON object", list: "a list", str: "a string"}.get(schema, schema.__name__))
    if isinstance(schema, Rule):
        if not schema.test(value):
            raise AppError(f"{path}: {where or 'the document'} must be {schema.what}, got {_shown(value)}")
        return
    if isinstance(schema, list):
        if not isinstance(value, list):
            raise AppError(f"{path}: {where or 'the document'} must be a list, got {_shown(value)}")
        for index, item in enumerate(value):
            check(item, schema[0], f"{where or 'the document'}[{index}]", path)
        return
    if not isinstance(value, dict):
        raise AppError(f"{path}: {where or 'the document'} must be a JSON object, got {_shown(value)}")
    if isinstance(schema, Each):
        for key, item in value.items():
            check(item, schema.schema, _join(where, _key(key)), path)
        return
    for key, field in schema.items():
        optional = isinstance(field, Optional)
        if key not in value:
            if optional:
                continue
            raise AppError(
                f"{path}: {where or 'the document'} has no {key!r} ({_describe(field)}); export the run again with this genkit"
            )
        check(value[key], field.schema if optional else field, _join(where, key), path)


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _key(key: str) -> str:
    return key if key.isprintable() and "." not in key else repr(key)


def read_export(folder: str | Path) -> dict:
    """The export's genkit.json; a clear error for anything that is not a genkit export folder, or a genkit.json
    whose fields are not what ``genkit export`` writes."""
    path = Path(folder) / "genkit.json"
    if not path.is_file():
        raise AppError(f"{folder}: not an export folder (no genkit.json); make one with 'genkit export RUN_DIR'")
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as error:  # JSONDecodeError, UnicodeDecodeError, a 5000-digit number
        text = "nested too deeply" if isinstance(error, RecursionError) else str(error).strip().splitlines()[0][:200]
        raise AppError(f"{path}: corrupt ({text})") from None
    if not isinstance(document, dict) or document.get("format") != "genkit-export":
        found = document.get("format") if isinstance(document, dict) else None
        raise AppError(f"{path}: not a genkit export (format {_shown(found)})")
    check(document, EXPORT, "", path)
    check(document, EXPORT_SIGNATURES, "", path)
    return document


def check_section(folder: str | Path, document: dict, where: str, schema) -> None:
    """Checks a section of the genkit.json of ``folder`` (read by :func:`read_export`); ``where``: its dotted name."""
    value = document
    for key in where.split("."):
        value = value.get(key) if isinstance(value, dict) else None
    check(value, schema, where, Path(folder) / "genkit.json")


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
        raise AppError(f"{folder}: holds no .tflite or .onnx file (a {(document.get('export') or {}).get('format')} export)")
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

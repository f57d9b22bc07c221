"""The ``manifest:PATH`` dataset: paired examples from a JSONL or CSV file, one example per row.

A JSONL manifest has one JSON object per line; a CSV manifest has a header
row naming the columns (both UTF-8; blank lines are skipped)::

    {"image": "photos/cat1.png", "text": ["a cat", "a grey cat"], "label": "cat", "split": "train"}

    image,text,label
    photos/cat1.png,a grey cat,cat

Columns named ``image``, ``text``, ``audio``, ``label`` and ``split`` have
that type. Any other column takes its type from the sidecar file
``PATH.types.json`` (``pairs.jsonl.types.json`` beside ``pairs.jsonl``): a
JSON object ``{"column": "image" | "text" | "audio" | "label" | "split"}``,
which may also declare the standard names. Every row has every column.

- image: a PNG/JPEG path, relative to the manifest's folder or absolute. Read
  as RGB, or as grayscale when every image of the column is; resized (bilinear,
  antialiased: as the serving signature ``classify_files`` resizes files) to ``image_size`` (square; default: the images' own size when they
  all agree, else 64).
- text: a string, or in JSONL a non-empty list of reference strings.
- audio: a WAV path (see :mod:`genkit.data.wav`), made mono, resampled to
  ``sample_rate`` (default 16000 Hz) and zero-padded or cut to
  ``audio_seconds`` (default: the longest clip, at most 10 s).
- label: a class name (a JSONL integer counts as its name); ids index the
  sorted class names.
- split: train, validation or test. Without a split column the rows are split
  0.8 / 0.1 / 0.1 by a seeded shuffle, stratified by the first label column
  when there is one.

Errors are one line naming the manifest, the row and the column. Rows are
counted as data rows from 1 (the CSV header and blank lines not counted); the
line in the file, as an editor numbers it, follows in brackets:
``manifest:/data/pairs.csv row 3 (line 4), column 'audio': file not found: ...``.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from pathlib import Path

import numpy as np

from genkit.data.paired_dataset import FEATURE_TYPES, SPLITS, Feature, PairedDataset, stratified_split
from genkit.data.paths import user_path
from genkit.data.dataset_registry import DatasetKind, register_dataset
from genkit.data.wav import check_sample_rate, fit_length, read_wav, resample, to_mono
from genkit.errors import UserError

COLUMN_TYPES = (*FEATURE_TYPES, "split")
SPLIT_FRACTIONS = {"train": 0.8, "validation": 0.1, "test": 0.1}
DEFAULT_IMAGE_SIZE = 64
DEFAULT_SAMPLE_RATE = 16_000
MAX_DEFAULT_AUDIO_SECONDS = 10.0


@dataclasses.dataclass
class _Row:
    number: int  # data rows counted from 1
    line: int  # the row's first line in the file, counted from 1
    values: dict


def read_text_file(path: Path, where: str) -> str:
    """The UTF-8 text of ``path`` (a byte-order mark dropped); one line naming ``where`` when it cannot be read."""
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as error:
        raise UserError(f"{where}: not UTF-8 text (byte {error.start})") from None
    except OSError as error:
        raise UserError(f"{where}: cannot read the file ({error.strerror or type(error).__name__})") from None


def sidecar_path(manifest: str | Path) -> Path:
    """Where the column types of ``manifest`` are declared: ``PATH.types.json``."""
    return Path(f"{manifest}.types.json")


def load_manifest(path, image_size=None, sample_rate=None, audio_seconds=None, seed=0) -> PairedDataset:
    """Reads the manifest at ``path`` (.jsonl or .csv) into a :class:`PairedDataset`.

    ``image_size`` is an int (square) or (height, width); ``sample_rate`` in Hz
    (8000 to 48000); ``audio_seconds`` the length every clip is fitted to;
    ``seed`` drives the split when the manifest has no split column.
    """
    path = user_path(path, resolve=True)
    where = f"manifest:{path}"
    if not path.is_file():
        raise UserError(f"{where}: no such file")
    if path.suffix.lower() not in (".jsonl", ".csv"):
        raise UserError(f"{where}: a manifest is a .jsonl or .csv file; got '{path.suffix}'")
    size = _check_image_size(image_size, where)
    sample_rate = check_sample_rate(DEFAULT_SAMPLE_RATE if sample_rate is None else sample_rate, f"{where} (sample_rate)")
    if audio_seconds is not None and not (isinstance(audio_seconds, (int, float)) and audio_seconds > 0):
        raise UserError(f"{where}: audio_seconds must be a positive number; got {audio_seconds!r}")
    text = read_text_file(path, where)
    columns, rows = _read_csv(text, where) if path.suffix.lower() == ".csv" else _read_jsonl(text, where)
    if not rows:
        raise UserError(f"{where}: no examples (the file has no data rows)")
    types = _column_types(path, columns)

    def fail(row: _Row, column: str, problem: str) -> UserError:
        return UserError(f"{where} row {row.number} (line {row.line}), column {_name(column)}: {problem}")

    parse = {"image": _image, "text": _text, "audio": _audio, "label": _label, "split": _split}
    values = {column: [] for column in columns}
    for row in rows:
        for column in columns:
            value = row.values.get(column)
            if value is None:
                raise fail(row, column, "no value; every row needs every column")
            try:
                values[column].append(parse[types[column]](value, path.parent, sample_rate))
            except _BadValue as error:
                raise fail(row, column, str(error)) from None

    arrays, label_names = {}, {}
    image_columns = [c for c in columns if types[c] == "image"]
    if image_columns:
        arrays.update(_image_arrays({c: values[c] for c in image_columns}, size))
    audio_columns = [c for c in columns if types[c] == "audio"]
    if audio_columns:
        longest = max(len(clip) for c in audio_columns for clip in values[c]) / sample_rate
        audio_seconds = float(audio_seconds or min(longest, MAX_DEFAULT_AUDIO_SECONDS))
        samples = max(1, round(audio_seconds * sample_rate))
        audio_seconds = samples / sample_rate
        for column in audio_columns:
            arrays[column] = np.stack([fit_length(clip, samples) for clip in values[column]])
    for column in columns:
        if types[column] == "text":
            arrays[column] = np.empty(len(rows), dtype=object)
            for index, references in enumerate(values[column]):
                arrays[column][index] = references
        elif types[column] == "label":
            label_names[column] = sorted(set(values[column]))
            ids = {name: index for index, name in enumerate(label_names[column])}
            arrays[column] = np.asarray([ids[name] for name in values[column]], np.int32)

    split_column = next((c for c in columns if types[c] == "split"), None)
    assignment, protocol = _assign_splits(split_column, values, arrays, label_names, len(rows), seed, where)
    features = tuple(Feature(c, types[c]) for c in columns if types[c] != "split")
    splits = {
        split: {feature.name: arrays[feature.name][assignment == split] for feature in features}
        for split in SPLITS
        if (assignment == split).any()
    }
    return PairedDataset(
        name=where, source=str(path), features=features, splits=splits, label_names=label_names,
        sample_rate=sample_rate if audio_columns else None, audio_seconds=audio_seconds if audio_columns else None,
        split_protocol=protocol, evaluation_split=next(s for s in ("test", "validation", "train") if s in splits),
    )


def _assign_splits(split_column, values, arrays, label_names, count: int, seed: int, where: str):
    """(a split name per row, one line on how): the split column's, else a seeded stratified (or random) split."""
    fractions = " / ".join(f"{name} {fraction}" for name, fraction in SPLIT_FRACTIONS.items())
    if split_column is not None:
        assignment = np.asarray(values[split_column], dtype=object)
        if not (assignment == "train").any():
            raise UserError(f"{where}: no row has split 'train' (column {_name(split_column)}); a model needs training examples")
        return assignment, f"the manifest's split column '{split_column}'"
    if label_names:
        first = next(iter(label_names))
        protocol = f"seeded split stratified by label column '{first}' ({fractions}, seed {seed})"
        return stratified_split(arrays[first], SPLIT_FRACTIONS, seed), protocol
    return stratified_split(np.zeros(count), SPLIT_FRACTIONS, seed), f"seeded random split ({fractions}, seed {seed})"


def _read_jsonl(text: str, where: str) -> tuple[list[str], list[_Row]]:
    columns, rows = {}, []
    for line, content in enumerate(text.split("\n"), 1):
        if not content.strip():
            continue
        number = len(rows) + 1
        try:
            values = json.loads(content)
        except json.JSONDecodeError as error:
            problem = f"JSON syntax error ({error.msg} at character {error.colno})"
            raise UserError(f"{where} row {number} (line {line}): {problem}") from None
        except (ValueError, RecursionError) as error:  # a number of more than 4300 digits, '[[[[...' nested deeply
            raise UserError(f"{where} row {number} (line {line}): unreadable JSON ({_json_problem(error)})") from None
        if not isinstance(values, dict):
            raise UserError(f"{where} row {number} (line {line}): expected a JSON object {{column: value}}, got {_show(values)}")
        columns.update(dict.fromkeys(values))
        rows.append(_Row(number, line, values))
    return list(columns), rows


def _read_csv(text: str, where: str) -> tuple[list[str], list[_Row]]:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header, rows = None, []
    while True:
        line = reader.line_num + 1
        try:
            fields = next(reader)
        except StopIteration:
            break
        except csv.Error as error:
            row = "the header" if header is None else f"row {len(rows) + 1}"
            raise UserError(f"{where} {row} (line {line}): CSV syntax error ({error})") from None
        if not fields:
            continue
        if header is None:
            header = [name.strip() for name in fields]
            for index, name in enumerate(header):
                if not name or name in header[:index]:
                    problem = "has no name" if not name else f"repeats the name {_name(name)}"
                    raise UserError(f"{where} line {line}: column {index + 1} of the header {problem}")
            continue
        number = len(rows) + 1
        if len(fields) != len(header):
            problem = f"CSV syntax error ({len(fields)} fields, the header has {len(header)})"
            raise UserError(f"{where} row {number} (line {line}): {problem}")
        rows.append(_Row(number, line, dict(zip(header, fields))))
    return header or [], rows


def _column_types(path: Path, columns: list[str]) -> dict[str, str]:
    sidecar, declared = sidecar_path(path), {}
    if sidecar.is_file():
        try:
            declared = json.loads(sidecar.read_text(encoding="utf-8-sig"))
        except (ValueError, RecursionError) as error:  # JSONDecodeError, UnicodeDecodeError, a 5000-digit number
            raise UserError(f"{sidecar}: not a valid JSON file ({_json_problem(error)})") from None
        if not isinstance(declared, dict):
            raise UserError(f"{sidecar}: expected a JSON object {{column: type}}, got {_show(declared)}")
        for column, type_ in declared.items():
            if type_ not in COLUMN_TYPES:
                raise UserError(f"{sidecar}: column {_name(column)} has type {_show(type_)}; allowed: {', '.join(COLUMN_TYPES)}")
            if column not in columns:
                raise UserError(f"{sidecar}: declares column {_name(column)}, but manifest:{path} has only {_names(columns)}")
    types = {}
    for column in columns:
        types[column] = declared.get(column) or (column if column in COLUMN_TYPES else None)
        if types[column] is None:
            raise UserError(
                f"manifest:{path}: column {_name(column)} has no type; declare it in {sidecar} "
                f"as {{{json.dumps(column)}: \"image\" | \"text\" | \"audio\" | \"label\"}}"
            )
    split_columns = [column for column in columns if types[column] == "split"]
    if len(split_columns) > 1:
        raise UserError(f"manifest:{path}: has {len(split_columns)} split columns ({_names(split_columns)}); allowed: one")
    if len(split_columns) == len(columns):
        raise UserError(f"manifest:{path}: has no image, text, audio or label column")
    return types


class _BadValue(Exception):
    """A cell's problem; load_manifest adds the manifest, row and column."""


# Line breaks that json.dumps(ensure_ascii=False) leaves as they are (it escapes those below U+0020).
_LINE_BREAKS = str.maketrans({"\x85": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"})


def _show(value) -> str:
    shown = json.dumps(value, ensure_ascii=False).translate(_LINE_BREAKS)
    return shown if len(shown) <= 40 else shown[:37] + "..."


def _name(column: str) -> str:
    """A column name in quotes, escaped (a name with a line break stays on the error's one line)."""
    return repr(column)


def _path_text(file: Path) -> str:
    """A path from a cell, as it is, or escaped when it holds a line break or another unprintable character."""
    return str(file) if str(file).isprintable() else repr(str(file))


def _names(columns) -> str:
    return ", ".join(column if column.isprintable() else repr(column) for column in columns)


def _json_problem(error: BaseException) -> str:
    if isinstance(error, RecursionError):
        return "nested too deeply"
    lines = str(error).strip().splitlines()
    return lines[0][:200] if lines else type(error).__name__


def _file(value, folder: Path) -> Path:
    if not isinstance(value, str) or not value.strip():
        raise _BadValue(f"expected a file path, got {_show(value)}")
    file = user_path(value.strip())
    file = file if file.is_absolute() else folder / file
    if not file.is_file():
        raise _BadValue(f"file not found: {_path_text(file)}")
    return file


def _image(value, folder, _):
    """A Pillow image, converted to L (grayscale files) or RGB; sizes and modes are settled in _image_arrays."""
    from PIL import Image, UnidentifiedImageError

    file = _file(value, folder)
    try:
        with Image.open(file) as image:
            image.load()
            bands = [band for band in image.getbands() if band != "A"]
            return image.convert("L" if bands in (["L"], ["1"], ["I"], ["F"]) else "RGB")
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        raise _BadValue(f"not a readable PNG/JPEG image: {_path_text(file)} ({type(error).__name__})") from None


def _image_arrays(columns: dict[str, list], size) -> dict[str, np.ndarray]:
    """uint8 [N, H, W, C] per column: every image at ``size`` (w, h) or, by default, their common size (else 64)."""
    from PIL import Image

    if size is None:
        sizes = {image.size for images in columns.values() for image in images}
        size = sizes.pop() if len(sizes) == 1 else (DEFAULT_IMAGE_SIZE, DEFAULT_IMAGE_SIZE)
    arrays = {}
    for column, images in columns.items():
        mode = "L" if all(image.mode == "L" for image in images) else "RGB"
        images = [image.convert(mode) for image in images]
        stacked = np.stack([np.asarray(image, np.uint8) if image.size == size else _resized(image, size) for image in images])
        arrays[column] = stacked[..., np.newaxis] if mode == "L" else stacked
    return arrays


def _resized(image, size) -> np.ndarray:
    """uint8 [h, w(, C)] of ``image`` resized as the serving graph resizes files (``tf.image.resize``, bilinear,
    antialiased, on [0, 1] floats): Pillow's bilinear filter per channel in float mode matches it to ~1e-6."""
    from PIL import Image

    channels = [channel.convert("F").resize(size, Image.Resampling.BILINEAR) for channel in image.split()]
    values = np.stack([np.asarray(channel, np.float32) for channel in channels], axis=-1)
    values = np.clip(np.round(values), 0, 255).astype(np.uint8)
    return values[..., 0] if image.mode == "L" else values


def _audio(value, folder, sample_rate):
    file = _file(value, folder)
    try:
        waveform, rate = read_wav(file, _path_text(file))
    except UserError as error:
        raise _BadValue(str(error)) from None
    return np.clip(resample(to_mono(waveform), rate, sample_rate), -1.0, 1.0)


def _text(value, *_):
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and value and all(isinstance(text, str) for text in value):
        return tuple(value)
    if value == []:
        raise _BadValue("an empty list of texts; give at least one")
    raise _BadValue(f"expected a text or a list of texts, got {_show(value)}")


def _label(value, *_):
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        raise _BadValue(f"expected a class name, got {_show(value)}")
    if not value.strip():
        raise _BadValue("empty label; every row needs a class name")
    return value.strip()


def _split(value, *_):
    if not isinstance(value, str) or value.strip() not in SPLITS:
        raise _BadValue(f"unknown split {_show(value)}; allowed: {', '.join(SPLITS)}")
    return value.strip()


def _check_image_size(image_size, where: str):
    """``image_size`` (int, or (height, width)) as Pillow's (width, height); None stays None."""
    if image_size is None:
        return None
    sides = (image_size, image_size) if np.ndim(image_size) == 0 else tuple(image_size)
    if len(sides) != 2 or not all(isinstance(side, (int, np.integer)) and side > 0 for side in sides):
        raise UserError(f"{where}: image_size must be a positive int or (height, width); got {image_size!r}")
    return int(sides[1]), int(sides[0])


def _loader(argument, data_dir=None, image_size=None, sample_rate=None, audio_seconds=None, seed=0, **ignored):
    return load_manifest(argument, image_size=image_size, sample_rate=sample_rate, audio_seconds=audio_seconds, seed=seed or 0)


MANIFEST_DATASET = register_dataset(
    DatasetKind(
        "manifest", (), _loader, "a JSONL or CSV file of paired examples (image, text, audio, label, split columns)",
        takes_argument=True, optional_fields=("image", "text", "audio", "label"),
    )
)

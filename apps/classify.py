"""Classify images, texts and audio with an exported genkit fusion classifier (or rank texts with a dual encoder) — numpy, Pillow and LiteRT or ONNX Runtime.

    python apps/classify.py EXPORT_DIR [--image A.png ...] [--text "..." ...] [--audio X.wav ...]
                            [--input NAME=VALUE ...] [--runtime litert|onnx] [--top K] [--json OUT.json]

EXPORT_DIR is a folder written by ``genkit export`` of a ``fusion-classifier``
run (its ``classify_encoded`` signature: encoded inputs and a ``present`` mask
-> probabilities, class_id, modality_weights). Examples are given as parallel
lists, one value per example for each input: ``--image a.png b.png --text "a
cat" "a car"`` are two examples. ``--image`` / ``--text`` / ``--audio`` give
the input of that name (or the export's only input of that type);
``--input NAME=VALUE`` (repeatable) gives any input by name. An input not given
is missing for every example, and an empty value (``""``) makes it missing for
that example: it is masked out (``present`` 0), as genkit's classify_partial
does. Each example prints its top-K classes with probabilities and each
input's share of the fusion (``modality_weights``); ``--json`` also writes
them (the full probabilities included).

Inputs are prepared as genkit prepares them (genkit.json "preprocessing"):

- image: read with Pillow and converted to the export's channels as
  genkit's ``classify_files`` decodes PNGs (``tf.io.decode_image``: alpha
  dropped, libpng's grey of colour, 16-bit to the high byte; the same
  pixels), scaled to [0, 1] and, when its size differs from the export's,
  resized as ``classify_files`` does (``tf.image.resize(bilinear,
  antialias=True)`` on [0, 1] floats, reimplemented in NumPy: within 2e-7 of
  TensorFlow's, where Pillow's uint8 BILINEAR is up to 1/255 off and its
  LANCZOS up to 0.3). JPEGs are decoded by Pillow's accurate integer IDCT;
  TensorFlow's default fast IDCT gives pixels up to a few levels apart;
- text: lowercased, split by the export's ``split_pattern``, the first
  ``max_text_length`` words mapped to ids (unknown words to ``oov_id``),
  padded with ``padding_id``;
- audio: a WAV file (PCM 8/16/24/32-bit or float, any channels), averaged to
  mono, resampled to the export's rate when it differs (genkit's windowed-sinc
  resampler, as genkit's manifest loader does), cut or zero-padded to the
  export's length, then a log-mel spectrogram (audio_features.py).

The probabilities agree with those of the run's Keras model on the same files
to about 2e-6 (genkit computes the log-mel in float32, this app in float64).

A ``dual-encoder`` export ranks texts for images instead: ``--image`` gives
the images, ``--text`` (or ``--texts``) the candidate texts, and each image
prints its top-K texts by cosine similarity of their embeddings.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from audio_features import load_waveform, log_mel  # noqa: E402
from edge_runtime import (  # noqa: E402
    COUNT, NUMBER, TEXT, TEXT_ENCODER, AppError, Each, Model, Optional, Rule, TextEncoder, check_section, choose_runtime,
    fail, read_export,
)

APP = "classify"
RUNTIME_CHOICES = ("litert", "onnx")
KINDS = ("image", "text", "audio")
BATCH = 256  # examples per call of the exported model


# -- images ------------------------------------------------------------------------------------


def _resize_weights(in_size: int, out_size: int) -> np.ndarray:
    """float32 [out_size, in_size]: TensorFlow's ScaleAndTranslate spans for an antialiased triangle kernel.

    As ``tf.image.resize(method="bilinear", antialias=True)`` (translation 0):
    output pixel x samples the input at (x + 0.5) / scale; when shrinking, the
    kernel is widened by 1 / scale (a low-pass filter); the sources are
    clamped to the image and each row's weights normalised to sum to 1.
    Computed in float32 as TensorFlow does.
    """
    f32 = np.float32
    scale = f32(out_size) / f32(in_size)
    inv_scale = f32(1.0) / scale
    kernel_scale = max(inv_scale, f32(1.0))
    one_over_kernel_scale = f32(1.0) / kernel_scale
    weights = np.zeros((out_size, in_size), np.float32)
    for x in range(out_size):
        sample = f32(x + 0.5) * inv_scale
        start = min(max(math.ceil(sample - kernel_scale - f32(0.5)), 0), in_size - 1)
        end = min(max(math.floor(sample + kernel_scale - f32(0.5)), 0), in_size - 1) + 1
        positions = (np.arange(start, end, dtype=np.float32) + f32(0.5) - sample) * one_over_kernel_scale
        span = np.where(np.abs(positions) < 1, f32(1.0) - np.abs(positions), f32(0.0)).astype(np.float32)
        total = f32(0.0)
        for weight in span:  # summed in order, in float32
            total = f32(total + weight)
        if abs(total) >= 1000.0 * np.finfo(np.float32).tiny:
            weights[x, start:end] = span * (f32(1.0) / total)
    return weights


def resize_antialiased(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """float32 [height, width, C] of a float image [H, W, C]: tf.image.resize(bilinear, antialias=True).

    Rows first, then columns, as TensorFlow's kernel (products exact, sums
    rounded to float32 once per pass: within a few float32 steps of it).
    """
    if image.shape[:2] == (height, width):
        return image.astype(np.float32)
    rows = _resize_weights(image.shape[0], height).astype(np.float64)
    columns = _resize_weights(image.shape[1], width).astype(np.float64)
    between = np.einsum("oh,hwc->owc", rows, image.astype(np.float64)).astype(np.float32)
    return np.einsum("pw,owc->opc", columns, between.astype(np.float64)).astype(np.float32)


def load_image(path: str, shape, where: str) -> np.ndarray:
    """float32 [H, W, C] in [0, 1]: an image file in the export's channels and size."""
    from PIL import Image, UnidentifiedImageError

    height, width, channels = shape
    file = Path(path)
    if not file.is_file():
        raise AppError(f"{where}: file not found")
    if channels not in (1, 3, 4):
        raise AppError(f"{where}: the export takes images of {channels} channels; this app reads 1, 3 or 4")
    try:
        with Image.open(file) as image:
            pixels = decode_pixels(image, channels)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        raise AppError(f"{where}: not a readable image ({type(error).__name__})") from None
    pixels = pixels.astype(np.float32) / np.float32(255.0)
    return np.clip(resize_antialiased(pixels, height, width), 0.0, 1.0)


def decode_pixels(image, channels: int) -> np.ndarray:
    """uint8 [H, W, channels] of a Pillow image, as ``tf.io.decode_image(data, channels)`` gives a PNG's pixels.

    Alpha is dropped (not composited); 16-bit samples keep their high byte;
    colour to grey is libpng's ITU-R 601 luma in 15-bit fixed point, truncated
    (grey pixels stay as they are); grey to colour repeats the grey.
    """
    if image.mode.startswith("I;16"):
        grey = (np.asarray(image, np.uint16) >> 8).astype(np.uint8)
        return np.repeat(grey[..., np.newaxis], channels, axis=-1)
    colour = not set(image.getbands()) <= {"L", "1", "I", "F", "A"}
    if channels == 1 and colour:
        red, green, blue = np.moveaxis(np.asarray(image.convert("RGB"), np.int64), -1, 0)
        grey = (9797 * red + 19234 * green + 3737 * blue) >> 15
        grey = np.where((red == green) & (green == blue), red, grey)
        return grey.astype(np.uint8)[..., np.newaxis]
    pixels = np.asarray(image.convert({1: "L", 3: "RGB", 4: "RGBA"}[channels]), np.uint8)
    return pixels.reshape(*pixels.shape[:2], channels)


# -- the export --------------------------------------------------------------------------------


def fusion_signature(document: dict) -> str | None:
    """The signature taking encoded inputs and ``present`` to probabilities and modality weights."""
    for name, entry in document["signatures"].items():
        if "present" in entry["inputs"] and {"probabilities", "modality_weights"} <= set(entry["outputs"]):
            return name
    return None


def export_kind(document: dict) -> str:
    if fusion_signature(document):
        return "fusion"
    if {"embed_images", "embed_text_ids"} <= set(document["signatures"]):
        return "dual"
    raise AppError(
        f"this export ({document.get('model')}) is not a fusion-classifier or dual-encoder export "
        f"(signatures: {', '.join(document['signatures']) or 'none'}; a fusion classifier's is classify_encoded)"
    )


# genkit.json "preprocessing" and "run" of a fusion-classifier or dual-encoder export.
LOG_MEL = {
    "sample_rate": COUNT, "frame_length": COUNT, "frame_step": COUNT, "num_mel_bins": COUNT,
    "fft_length": Optional(Rule(lambda value: value is None or COUNT.test(value), "an integer >= 1 or null")),
    "lower_edge_hertz": Optional(NUMBER),
    "upper_edge_hertz": Optional(Rule(lambda value: value is None or NUMBER.test(value), "a number or null")),
    "power": Optional(NUMBER), "log_offset": Optional(NUMBER),
}
PREPROCESSING = {"inputs": Each(Rule(lambda kind: kind in KINDS, f"one of {', '.join(KINDS)}"))}
NAMES = Rule(lambda value: value is None or (isinstance(value, list) and all(isinstance(v, str) for v in value)),
             "a list of strings")
RUN_CONFIG = {
    "inputs": Optional(NAMES), "class_names": Optional(NAMES),
    "target": Optional(Rule(lambda value: value is None or TEXT.test(value), "a string")),
}


def export_inputs(document: dict, folder=".") -> dict[str, str]:
    """{input name: image | text | audio}, in the model's order (the order of ``present``)."""
    preprocessing = document.get("preprocessing")
    if not preprocessing or not preprocessing.get("inputs"):
        raise AppError("genkit.json has no 'preprocessing' inputs (export the run again with this genkit)")
    check_section(folder, document, "preprocessing", PREPROCESSING)
    if "text" in preprocessing["inputs"].values():
        check_section(folder, document, "preprocessing.text", TEXT_ENCODER)
    if "audio" in preprocessing["inputs"].values():
        check_section(folder, document, "preprocessing.audio", {"sample_rate": COUNT, "samples": COUNT, "log_mel": LOG_MEL})
    if isinstance(document.get("run"), dict) and document["run"].get("config") is not None:
        check_section(folder, document, "run.config", RUN_CONFIG)
    inputs = dict(preprocessing["inputs"])
    order = ((document.get("run") or {}).get("config") or {}).get("inputs")
    if order and sorted(order) == sorted(inputs):
        inputs = {name: inputs[name] for name in order}
    return inputs


def describe_inputs(inputs: dict[str, str]) -> str:
    return ", ".join(name if name == kind else f"{name} ({kind})" for name, kind in inputs.items())


def encoded_name(name: str, kind: str) -> str:
    """The exported signature's input of a raw input: images as they are, texts as ids, audio as log-mel."""
    return {"image": name, "text": f"{name}_ids", "audio": f"{name}_log_mel"}[kind]


def class_names(document: dict, count: int) -> list[str]:
    config = (document.get("run") or {}).get("config") or {}
    names = config.get("class_names")
    if not names:
        labels = document.get("labels") if isinstance(document.get("labels"), dict) else {}
        names = labels.get(config.get("target")) or (next(iter(labels.values())) if len(labels) == 1 else None)
    if not names or len(names) != count:
        return [f"class {index}" for index in range(count)]
    return [str(name) for name in names]


# -- the command line's values -----------------------------------------------------------------


def gather_values(args, inputs: dict[str, str], parallel: bool = True) -> tuple[dict[str, list[str]], dict[str, str]]:
    """{input name: its values} from --image/--text/--audio and --input NAME=VALUE (``parallel``: as many of each),
    and {input name: the flag that gave it}."""
    values: dict[str, list[str]] = {}
    flags: dict[str, str] = {}

    def add(name: str, items: list[str], flag: str) -> None:
        if name in values:
            raise AppError(f"{flag}: input '{name}' is already given by {flags[name]}; give each input once")
        values[name], flags[name] = list(items), flag

    for kind in KINDS:
        items = getattr(args, kind)
        if items is None:
            continue
        if kind in inputs:
            name = kind
        else:
            of_kind = [name for name, k in inputs.items() if k == kind]
            if len(of_kind) != 1:
                what = f"no {kind} input" if not of_kind else f"{len(of_kind)} {kind} inputs (name one with --input NAME=VALUE)"
                raise AppError(f"--{kind}: this export has {what}; its inputs: {describe_inputs(inputs)}")
            name = of_kind[0]
        if inputs[name] != kind:
            raise AppError(f"--{kind}: the export's input '{name}' is {inputs[name]}, not {kind}; use --input {name}=VALUE")
        add(name, items, f"--{kind}")
    by_name: dict[str, list[str]] = {}
    for item in args.input or []:
        name, equals, value = item.partition("=")
        if not equals or not name:
            raise AppError(f"--input {item}: expected NAME=VALUE")
        if name not in inputs:
            raise AppError(f"--input {name}: the export has no input '{name}'; its inputs: {describe_inputs(inputs)}")
        by_name.setdefault(name, []).append(value)
    for name, items in by_name.items():
        add(name, items, f"--input {name}")
    if not values:
        flags_hint = ", ".join(f"--{kind}" for kind in KINDS if kind in inputs.values())
        raise AppError(f"no input given: pass {flags_hint} or --input NAME=VALUE (this export's inputs: {describe_inputs(inputs)})")
    counts = {name: len(items) for name, items in values.items()}
    if parallel and len(set(counts.values())) > 1:
        listing = ", ".join(f"{flags[name]}: {count}" for name, count in counts.items())
        raise AppError(f"inputs give different numbers of examples ({listing}); give one value per example ('' marks one missing)")
    return values, flags


# -- fusion classifier -------------------------------------------------------------------------


def encode_inputs(document: dict, entry: dict, inputs: dict[str, str], values: dict[str, list[str]],
                  flags: dict[str, str] | None = None) -> tuple[dict, np.ndarray]:
    """The signature's feed ({encoded name: [N, ...]}) and ``present`` [N, M] for the given values."""
    preprocessing = document["preprocessing"]
    count = len(next(iter(values.values())))
    feed, present = {}, np.zeros((count, len(inputs)), np.float32)
    text_encoder = TextEncoder(preprocessing["text"]) if "text" in inputs.values() else None
    audio = preprocessing.get("audio") if "audio" in inputs.values() else None
    for m, (name, kind) in enumerate(inputs.items()):
        key = encoded_name(name, kind)
        if key not in entry["inputs"]:
            raise AppError(f"genkit.json: the signature has no input '{key}' for the model's {kind} input '{name}'")
        shape = [int(d) for d in entry["inputs"][key]["shape"][1:]]
        batch = np.zeros((count, *shape), np.int32 if kind == "text" else np.float32)
        if kind == "audio":
            silence = log_mel(np.zeros(int(audio["samples"]), np.float32), audio["log_mel"])
            batch[:] = silence  # what a missing clip holds (masked out; any finite value does)
        for index, value in enumerate(values.get(name, [""] * count)):
            if value == "":
                continue
            where = f"{(flags or {}).get(name, '--input ' + name)} {value}"
            if kind == "image":
                batch[index] = load_image(value, shape, where)
            elif kind == "text":
                batch[index] = text_encoder.encode(value)
            else:
                waveform = load_waveform(value, int(audio["sample_rate"]), int(audio["samples"]), where)
                features = log_mel(waveform, audio["log_mel"])
                if list(features.shape) != shape:
                    raise AppError(f"genkit.json: audio features {list(features.shape)} differ from the signature's {shape}")
                batch[index] = features
            present[index, m] = 1.0
        feed[key] = batch
    empty = np.flatnonzero(present.sum(axis=1) == 0)
    if len(empty):
        raise AppError(f"example {empty[0] + 1}: every input is missing; give at least one")
    return feed, present


def classify(folder, values: dict[str, list[str]], runtime: str | None = None, top: int = 5, flags=None) -> dict:
    """Predictions of a fusion-classifier export for ``values`` ({input name: one value per example; '' = missing})."""
    folder = Path(folder)
    document = read_export(folder)
    if export_kind(document) != "fusion":
        raise AppError(f"this export ({document.get('model')}) is not a fusion classifier")
    inputs = export_inputs(document, folder)
    runtime = choose_runtime(document, folder, runtime)
    signature = fusion_signature(document)
    entry = document["signatures"][signature]
    feed, present = encode_inputs(document, entry, inputs, values, flags)
    model = Model(folder, signature, entry, runtime)
    outputs = run_in_batches(model, {**feed, "present": present})
    probabilities = np.asarray(outputs["probabilities"], np.float64)
    weights = np.asarray(outputs["modality_weights"], np.float64)
    names = class_names(document, probabilities.shape[1])
    predictions = []
    for index, row in enumerate(probabilities):
        order = np.argsort(-row, kind="stable")
        missing = [name for m, name in enumerate(inputs) if not present[index, m]]
        predictions.append({
            "example": index + 1,
            "inputs": {name: (values[name][index] or None) if name in values else None for name in inputs},
            "missing": missing,
            "label": names[order[0]], "class_id": int(order[0]),
            "top": [{"label": names[i], "probability": float(row[i])} for i in order[:top]],
            "probabilities": [float(p) for p in row],
            "modality_weights": {name: float(weights[index, m]) for m, name in enumerate(inputs)},
        })
    return {
        "model": document.get("model"), "export_dir": str(folder), "runtime": runtime, "signature": signature,
        "inputs": inputs, "class_names": names, "predictions": predictions,
    }


def run_in_batches(model: Model, feed: dict) -> dict[str, np.ndarray]:
    count = len(next(iter(feed.values())))
    parts: dict[str, list] = {}
    for start in range(0, count, BATCH):
        for name, value in model(**{key: array[start : start + BATCH] for key, array in feed.items()}).items():
            parts.setdefault(name, []).append(np.asarray(value))
    return {name: np.concatenate(chunks) for name, chunks in parts.items()}


def format_predictions(result: dict) -> str:
    lines = []
    for prediction in result["predictions"]:
        shown = []
        for name, value in prediction["inputs"].items():
            if value is None:
                shown.append(f"{name} (missing)")
            else:
                shown.append(f"{name} {json.dumps(value, ensure_ascii=False) if result['inputs'][name] == 'text' else value}")
        lines.append(f"example {prediction['example']}: " + " | ".join(shown))
        for item in prediction["top"]:
            lines.append(f"  {item['probability']:.4f}  {item['label']}")
        weights = ", ".join(
            f"{name} -" if name in prediction["missing"] else f"{name} {weight:.3f}"
            for name, weight in prediction["modality_weights"].items()
        )
        missing = f" (missing: {', '.join(prediction['missing'])})" if prediction["missing"] else ""
        lines.append(f"  modality weights: {weights}{missing}")
    return "\n".join(lines)


# -- dual encoder ------------------------------------------------------------------------------


def rank_texts(folder, images: list[str], texts: list[str], runtime: str | None = None, top: int = 5) -> dict:
    """Each image's texts by cosine similarity of a dual-encoder export's embeddings."""
    folder = Path(folder)
    document = read_export(folder)
    if export_kind(document) != "dual":
        raise AppError(f"this export ({document.get('model')}) is not a dual encoder")
    inputs = export_inputs(document, folder)  # checks genkit.json's preprocessing
    if "text" not in inputs.values():
        raise AppError(f"{folder / 'genkit.json'}: a dual-encoder export needs a text input in preprocessing.inputs")
    if not images or not texts:
        raise AppError("a dual-encoder export ranks texts for images: give --image FILE ... and --text TEXT ...")
    if "" in images or "" in texts:
        raise AppError("a dual-encoder export ranks given texts for given images: '' (a missing input) is not allowed")
    runtime = choose_runtime(document, folder, runtime)
    image_entry, text_entry = document["signatures"]["embed_images"], document["signatures"]["embed_text_ids"]
    for name, entry in (("embed_images", image_entry), ("embed_text_ids", text_entry)):
        if len(entry["inputs"]) != 1:
            raise AppError(f"{folder / 'genkit.json'}: signatures.{name} must take one input")
    (image_key,), (text_key,) = image_entry["inputs"], text_entry["inputs"]
    shape = [int(d) for d in image_entry["inputs"][image_key]["shape"][1:]]
    pixels = np.stack([load_image(path, shape, f"--image {path}") for path in images])
    encoder = TextEncoder(document["preprocessing"]["text"])
    ids = np.stack([encoder.encode(text) for text in texts])
    image_vectors = run_in_batches(Model(folder, "embed_images", image_entry, runtime), {image_key: pixels})
    text_vectors = run_in_batches(Model(folder, "embed_text_ids", text_entry, runtime), {text_key: ids})
    image_vectors = _unit(next(iter(image_vectors.values())))
    text_vectors = _unit(next(iter(text_vectors.values())))
    similarity = image_vectors @ text_vectors.T
    rankings = []
    for index, row in enumerate(similarity):
        order = np.argsort(-row, kind="stable")
        rankings.append({
            "example": index + 1, "image": images[index],
            "top": [{"text": texts[i], "index": int(i), "similarity": float(row[i])} for i in order[:top]],
            "similarities": [float(s) for s in row],
        })
    return {
        "model": document.get("model"), "export_dir": str(folder), "runtime": runtime, "texts": list(texts),
        "rankings": rankings,
    }


def _unit(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, np.float64)
    return vectors / np.maximum(np.linalg.norm(vectors, axis=-1, keepdims=True), 1e-12)


def format_rankings(result: dict) -> str:
    lines = []
    for ranking in result["rankings"]:
        lines.append(f"image {ranking['example']}: {ranking['image']}")
        for item in ranking["top"]:
            lines.append(f"  {item['similarity']:+.4f}  {json.dumps(item['text'], ensure_ascii=False)}")
    return "\n".join(lines)


# -- main --------------------------------------------------------------------------------------


def write_json(path: Path, result: dict) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    try:
        temporary.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        temporary.replace(path)
    except OSError as error:
        raise AppError(f"--json {path}: cannot write ({error.strerror or type(error).__name__})") from None


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog=APP, description=__doc__.split("\n")[0])
    parser.add_argument("export_dir", metavar="EXPORT_DIR")
    parser.add_argument("--image", nargs="+", action="extend", metavar="FILE", help="PNG/JPEG files, one per example")
    parser.add_argument("--text", "--texts", nargs="+", action="extend", metavar="TEXT",
                        help="texts, one per example (a dual encoder: the texts to rank)")
    parser.add_argument("--audio", nargs="+", action="extend", metavar="FILE", help="WAV files, one per example")
    parser.add_argument("--input", action="append", metavar="NAME=VALUE", help="any input by name (repeat per example)")
    parser.add_argument("--runtime", choices=RUNTIME_CHOICES, help="default: the file the folder holds")
    parser.add_argument("--top", type=int, default=5, metavar="K", help="classes (or texts) shown per example")
    parser.add_argument("--json", metavar="FILE", help="also write the predictions as JSON")
    args = parser.parse_args(argv)
    try:
        if args.top < 1:
            raise AppError(f"--top {args.top}: must be >= 1")
        if args.json and not Path(args.json).parent.is_dir():
            raise AppError(f"--json {args.json}: no such folder '{Path(args.json).parent}'")
        folder = Path(args.export_dir)
        document = read_export(folder)
        if export_kind(document) == "dual":
            inputs = export_inputs(document, folder)
            values, _ = gather_values(args, inputs, parallel=False)
            missing = [kind for kind in ("image", "text") if kind not in inputs.values()]
            if missing:
                raise AppError(f"{folder / 'genkit.json'}: a dual-encoder export needs an image and a text input "
                               f"(preprocessing.inputs has no {missing[0]})")
            image_name, text_name = (next(n for n, k in inputs.items() if k == kind) for kind in ("image", "text"))
            result = rank_texts(folder, values.get(image_name, []), values.get(text_name, []), args.runtime, args.top)
            report = format_rankings(result)
        else:
            values, flags = gather_values(args, export_inputs(document, folder))
            result = classify(folder, values, args.runtime, args.top, flags)
            report = format_predictions(result)
        if args.json:
            write_json(Path(args.json), result)
    except AppError as error:
        fail(APP, error)
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""An image grid from an exported genkit generator (GAN, VAE decoder) — numpy, Pillow and LiteRT or ONNX Runtime.

    python apps/generate_images.py EXPORT_DIR --out grid.png [-n N] [--label K | --prompt TEXT] [--seed S] [--runtime litert|onnx]

EXPORT_DIR is a folder written by ``genkit export`` (its genkit.json says
which signature makes images and how genkit draws each noise input, so the
same seed gives the same images as ``genkit sample``). A text-to-image
export takes ``--prompt``, tokenised with the vocabulary in its genkit.json
(words it lacks are reported and read as the unknown word, as genkit does).
``--out`` ending in
``.npy`` saves the float32 images [N, H, W, C] in [0, 1] instead of a grid.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from edge_runtime import (  # noqa: E402
    COUNT, TEXT_ENCODER, AppError, Model, Rule, TextEncoder, check, check_section, choose_runtime, fail, read_export,
)

APP = "generate_images"
RUNTIME_CHOICES = ("litert", "onnx")


def image_signature(document: dict, requested: str | None) -> str:
    """``requested``, or the first signature that makes images from inputs genkit knows how to draw."""
    signatures = document["signatures"]
    if requested:
        if requested not in signatures:
            raise AppError(f"--signature {requested}: not in this export; allowed: {', '.join(signatures)}")
        return requested
    for name, entry in signatures.items():
        makes_images = any(len(spec["shape"]) == 4 for spec in entry["outputs"].values())
        drawable = all(
            "sampling" in spec or spec["dtype"].startswith("int") for spec in entry["inputs"].values()
        )
        if makes_images and drawable:
            return name
    raise AppError(f"this export ({document.get('model')}) has no signature that generates images from noise")


def draw_inputs(entry: dict, num_samples: int, seed: int, label: int | None, num_classes: int | None,
                prompt_ids: np.ndarray | None = None) -> dict:
    """Each input drawn exactly as genkit draws it (genkit.json "sampling"), labels from --label, word ids from --prompt."""
    inputs, label_used, prompt_used = {}, False, False
    for name, spec in entry["inputs"].items():
        sampling = spec.get("sampling", {})
        dims = tuple(spec["shape"][1:])
        if sampling.get("distribution") == "standard_normal":
            inputs[name] = np.random.default_rng(seed).standard_normal((num_samples, *dims)).astype("float32")
        elif spec.get("modality") == "tokens":
            if prompt_ids is None:
                raise AppError(f"input '{name}' takes a description: pass --prompt TEXT")
            inputs[name] = np.repeat(prompt_ids[None, :], num_samples, axis=0).astype(spec["dtype"])
            prompt_used = True
        elif spec["dtype"].startswith("int"):
            if label is not None:
                if num_classes is not None and not 0 <= label < num_classes:
                    raise AppError(f"--label {label}: out of range; this model has classes 0 to {num_classes - 1}")
                inputs[name] = np.full((num_samples, *dims), label, spec["dtype"])
                label_used = True
            elif num_classes:  # genkit's default: the classes in turn (0, 1, ..., K-1, 0, ...)
                inputs[name] = (np.arange(num_samples) % num_classes).astype(spec["dtype"])
            else:
                raise AppError(f"input '{name}' needs a class id: pass --label K")
        else:
            raise AppError(f"input '{name}': genkit.json does not say how to draw it")
    if label is not None and not label_used:
        raise AppError("--label: this model is not conditional (it takes no class id)")
    if prompt_ids is not None and not prompt_used:
        raise AppError("--prompt: this model takes no description")
    return inputs


def image_grid(images: np.ndarray, padding: int = 2) -> np.ndarray:
    """[N, H, W, C] in [0, 1] -> one uint8 grid, laid out as genkit's sample grids."""
    count, height, width, channels = images.shape
    columns = math.ceil(math.sqrt(count))
    rows = math.ceil(count / columns)
    grid = np.zeros((rows * (height + padding) + padding, columns * (width + padding) + padding, channels), np.uint8)
    pixels = np.clip(np.round(images * 255.0), 0, 255).astype(np.uint8)
    for index in range(count):
        top = padding + (index // columns) * (height + padding)
        left = padding + (index % columns) * (width + padding)
        grid[top : top + height, left : left + width] = pixels[index]
    return grid


def write_image(path: Path, grid: np.ndarray) -> None:
    from PIL import Image

    image = Image.fromarray(grid[..., 0] if grid.shape[-1] == 1 else grid)
    temporary = path.with_name(f".{path.name}.tmp")
    image.save(temporary, format="PNG")
    temporary.replace(path)


def prompt_ids(document: dict, prompt: str | None, folder=".") -> np.ndarray | None:
    """The word ids of ``prompt`` with the export's vocabulary (genkit.json "preprocessing"."text"); unknown words
    are reported on standard error."""
    if prompt is None:
        return None
    text = (document.get("preprocessing") or {}).get("text")
    if not text or not isinstance(text, dict) or "vocabulary" not in text:
        raise AppError("--prompt: this export has no vocabulary (it takes no description)")
    check_section(folder, document, "preprocessing.text", TEXT_ENCODER)
    encoder = TextEncoder(text)
    if not encoder.words(prompt):
        raise AppError("--prompt: has no words to draw")
    unknown = encoder.unknown_words(prompt)
    if unknown:
        print(f"{APP}: not in the model's vocabulary, read as the unknown word: {', '.join(unknown)}", file=sys.stderr)
    return encoder.encode(prompt)


def generate(folder, num_samples=16, seed=0, label=None, runtime=None, signature=None, prompt=None) -> np.ndarray:
    """float32 images [N, H, W, C] in [0, 1] from the export in ``folder`` (of ``prompt``, for a text-to-image model)."""
    folder = Path(folder)
    document = read_export(folder)
    runtime = choose_runtime(document, folder, runtime)
    name = image_signature(document, signature)
    entry = document["signatures"][name]
    num_classes = (document.get("data") or {}).get("num_classes") if any(
        spec["dtype"].startswith("int") for spec in entry["inputs"].values()
    ) else None
    check(num_classes, Rule(lambda value: value is None or COUNT.test(value), "an integer >= 1"), "data.num_classes",
          folder / "genkit.json")
    model = Model(folder, name, entry, runtime)
    outputs = model(**draw_inputs(entry, num_samples, seed, label, num_classes, prompt_ids(document, prompt, folder)))
    images = next(value for key, value in outputs.items() if value.ndim == 4)
    return np.clip(np.asarray(images, np.float32), 0.0, 1.0)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog=APP, description=__doc__.split("\n")[0])
    parser.add_argument("export_dir", metavar="EXPORT_DIR")
    parser.add_argument("--out", required=True, metavar="FILE", help=".png grid, or .npy float32 images")
    parser.add_argument("-n", "--num-samples", type=int, default=16, metavar="N")
    parser.add_argument("--label", type=int, metavar="K", help="conditional models: the class to generate")
    parser.add_argument("--prompt", metavar="TEXT", help="text-to-image models: the description to draw")
    parser.add_argument("--seed", type=int, default=0, metavar="S")
    parser.add_argument("--runtime", choices=RUNTIME_CHOICES, help="default: the file the folder holds")
    parser.add_argument("--signature", metavar="NAME", help="default: the one that generates images")
    args = parser.parse_args(argv)
    out = Path(args.out)
    try:
        if out.suffix.lower() not in (".png", ".npy"):
            raise AppError(f"--out {out}: unsupported file type '{out.suffix}'; allowed: .png, .npy")
        if args.num_samples < 1:
            raise AppError(f"-n {args.num_samples}: must be >= 1")
        images = generate(args.export_dir, args.num_samples, args.seed, args.label, args.runtime, args.signature, args.prompt)
        if out.suffix.lower() == ".npy":
            np.save(out, images)
        else:
            write_image(out, image_grid(images))
    except AppError as error:
        fail(APP, error)
    print(f"{APP}: wrote {len(images)} images to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

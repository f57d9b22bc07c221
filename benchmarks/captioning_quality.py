"""Captioning at equal training time: ``captioner`` (Show, Attend and Tell), the same decoder without attention
(Show and Tell), keras-io's CNN + Transformer captioner, and two floors, on the embedded emoji.

    python benchmarks/captioning_quality.py [--minutes 10] [--repeat 2] [--json out.json] [--markdown out.md] [--grid grid.png]
    python benchmarks/captioning_quality.py --minutes 0.3 --methods captioner    # a smoke run

Every model trains on the embedded emoji's training split (image -> its Unicode name) for ``--minutes`` of wall
time and captions the test split's images; the captions are scored by ``genkit.evaluation.caption_metrics``
against all references of each image (its name, CLDR short name and keywords): corpus BLEU-1..4 and CIDEr-D,
exact matches and distinct words. genkit's models are trained with ``genkit.commands.train.train(..., time_limit=MINUTES)``
in their default config and decoded as ``genkit evaluate`` decodes (beam search of the default width); the
peer is ``benchmarks/peers/keras_io_captioning.py`` (greedy, as keras-io decodes). Floors: the most common
training caption for every image, and the caption of the nearest training image in pixel space.

The machine is shared: scores move from run to run (``--repeat N`` runs seeds S..S+N-1 from ``--first-seed S``;
the table gives the spread). Run it from a checkout nobody edits while it runs: AutoGraph reads the source files
again when it traces, so an edit under a running benchmark breaks it.
"""

from __future__ import annotations

import datetime
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from benchmarks.quality_table import quality_arguments, summary_table  # noqa: E402
from genkit.atomic import write_bytes, write_json  # noqa: E402
from genkit.data.dataset_registry import load_dataset  # noqa: E402
from genkit.evaluation.caption_floors import constant_caption, nearest_neighbour_captions  # noqa: E402
from genkit.evaluation.caption_metrics import caption_metrics  # noqa: E402
from genkit.commands.train import train  # noqa: E402
from genkit.versions import library_versions  # noqa: E402

METHODS = {
    "captioner": {},
    "captioner, no attention (Show and Tell)": {"attention": False, "attention_regularization": 0.0},
    "keras-io CNN + Transformer": None,
}
UNLIMITED_EPOCHS = 100_000
SCORES = ("bleu_1", "bleu_2", "bleu_4", "cider_d", "exact_match", "vocabulary_usage")


def score_digits(score: str) -> int:
    return 0 if score == "vocabulary_usage" else 3


def _stamp() -> str:
    return time.strftime("%H:%M:%S")


def genkit_run(out: Path, method: str, minutes: float, seed: int, images, references) -> dict:
    from genkit.runtime.run_folder import RunFolder

    run_dir = out / f"{method.split(',')[0].replace(' ', '-')}{'-no-attention' if 'no attention' in method else ''}-seed{seed}"
    print(f"[{_stamp()}] {method} for {minutes} min ...", flush=True)
    result = train("captioner", overrides=METHODS[method], out=run_dir, verbose=0, epochs=UNLIMITED_EPOCHS,
                   time_limit=minutes, seed=seed)
    training = json.loads((result.run_dir / "genkit.json").read_text())["training"]
    model = RunFolder(result.run_dir).load_model()
    captions = model.caption_arrays(images)["captions"]
    return {"method": method, "seed": seed, "steps": training["global_steps"], "captions": captions,
            **caption_metrics(references, captions)}


def peer_run(method: str, minutes: float, seed: int, data, images, references) -> dict:
    from benchmarks.peers.keras_io_captioning import train_and_caption

    print(f"[{_stamp()}] {method} for {minutes} min ...", flush=True)
    train_split = data.split("train")
    train_references = [(refs[0],) for refs in train_split["text"]]  # the name, as genkit's models train
    # 1e-3, not keras-io's 1e-4 (tuned for a frozen pretrained CNN): its CNN trains from scratch here, and fits faster so.
    result = train_and_caption(train_split["image"], train_references, images, minutes, seed=seed, learning_rate=1e-3)
    return {"method": method, "seed": seed, "steps": result["steps"], "captions": result["captions"],
            **caption_metrics(references, result["captions"])}


def floor_rows(data, images, references) -> list[dict]:
    train_split = data.split("train")
    rows = []
    for method, captions in (
        ("floor: most common training caption", [constant_caption(train_split["text"])] * len(images)),
        ("floor: nearest training image (pixels)", nearest_neighbour_captions(train_split["image"], train_split["text"], images)),
    ):
        rows.append({"method": method, "seed": 0, "captions": captions, **caption_metrics(references, captions)})
    return rows


def ratios(rows: list[dict]) -> str:
    """CIDEr-D of each model over the keras-io architecture's, and captioner's BLEU-1 over the nearest neighbour's."""
    def mean(method, key):
        values = [row[key] for row in rows if row["method"] == method]
        return float(np.mean(values)) if values else None

    lines = []
    peer = mean("keras-io CNN + Transformer", "cider_d")
    for method in list(METHODS)[:2]:
        value = mean(method, "cider_d")
        if value is not None and peer:
            lines.append(f"- {method}: CIDEr-D {value / peer:.2f}x keras-io's")
    neighbour = mean("floor: nearest training image (pixels)", "bleu_1")
    if mean("captioner", "bleu_1") is not None and neighbour:
        lines.append(f"- captioner: BLEU-1 {mean('captioner', 'bleu_1') / neighbour:.2f}x the nearest-neighbour floor's")
    return "\n".join(lines)


def caption_grid(path: Path, images, references, rows: list[dict], count: int = 12, seed: int = 0) -> None:
    """A PNG: test images (4x upscaled), each with its reference and every method's caption (first seed) below."""
    from PIL import Image, ImageDraw, ImageFont

    rng = np.random.default_rng(seed)
    chosen = sorted(rng.choice(len(images), count, replace=False))
    firsts = {}
    for row in rows:
        firsts.setdefault(row["method"], row["captions"])
    labels = {
        "captioner": "captioner", "captioner, no attention (Show and Tell)": "show-and-tell",
        "keras-io CNN + Transformer": "keras-io", "floor: most common training caption": "constant",
        "floor: nearest training image (pixels)": "nearest",
    }
    font = ImageFont.load_default(size=11)
    cell_width, picture, line = 260, 96, 14
    lines_per_cell = 1 + len(firsts)
    height = picture + 6 + line * lines_per_cell + 8
    columns = 3
    sheet = Image.new("RGB", (columns * cell_width, ((count + columns - 1) // columns) * height), "white")
    draw = ImageDraw.Draw(sheet)
    for slot, index in enumerate(chosen):
        x, y = (slot % columns) * cell_width, (slot // columns) * height
        sheet.paste(Image.fromarray(images[index]).resize((picture, picture), Image.Resampling.NEAREST), (x + 4, y + 4))
        texts = [("ref", references[index][0])] + [(labels[m], captions[index]) for m, captions in firsts.items()]
        for number, (label, text) in enumerate(texts):
            draw.text((x + 4, y + picture + 6 + number * line), f"{label}: {text}"[:44], fill="black", font=font)
    import io

    buffer = io.BytesIO()
    sheet.save(buffer, format="PNG")
    write_bytes(path, buffer.getvalue())


def main(argv=None) -> int:
    args = quality_arguments(__doc__.splitlines()[0], METHODS, "a PNG of test images with their captions", argv)
    if args.methods is None:
        print(f"captioning_quality.py: error: --methods {args.requested_methods}: none of {'; '.join(METHODS)}", file=sys.stderr)
        return 2
    methods = args.methods
    out = args.out or Path("saved_models") / f"captioning-quality-{datetime.datetime.now():%Y%m%d-%H%M%S}"
    data = load_dataset("embedded", ("image", "text"), "the benchmark")
    test = data.split("test")
    images, references = test["image"], [list(refs) for refs in test["text"]]
    rows = floor_rows(data, images, references)
    for seed in range(args.first_seed, args.first_seed + args.repeat):
        for method in methods:
            if METHODS[method] is None:
                rows.append(peer_run(method, args.minutes, seed, data, images, references))
            else:
                rows.append(genkit_run(out, method, args.minutes, seed, images, references))
    report = summary_table(rows, SCORES, score_digits) + "\n\n" + ratios(rows)
    print(report)
    if args.markdown:
        write_bytes(args.markdown, (report + "\n").encode())
    if args.grid:
        caption_grid(args.grid, images, references, rows)
    if args.json:
        write_json(args.json, {"minutes": args.minutes, "repeat": args.repeat, "rows": rows, "versions": library_versions()})
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Text-to-image at equal training time: ``text2image-gan``, ``text2image-vae``, a class-conditional cGAN on the
emoji subgroups (a peer that sees the label, not the words), and the retrieval floor, on the embedded emoji.

    python benchmarks/text_to_image_quality.py [--minutes 10] [--repeat 2] [--json out.json] [--markdown out.md] [--grid grid.png]
    python benchmarks/text_to_image_quality.py --minutes 0.3 --methods text2image-gan    # a smoke run

Every model trains on the embedded emoji's training split for ``--minutes`` of wall time in its default config
(``genkit.commands.train.train(..., time_limit=MINUTES)``). The text models draw one image per test description (its
Unicode name); the cGAN (genkit's ``cgan``, trained on an .npz of the same training images labelled with their
subgroup) draws one image of each test description's subgroup. All are scored by
``genkit.evaluation.text_to_image.text_to_image_evaluation`` -- FID/KID/precision/recall on the shipped emoji
classifier's features, R-precision with the shipped emoji dual encoder (1 true description among 100), subgroup
accuracy with the shipped classifier -- which also gives the real test images (the ceiling) and the retrieval
floor (the training image whose description is nearest in the dual encoder's text space).

The machine is shared: scores move from run to run (``--repeat N`` runs seeds S..S+N-1 from ``--first-seed S``;
the table gives the spread). Run it from a checkout nobody edits while it runs: AutoGraph reads the source files
again when it traces, so an edit under a running benchmark breaks it.
"""

from __future__ import annotations

import datetime
import io
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from benchmarks.quality_table import quality_arguments, summary_table  # noqa: E402
from genkit.atomic import atomic_path, write_bytes, write_json  # noqa: E402
from genkit.data.dataset_registry import load_dataset  # noqa: E402
from genkit.evaluation.text_to_image import text_to_image_evaluation  # noqa: E402
from genkit.commands.train import train  # noqa: E402
from genkit.versions import library_versions  # noqa: E402

METHODS = ("text2image-gan", "text2image-vae", "cgan on subgroups")
UNLIMITED_EPOCHS = 100_000
SCORES = ("r_precision", "subgroup_accuracy", "fid", "kid", "precision", "recall")


def score_digits(score: str) -> int:
    return 1 if score == "fid" else 3


# Descriptions for the grid: test names, then word combinations that name no training emoji.
NEW_COMBINATIONS = ("blue apple", "red cat", "green face", "smiling heart", "yellow car", "purple fish")


def _stamp() -> str:
    return time.strftime("%H:%M:%S")


def subgroup_npz(data, path: Path) -> Path:
    """The emoji images as an .npz labelled with their subgroup (what the cGAN peer trains on)."""
    train_split, test_split = data.split("train"), data.split("test")
    with atomic_path(path) as temporary:
        with open(temporary, "wb") as handle:
            np.savez(handle, x_train=train_split["image"], y_train=train_split["label"], x_test=test_split["image"],
                     y_test=test_split["label"], label_names=np.array(data.label_names["label"]))
    return path


def text_model_run(out: Path, name: str, minutes: float, seed: int, data):
    from genkit.runtime.run_folder import RunFolder

    print(f"[{_stamp()}] {name} for {minutes} min ...", flush=True)
    result = train(name, out=out / f"{name}-seed{seed}", verbose=0, epochs=UNLIMITED_EPOCHS, time_limit=minutes, seed=seed)
    training = json.loads((result.run_dir / "genkit.json").read_text())["training"]
    model = RunFolder(result.run_dir).load_model()
    metrics = text_to_image_evaluation(model.images_of, data, "image", "text", seed=seed, latent_dim=model.latent_dim)
    return {"method": name, "seed": seed, "steps": training["global_steps"], **metrics}, model.images_of, model.latent_dim


def cgan_run(out: Path, minutes: float, seed: int, data):
    """genkit's cgan on the subgroup labels; each test description gets an image of its example's subgroup."""
    from genkit.runtime.run_folder import RunFolder

    print(f"[{_stamp()}] cgan on subgroups for {minutes} min ...", flush=True)
    npz = subgroup_npz(data, out / "emoji-subgroups.npz")
    result = train("cgan", out=out / f"cgan-seed{seed}", verbose=0, epochs=UNLIMITED_EPOCHS, time_limit=minutes,
                   seed=seed, dataset=f"npz:{npz}")
    training = json.loads((result.run_dir / "genkit.json").read_text())["training"]
    model = RunFolder(result.run_dir).load_model()
    subgroup_of = {}
    for split in ("test", "validation", "train"):
        arrays = data.split(split)
        for references, label in zip(arrays["text"], arrays["label"]):
            subgroup_of.setdefault(references[0], int(label))

    def images_of(texts, z):
        # The peer sees the subgroup only: a description it has no subgroup for (a new combination) gets class 0.
        labels = np.array([subgroup_of.get(str(text), 0) for text in texts], np.int32)
        return np.asarray(model.generate(z, labels), np.float32)

    metrics = text_to_image_evaluation(images_of, data, "image", "text", seed=seed, latent_dim=model.latent_dim)
    return {"method": "cgan on subgroups", "seed": seed, "steps": training["global_steps"], **metrics}, images_of, model.latent_dim


def floor_rows(rows: list[dict]) -> list[dict]:
    """The ceiling and the floor, from the first row's evaluation (they do not depend on the model)."""
    first = rows[0]
    return [
        {"method": label, "seed": first["seed"], **{key: first[f"{prefix}_{key}"] for key in SCORES}}
        for label, prefix in (("real test images (ceiling)", "ceiling_real_images"),
                              ("floor: retrieval of the nearest training description", "floor_retrieval"))
    ]


def ratios(rows: list[dict]) -> str:
    """R-precision and subgroup accuracy of each text model over the subgroup cGAN's (the issue's target)."""
    def mean(method, key):
        values = [row[key] for row in rows if row["method"] == method and isinstance(row[key], (int, float))]
        return float(np.mean(values)) if values else None

    lines = []
    for method in METHODS[:2]:
        for key in ("r_precision", "subgroup_accuracy"):
            value, peer = mean(method, key), mean("cgan on subgroups", key)
            if value is not None and peer:
                lines.append(f"- {method}: {key} {value / peer:.2f}x the subgroup cGAN's ({value:.3f} vs {peer:.3f})")
    return "\n".join(lines)


def prompt_grid(path: Path, makers: dict, prompts: list[str], seed: int = 0, per_prompt: int = 4) -> None:
    """A PNG: one row per description, ``per_prompt`` images (4x upscaled) from each method side by side."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.load_default(size=12)
    picture, gap, label_width, header = 64, 4, 170, 18
    method_width = per_prompt * (picture + 2) + gap
    sheet = Image.new("RGB", (label_width + len(makers) * method_width, header + len(prompts) * (picture + gap)), "white")
    draw = ImageDraw.Draw(sheet)
    z = np.random.default_rng(seed).standard_normal((per_prompt, 1024)).astype(np.float32)
    for column, (method, (images_of, latent_dim)) in enumerate(makers.items()):
        x0 = label_width + column * method_width
        draw.text((x0, 2), method, fill="black", font=font)
        for row, prompt in enumerate(prompts):
            images = images_of(np.array([prompt] * per_prompt, dtype=object), z[:, :latent_dim])
            for index, image in enumerate(images):
                tile = Image.fromarray(np.clip(np.round(image * 255), 0, 255).astype(np.uint8))
                sheet.paste(tile.resize((picture, picture), Image.Resampling.NEAREST),
                            (x0 + index * (picture + 2), header + row * (picture + gap)))
    for row, prompt in enumerate(prompts):
        draw.text((4, header + row * (picture + gap) + picture // 2 - 6), prompt[:26], fill="black", font=font)
    buffer = io.BytesIO()
    sheet.save(buffer, format="PNG")
    write_bytes(path, buffer.getvalue())


def main(argv=None) -> int:
    args = quality_arguments(__doc__.splitlines()[0], METHODS, "a PNG of descriptions and each method's images", argv)
    if args.methods is None:
        print(f"text_to_image_quality.py: error: --methods {args.requested_methods}: none of {'; '.join(METHODS)}", file=sys.stderr)
        return 2
    methods = args.methods
    out = args.out or Path("saved_models") / f"text-to-image-quality-{datetime.datetime.now():%Y%m%d-%H%M%S}"
    out.mkdir(parents=True, exist_ok=True)
    data = load_dataset("embedded", ("image", "text", "label", "group"), "the benchmark")
    rows, makers = [], {}
    for seed in range(args.first_seed, args.first_seed + args.repeat):
        for method in methods:
            if method == "cgan on subgroups":
                row, images_of, latent_dim = cgan_run(out, args.minutes, seed, data)
            else:
                row, images_of, latent_dim = text_model_run(out, method, args.minutes, seed, data)
            rows.append(row)
            if seed == args.first_seed:
                makers[method] = (images_of, latent_dim)
    rows.extend(floor_rows(rows))
    report = summary_table(rows, SCORES, score_digits) + "\n\n" + ratios(rows)
    print(report)
    if args.markdown:
        write_bytes(args.markdown, (report + "\n").encode())
    if args.grid:
        training_names = {refs[0] for refs in data.split("train")["text"]}
        test = data.split("test")
        # One test description from each of the first six groups, then the new combinations.
        firsts = {int(group): refs[0] for refs, group in reversed(list(zip(test["text"], test["group"])))}
        prompts = [firsts[group] for group in sorted(firsts)[:6]] + [p for p in NEW_COMBINATIONS if p not in training_names]
        prompt_grid(args.grid, makers, prompts, seed=args.first_seed)
    if args.json:
        write_json(args.json, {"minutes": args.minutes, "repeat": args.repeat, "rows": rows, "versions": library_versions()})
    return 0


if __name__ == "__main__":
    sys.exit(main())

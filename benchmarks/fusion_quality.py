"""Fusion against single modalities, same budget: every fusion method of fusion-classifier, each modality alone,
nearest-neighbour floors, and the dual encoder's retrieval against a CCA baseline.

    python benchmarks/fusion_quality.py [--minutes 10] [--tasks emoji-subgroup,emoji-group,av-digits] [--json out.json] [--markdown out.md]
    python benchmarks/fusion_quality.py --minutes 0.2 --tasks av-digits    # a smoke run
    python benchmarks/fusion_quality.py --split validation --set unimodal_loss_weight=0 --no-dual-encoder  # choose settings

Tasks (their data and split protocols are in docs/data.md, fixed before any result here):

- ``emoji-subgroup``: the embedded emoji (32x32 picture + Unicode name) -> one of 99 subgroups;
- ``emoji-group``: the same inputs -> one of 9 groups;
- ``av-digits``: a degraded 8x8 handwritten digit + a spoken digit by a speaker never heard -> the digit.

Every run trains ``fusion-classifier`` with its default config (only ``inputs``, ``target`` and ``fusion``
set) through ``genkit.commands.train.train(..., time_limit=MINUTES)``, then ``genkit evaluate`` scores it on the
test split: accuracy, macro-F1, top-5 (subgroups), the accuracy without each modality and the learned
modality weights. Single-modality rows are the same classifier given one input. Floors: 1-nearest
neighbour on pixels, on bags of words (cosine), and on the time-averaged log-mel spectrum. The dual
encoder (emoji, same budget) is scored by text->image and image->text recall@1/5/10 against a CCA of
bag-of-words and pixel-PCA features fitted on the training pairs.

The machine is shared: accuracies move from run to run (report the spread of repeated runs; ``--repeat``).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

from genkit.atomic import write_bytes, write_json  # noqa: E402
from genkit.config import parse_overrides  # noqa: E402
from genkit.data.dataset_registry import load_dataset  # noqa: E402
from genkit.commands.evaluate import evaluate  # noqa: E402
from genkit.evaluation.retrieval import recall_at_k  # noqa: E402
from genkit.layers.modality_fusion import FUSION_LAYERS  # noqa: E402
from genkit.tasks.paired_task import build_vocabulary  # noqa: E402
from genkit.commands.train import train  # noqa: E402
from genkit.versions import library_versions  # noqa: E402

TASKS = {
    # name: (dataset, target, the two inputs)
    "emoji-subgroup": ("embedded", "label", ("image", "text")),
    "emoji-group": ("embedded", "group", ("image", "text")),
    "av-digits": ("av_digits", "label", ("image", "audio")),
}
FUSIONS = (*FUSION_LAYERS, "late")
UNLIMITED_EPOCHS = 100_000
BATCH_SIZE = 64


def _stamp() -> str:
    return time.strftime("%H:%M:%S")


def classifier_run(out: Path, task: str, inputs, fusion: str, minutes: float, seed: int, split: str = "test",
                   overrides: dict | None = None) -> dict:
    dataset, target, _ = TASKS[task]
    label = fusion if len(inputs) > 1 else f"{inputs[0]} only"
    run_dir = out / f"{task}-{label.replace(' ', '-')}-seed{seed}"
    print(f"[{_stamp()}] {task}: {label} for {minutes} min ...", flush=True)
    result = train(
        "fusion-classifier", overrides={**(overrides or {}), "inputs": list(inputs), "target": target, "fusion": fusion},
        out=run_dir, verbose=0, dataset=dataset, epochs=UNLIMITED_EPOCHS, time_limit=minutes,
        batch_size=BATCH_SIZE, seed=seed,
    )
    metrics = evaluate(result.run_dir) if split == "test" else validation_metrics(result.run_dir)
    training = json.loads((result.run_dir / "genkit.json").read_text())["training"]
    return {"task": task, "method": label, "seed": seed, "split": split, "steps": training["global_steps"], **metrics}


def validation_metrics(run_dir: Path) -> dict:
    """``genkit evaluate``'s metrics on the validation split (for choosing settings without the test split)."""
    from genkit.runtime.run_folder import RunFolder

    model = RunFolder(run_dir).load_model()
    data = type(model).evaluation_data(json.loads((run_dir / "genkit.json").read_text()))
    data.evaluation_split = "validation"
    return model.evaluation_metrics(data)


def dual_encoder_run(out: Path, minutes: float, seed: int) -> dict:
    run_dir = out / f"dual-encoder-seed{seed}"
    print(f"[{_stamp()}] emoji: dual-encoder for {minutes} min ...", flush=True)
    result = train("dual-encoder", out=run_dir, verbose=0, epochs=UNLIMITED_EPOCHS, time_limit=minutes, seed=seed)
    training = json.loads((result.run_dir / "genkit.json").read_text())["training"]
    return {"method": "dual-encoder", "seed": seed, "steps": training["global_steps"], **evaluate(result.run_dir)}


# -- floors -------------------------------------------------------------------------------------


def _bag_of_words(train_texts, test_texts):
    vocabulary = {word: i for i, word in enumerate(build_vocabulary(train_texts, 10_000))}
    from genkit.data.text_tokenizer import WORD_PATTERN
    import re

    def vectors(texts):
        matrix = np.zeros((len(texts), len(vocabulary)), np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(WORD_PATTERN, text.lower()):
                if word in vocabulary:
                    matrix[row, vocabulary[word]] += 1
        return matrix

    return vectors(train_texts), vectors(test_texts)


def _unit_rows(matrix):
    return matrix / np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-9)


def _nearest_neighbour_accuracy(train_x, train_y, test_x, test_y, cosine=False) -> float:
    if cosine:
        similarity = _unit_rows(test_x) @ _unit_rows(train_x).T
    else:  # negative squared Euclidean distance
        similarity = 2 * test_x @ train_x.T - (train_x**2).sum(1)[None]
    return float(np.mean(train_y[np.argmax(similarity, axis=1)] == test_y))


def _log_mel_means(waveforms, sample_rate):
    from genkit.layers.log_mel import LogMelSpectrogram

    layer = LogMelSpectrogram(sample_rate=sample_rate, frame_length=200, frame_step=80, num_mel_bins=40)
    features = np.asarray(layer(waveforms.astype(np.float32)))
    return np.concatenate([features.mean(axis=1), features.std(axis=1)], axis=1)


def floors(task: str, split: str = "test") -> list[dict]:
    dataset, target, inputs = TASKS[task]
    data = load_dataset(dataset, (*inputs, target), "the benchmark")
    train_split, test = data.split("train"), data.split(split)
    train_y, test_y = train_split[target], test[target]
    rows = []
    pixels = [split["image"].reshape(len(split["image"]), -1).astype(np.float32) / 255 for split in (train_split, test)]
    rows.append({"task": task, "method": "1-NN pixels", "accuracy": _nearest_neighbour_accuracy(*pixels[:1], train_y, pixels[1], test_y)})
    if "text" in inputs:
        words = _bag_of_words([r[0] for r in train_split["text"]], [r[0] for r in test["text"]])
        rows.append({"task": task, "method": "1-NN bag of words", "accuracy": _nearest_neighbour_accuracy(words[0], train_y, words[1], test_y, cosine=True)})
    if "audio" in inputs:
        spectra = [_log_mel_means(split["audio"], data.sample_rate) for split in (train_split, test)]
        mean, std = spectra[0].mean(0), spectra[0].std(0) + 1e-6
        rows.append({
            "task": task, "method": "1-NN log-mel mean/std",
            "accuracy": _nearest_neighbour_accuracy((spectra[0] - mean) / std, train_y, (spectra[1] - mean) / std, test_y),
        })
    return rows


def cca_retrieval(components: int = 32, pca: int = 64) -> dict:
    """Text->image and image->text recall of a CCA between bag-of-words and pixel-PCA features (emoji test pairs)."""
    data = load_dataset("embedded", ("image", "text"), "the benchmark")
    train_split, test = data.split("train"), data.split("test")
    words = _bag_of_words([r[0] for r in train_split["text"]], [r[0] for r in test["text"]])
    pixels = [s["image"].reshape(len(s["image"]), -1).astype(np.float64) / 255 for s in (train_split, test)]

    def project(train_x, test_x, k):
        mean = train_x.mean(0)
        _, _, vt = np.linalg.svd(train_x - mean, full_matrices=False)
        return (train_x - mean) @ vt[:k].T, (test_x - mean) @ vt[:k].T

    x_train, x_test = project(*pixels, pca)
    y_train, y_test = project(words[0].astype(np.float64), words[1].astype(np.float64), pca)

    def whitener(z):
        covariance = np.cov(z, rowvar=False) + 1e-3 * np.eye(z.shape[1])
        values, vectors = np.linalg.eigh(covariance)
        return vectors @ np.diag(values**-0.5) @ vectors.T

    wx, wy = whitener(x_train), whitener(y_train)
    u, _, vt = np.linalg.svd(wx.T @ np.cov(x_train, y_train, rowvar=False)[: pca, pca:] @ wy)
    a, b = wx @ u[:, :components], wy @ vt.T[:, :components]
    image_vectors = _unit_rows((x_test - x_train.mean(0)) @ a)
    text_vectors = _unit_rows((y_test - y_train.mean(0)) @ b)
    similarity = image_vectors @ text_vectors.T
    row = {"method": f"CCA (bag of words, pixel PCA {pca}, {components} components)", "examples": len(similarity)}
    for k in (1, 5, 10):
        row[f"image_to_text_recall@{k}"] = recall_at_k(similarity, k)
        row[f"text_to_image_recall@{k}"] = recall_at_k(similarity.T, k)
        row[f"chance_recall@{k}"] = k / len(similarity)
    return row


# -- report -------------------------------------------------------------------------------------


def _cell(value, digits=3):
    return "-" if value is None else f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def classification_table(rows: list[dict]) -> str:
    lines = ["| task | method | runs | accuracy (mean, min-max) | macro-F1 | top-5 | without image | without other | weights (image / other) | steps |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        groups.setdefault((row["task"], row["method"]), []).append(row)
    for (task, method), runs in groups.items():
        accuracies = [r["accuracy"] for r in runs]
        spread = f"{np.mean(accuracies):.3f} ({min(accuracies):.3f}-{max(accuracies):.3f})" if len(runs) > 1 else f"{accuracies[0]:.3f}"
        first = runs[0]
        other = TASKS[task][2][1]
        weights = (
            f"{np.mean([r['modality_weight_image'] for r in runs]):.2f} / {np.mean([r[f'modality_weight_{other}'] for r in runs]):.2f}"
            if "modality_weight_image" in first else "-"
        )

        def mean_of(key):
            values = [r[key] for r in runs if key in r]
            return float(np.mean(values)) if values else None

        lines.append(
            f"| {task} | {method} | {len(runs)} | {spread} | {_cell(mean_of('macro_f1'))} | {_cell(mean_of('top5_accuracy'))} | "
            f"{_cell(mean_of('accuracy_without_image'))} | {_cell(mean_of(f'accuracy_without_{other}'))} | {weights} | "
            f"{_cell(mean_of('steps'), 0) if 'steps' in first else '-'} |"
        )
    return "\n".join(lines)


def retrieval_table(rows: list[dict]) -> str:
    lines = ["| method | text->image R@1 | R@5 | R@10 | image->text R@1 | R@5 | R@10 | chance R@1 |", "|---|---|---|---|---|---|---|---|"]
    for row in rows:
        lines.append(
            f"| {row['method']} | {row['text_to_image_recall@1']:.3f} | {row['text_to_image_recall@5']:.3f} | "
            f"{row['text_to_image_recall@10']:.3f} | {row['image_to_text_recall@1']:.3f} | {row['image_to_text_recall@5']:.3f} | "
            f"{row['image_to_text_recall@10']:.3f} | {row['chance_recall@1']:.4f} |"
        )
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="training budget per run (default 10)")
    parser.add_argument("--tasks", default=",".join(TASKS), help=f"comma-separated, from {', '.join(TASKS)}")
    parser.add_argument("--methods", default=None, help="comma-separated fusion methods and 'single' (default: all)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per method (seeds 0..N-1), for the spread")
    parser.add_argument("--no-dual-encoder", action="store_true", help="skip the dual encoder and its CCA baseline")
    parser.add_argument("--split", choices=("test", "validation"), default="test",
                        help="where classifiers are scored: test (default), or validation to choose settings")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="a fusion-classifier field for every classifier run (repeatable), e.g. unimodal_loss_weight=0")
    parser.add_argument("--out", type=Path, default=None, help="where the run folders go")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--markdown", type=Path, default=None)
    args = parser.parse_args(argv)
    tasks = args.tasks.split(",")
    unknown = [task for task in tasks if task not in TASKS]
    methods = args.methods.split(",") if args.methods else ["single", *FUSIONS]
    unknown += [method for method in methods if method not in ("single", *FUSIONS)]
    if unknown:
        print(f"fusion_quality.py: error: unknown task or method {unknown[0]!r}", file=sys.stderr)
        return 2
    overrides = parse_overrides(args.set)
    out = args.out or Path("saved_models") / f"fusion-quality-{datetime.datetime.now():%Y%m%d-%H%M%S}"
    classification, retrieval = [], []
    for task in tasks:
        classification += floors(task, args.split)
        for seed in range(args.repeat):
            for method in methods:
                if method == "single":
                    for name in TASKS[task][2]:
                        classification.append(classifier_run(out, task, [name], "concat", args.minutes, seed, args.split, overrides))
                else:
                    classification.append(classifier_run(out, task, TASKS[task][2], method, args.minutes, seed, args.split, overrides))
    if not args.no_dual_encoder:
        retrieval.append(cca_retrieval())
        for seed in range(args.repeat):
            retrieval.append(dual_encoder_run(out, args.minutes, seed))
    report = "\n\n".join(part for part in (classification_table(classification), retrieval and retrieval_table(retrieval)) if part)
    print(report)
    if args.markdown:
        write_bytes(args.markdown, (report + "\n").encode())
    if args.json:
        write_json(args.json, {
            "minutes": args.minutes, "repeat": args.repeat, "split": args.split, "set": args.set,
            "classification": classification, "retrieval": retrieval,
            "versions": library_versions(),
        })
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Validation bits per character of char-lstm and word-lstm against the classic Keras char-LSTM, at equal time.

    python benchmarks/text_quality.py [--minutes 10] [--json text_quality.json] [--markdown text_quality.md]

The default corpus (the embedded King James Version, 4.4 MB) is split by
characters: the first 90% trains, the last 10% is held out. Each side trains
for the same wall-clock budget (``--minutes``, tracing included) on the
training part:

- ``char-lstm`` and ``word-lstm``: ``genkit train`` with their default
  configs and ``--time-limit``; teacher forcing, a prediction at every
  position of every window;
- baseline: the classic Keras character-level LSTM example -- one-hot
  40-character windows taken every 3 characters, one LSTM(128), a softmax
  over the characters, RMSprop(0.01), batch 128, one prediction per window.

Bits per character on the held-out 10%: genkit's models through ``genkit
evaluate`` (the whole text as one stream, state carried over; word-lstm's
cross-entropy over its tokens divided by the characters of the text, so it
compares with the char models; its out-of-vocabulary rate is reported); the
baseline predicts each character from the 40 before it, on 20,000 evenly
spaced positions of the held-out text. Prints one markdown table and writes
JSON. The issue's target: both genkit models at least 10% below the baseline.
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

BASELINE_WINDOW, BASELINE_STEP, BASELINE_UNITS, BASELINE_BATCH = 40, 3, 128, 128
BASELINE_EVALUATION_POSITIONS = 20000


def split_corpus(directory: Path) -> tuple[Path, Path, str, str]:
    from genkit.data.text_corpus import EMBEDDED_TEXT

    with gzip.open(EMBEDDED_TEXT, "rt", encoding="utf-8") as file:
        text = file.read()
    cut = int(len(text) * 0.9)
    train_text, validation_text = text[:cut], text[cut:]
    train_path, validation_path = directory / "train.txt", directory / "validation.txt"
    train_path.write_text(train_text, encoding="utf-8")
    validation_path.write_text(validation_text, encoding="utf-8")
    return train_path, validation_path, train_text, validation_text


def genkit_side(name: str, train_path: Path, validation_path: Path, minutes: float, out: Path) -> dict:
    from genkit.data.text_corpus import load_text_corpus
    from genkit.commands.train import train

    started = time.monotonic()
    result = train(
        name, overrides={"validation_fraction": 0.0}, out=out, verbose=0,
        dataset=f"text:{train_path}", epochs=1000, time_limit=minutes,
    )
    wall = time.monotonic() - started
    metadata = json.loads((out / "genkit.json").read_text())
    metrics = result.model.evaluation_metrics(load_text_corpus(f"text:{validation_path}", 0.0))
    return {
        "side": name,
        "bits_per_char": metrics["bits_per_char"],
        "cross_entropy": metrics["cross_entropy"],
        "oov_rate": metrics["oov_rate"],
        "training_seconds": metadata["training"]["seconds_this_session"],
        "wall_seconds_with_setup": round(wall, 1),
        "steps": metadata["training"]["global_steps"],
        "tokens_seen": metadata["training"]["global_steps"] * metadata["train"]["batch_size"]
        * metadata["config"]["sequence_length"],
        "config": {k: v for k, v in metadata["config"].items() if k != "vocabulary"},
    }


def baseline_side(train_text: str, validation_text: str, minutes: float) -> dict:
    """The classic Keras char-LSTM example, with a time budget instead of epochs."""
    import keras
    import numpy as np
    import tensorflow as tf

    keras.utils.set_random_seed(0)
    characters = sorted(set(train_text) | set(validation_text))
    index = {c: i for i, c in enumerate(characters)}
    ids = np.array([index[c] for c in train_text], np.int32)
    starts = np.arange(0, len(ids) - BASELINE_WINDOW, BASELINE_STEP)
    vocabulary = len(characters)

    def windows(order):
        for start in range(0, len(order) - BASELINE_BATCH + 1, BASELINE_BATCH):
            chosen = starts[order[start : start + BASELINE_BATCH]]
            x = ids[chosen[:, None] + np.arange(BASELINE_WINDOW)]
            yield np.eye(vocabulary, dtype=np.float32)[x], ids[chosen + BASELINE_WINDOW]

    model = keras.Sequential([
        keras.Input((BASELINE_WINDOW, vocabulary)),
        keras.layers.LSTM(BASELINE_UNITS),
        keras.layers.Dense(vocabulary, activation="softmax"),
    ])
    model.compile(loss="sparse_categorical_crossentropy", optimizer=keras.optimizers.RMSprop(0.01))

    class Budget(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.started = time.monotonic()
            self.steps = 0

        def on_train_batch_end(self, batch, logs=None):
            self.steps += 1
            if time.monotonic() - self.started >= minutes * 60:
                self.model.stop_training = True

    budget = Budget()
    rng = np.random.default_rng(0)
    while not model.stop_training:
        dataset = tf.data.Dataset.from_generator(
            lambda: windows(rng.permutation(len(starts))),
            output_signature=(
                tf.TensorSpec((BASELINE_BATCH, BASELINE_WINDOW, vocabulary), tf.float32),
                tf.TensorSpec((BASELINE_BATCH,), tf.int32),
            ),
        ).prefetch(2)
        model.fit(dataset, epochs=1, verbose=0, callbacks=[budget])
    seconds = time.monotonic() - budget.started

    validation = np.array([index[c] for c in validation_text], np.int32)
    positions = np.linspace(BASELINE_WINDOW, len(validation) - 1, BASELINE_EVALUATION_POSITIONS).astype(int)
    total = 0.0
    for start in range(0, len(positions), 1000):
        chosen = positions[start : start + 1000]
        x = np.eye(vocabulary, dtype=np.float32)[validation[chosen[:, None] - BASELINE_WINDOW + np.arange(BASELINE_WINDOW)]]
        probabilities = model.predict(x, verbose=0, batch_size=500)
        total += float(-np.log(np.maximum(probabilities[np.arange(len(chosen)), validation[chosen]], 1e-12)).sum())
    cross_entropy = total / len(positions)
    return {
        "side": "keras char-LSTM example (baseline)",
        "bits_per_char": cross_entropy / math.log(2),
        "cross_entropy": cross_entropy,
        "oov_rate": 0.0,
        "training_seconds": round(seconds, 1),
        "steps": budget.steps,
        "tokens_seen": budget.steps * BASELINE_BATCH,
    }


def markdown(rows: list[dict], minutes: float, baseline_bpc: float) -> str:
    lines = [
        f"Validation bits per character, last 10% of the KJV, {minutes:g} min training each on the first 90%:",
        "",
        "| model | bits/char | vs baseline | cross-entropy (nats/token) | OOV rate | steps | tokens predicted in training | training s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        change = row["bits_per_char"] / baseline_bpc - 1
        lines.append(
            f"| {row['side']} | {row['bits_per_char']:.3f} | {change:+.1%} | {row['cross_entropy']:.3f} | "
            f"{row['oov_rate']:.2%} | {row['steps']} | {row['tokens_seen']:,} | {row['training_seconds']} |"
        )
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="training budget of each side (default 10)")
    parser.add_argument("--json", metavar="PATH", default="text_quality.json")
    parser.add_argument("--markdown", metavar="PATH", default="text_quality.md")
    parser.add_argument("--models", default="char-lstm,word-lstm", help="genkit models to train (default both)")
    parser.add_argument(
        "--baseline-bpc", type=float, metavar="BPC",
        help="skip the Keras baseline and compare with this earlier figure of it (saves --minutes)",
    )
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with tempfile.TemporaryDirectory(prefix="genkit-text-quality-") as temporary:
        directory = Path(temporary)
        train_path, validation_path, train_text, validation_text = split_corpus(directory)
        rows = [genkit_side(name, train_path, validation_path, args.minutes, directory / name)
                for name in args.models.split(",")]
        baseline = None if args.baseline_bpc else baseline_side(train_text, validation_text, args.minutes)
    if baseline is not None:
        rows.append(baseline)
    baseline_bpc = baseline["bits_per_char"] if baseline is not None else args.baseline_bpc
    table = markdown(rows, args.minutes, baseline_bpc)
    if baseline is None:
        table += f"\n\n(vs baseline: against the earlier baseline figure {baseline_bpc:.3f}, not re-run here)"
    print(table)
    Path(args.markdown).write_text(table + "\n", encoding="utf-8")
    Path(args.json).write_text(json.dumps({"minutes": args.minutes, "results": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Trains the Fashion-MNIST feature classifier that genkit ships (``--features fashion_mnist``).

    python -m genkit.evaluation.train_classifier [--out DIR] [--epochs 10] [--seed 0] [--data-dir DIR]

Reads the full Fashion-MNIST (60,000 train / 10,000 test images, Debian's
``dataset-fashion-mnist`` or ``--data-dir``), trains
:func:`build_fashion_mnist_classifier` on the train split (seeded, with
deterministic ops: the same seed on the same machine gives the same weights),
measures its accuracy on the test split and writes, each file atomically,
``DIR/fashion_mnist_classifier.weights.h5`` and
``DIR/fashion_mnist_classifier.json`` (hyper-parameters, training settings,
test accuracy, library versions). The default ``DIR`` is the package's own
``genkit/evaluation/weights/``: the files that ship.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from genkit.errors import UserError

from genkit.evaluation.fashion_mnist_classifier import CARD_FILE, WEIGHTS_DIR, WEIGHTS_FILE
ARCHITECTURE = {
    "image_shape": [28, 28, 1], "num_classes": 10, "filters": [32, 64, 128], "convolutions_per_block": 1,
    "feature_dim": 128, "dropout_rate": 0.3,
}


def _save_weights_atomically(model, destination: Path) -> None:
    # Keras insists on the .weights.h5 suffix, so the temporary file lives in a temporary folder beside it.
    destination.parent.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix=".classifier-", dir=destination.parent))
    try:
        temporary = folder / destination.name
        model.save_weights(temporary)
        os.replace(temporary, destination)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def train_classifier(
    out: str | Path = WEIGHTS_DIR, epochs: int = 10, batch_size: int = 128, learning_rate: float = 2e-3,
    seed: int = 0, data_dir: str | None = None, verbose: int = 2,
) -> dict:
    """Trains, evaluates and writes the classifier; returns its card (the JSON written)."""
    import keras
    import numpy as np
    import tensorflow as tf

    from genkit.data import load_image_dataset
    from genkit.evaluation.fashion_mnist_classifier import build_fashion_mnist_classifier
    from genkit.atomic import write_json
    from genkit.versions import library_versions

    data = load_image_dataset("fashion_mnist", data_dir)
    train_images = data.train_images.astype("float32") / 255.0
    test_images = data.test_images.astype("float32") / 255.0

    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    model = build_fashion_mnist_classifier(**ARCHITECTURE)
    steps = epochs * int(np.ceil(len(train_images) / batch_size))
    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps=steps)
    model.compile(
        optimizer=keras.optimizers.Adam(schedule),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    started = time.time()
    model.fit(
        train_images, data.train_labels, batch_size=batch_size, epochs=epochs, shuffle=True,
        validation_data=(test_images, data.test_labels), verbose=verbose,
    )
    seconds = time.time() - started
    logits = model.predict(test_images, batch_size=1000, verbose=0)
    predictions = np.argmax(logits, axis=1)
    per_class = [
        float(np.mean(predictions[data.test_labels == label] == label)) for label in range(len(data.label_names))
    ]
    card = {
        "name": "fashion_mnist",
        "description": "Fashion-MNIST classifier; its 'features' layer (penultimate, ReLU) gives the features of genkit's image metrics",
        "input": "float32 [N, 28, 28, 1] in [0, 1]",
        "features_layer": "features",
        "feature_dim": ARCHITECTURE["feature_dim"],
        "architecture": ARCHITECTURE,
        "num_parameters": int(model.count_params()),
        "weights_file": WEIGHTS_FILE,
        "label_names": data.label_names,
        "test_accuracy": round(float(np.mean(predictions == data.test_labels)), 4),
        "test_accuracy_per_class": [round(value, 4) for value in per_class],
        "training": {
            "data": f"{data.name} ({len(train_images)} train images; accuracy on the {len(test_images)} test images)",
            "epochs": epochs, "batch_size": batch_size, "seed": seed,
            "optimizer": f"Adam, cosine-decayed learning rate from {learning_rate}",
            "seconds": round(seconds, 1),
            "command": "python -m genkit.evaluation.train_classifier "
            f"--epochs {epochs} --batch-size {batch_size} --learning-rate {learning_rate} --seed {seed}",
        },
        "versions": library_versions(),
    }
    out = Path(out)
    # An uncompiled copy: the file holds the network's weights only, not the optimizer's state.
    shipped = build_fashion_mnist_classifier(**ARCHITECTURE)
    shipped.set_weights(model.get_weights())
    _save_weights_atomically(shipped, out / WEIGHTS_FILE)
    write_json(out / CARD_FILE, card)
    return card


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m genkit.evaluation.train_classifier", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(WEIGHTS_DIR), metavar="DIR", help="where to write the weights and card")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--learning-rate", type=float, default=2e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-dir", metavar="DIR", help="folder with the four Fashion-MNIST IDX .gz files")
    args = parser.parse_args(argv)
    try:
        card = train_classifier(
            args.out, args.epochs, args.batch_size, args.learning_rate, args.seed, args.data_dir
        )
    except UserError as error:
        print(f"train_classifier: error: {error}", file=sys.stderr)
        return 2
    print(f"test accuracy {card['test_accuracy']:.4f}; wrote {Path(args.out) / WEIGHTS_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

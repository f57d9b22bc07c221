"""Trains a feature classifier that genkit ships (``--features fashion_mnist``, ``--features emoji``).

    python -m genkit.evaluation.train_classifier --classifier fashion_mnist|emoji [--out DIR] [--epochs N] [--seed 0]

``fashion_mnist`` reads the full Fashion-MNIST (60,000 train / 10,000 test
images, Debian's ``dataset-fashion-mnist`` or ``--data-dir``); ``emoji``
reads genkit's ``embedded`` emoji set (32x32 RGB, the 99 Unicode subgroups as
classes; trained on the training split with small random shifts and zooms,
tested on the test split). The network is :func:`build_feature_classifier`,
trained seeded with deterministic ops (the same seed on the same machine
gives the same weights); its accuracy on the test split and the training
settings go into the card. Written atomically: ``DIR/NAME_classifier.weights.h5``
and ``DIR/NAME_classifier.json``; the default ``DIR`` is the package's own
``genkit/evaluation/weights/``, the files that ship.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from genkit.errors import UserError
from genkit.evaluation.feature_classifier import WEIGHTS_DIR, card_file, weights_file


@dataclasses.dataclass(frozen=True)
class Recipe:
    """How one shipped classifier is trained: its data, network and default schedule."""

    description: str
    input: str
    architecture: dict
    epochs: int
    batch_size: int
    learning_rate: float
    augment: bool = False


RECIPES = {
    "fashion_mnist": Recipe(
        "Fashion-MNIST classifier; its 'features' layer (penultimate, ReLU) gives the features of genkit's image metrics",
        "float32 [N, 28, 28, 1] in [0, 1]",
        {"image_shape": [28, 28, 1], "num_classes": 10, "filters": [32, 64, 128], "convolutions_per_block": 1,
         "feature_dim": 128, "dropout_rate": 0.3},
        epochs=10, batch_size=128, learning_rate=2e-3,
    ),
    "emoji": Recipe(
        "emoji subgroup classifier (99 Unicode subgroups); its 'features' layer (penultimate, ReLU) gives the "
        "features of genkit's text-to-image metrics",
        "float32 [N, 32, 32, 3] in [0, 1] (other sizes are resized to 32x32)",
        {"image_shape": [32, 32, 3], "num_classes": 99, "filters": [32, 64, 128], "convolutions_per_block": 2,
         "feature_dim": 128, "dropout_rate": 0.3},
        epochs=60, batch_size=64, learning_rate=2e-3, augment=True,
    ),
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


def _load(name: str, data_dir: str | None):
    """(train images, train labels, test images, test labels, label names, data description, extra card fields)."""
    import numpy as np

    if name == "fashion_mnist":
        from genkit.data import load_image_dataset

        data = load_image_dataset("fashion_mnist", data_dir)
        return (data.train_images, data.train_labels, data.test_images, data.test_labels, data.label_names,
                f"{data.name} ({len(data.train_images)} train images; accuracy on the {len(data.test_images)} test images)", {})
    from genkit.data.dataset_registry import load_dataset

    data = load_dataset("embedded", ("image", "label", "group"), "the emoji classifier")
    train, test = data.split("train"), data.split("test")
    # Each subgroup lies in one group: the group accuracy of subgroup predictions is read off this map.
    group_of = np.zeros(data.num_classes("label"), np.int32)
    for split in (train, test):
        group_of[split["label"]] = split["group"]
    extra = {"group_of_label": group_of.tolist(), "group_names": data.label_names["group"], "data_licence": data.licence}
    return (train["image"], train["label"], test["image"], test["label"], data.label_names["label"],
            f"{data.name} emoji ({len(train['image'])} training-split images; accuracy on the "
            f"{len(test['image'])} test-split images)", extra)


def train_classifier(
    name: str = "fashion_mnist", out: str | Path = WEIGHTS_DIR, epochs: int | None = None, batch_size: int | None = None,
    learning_rate: float | None = None, seed: int = 0, data_dir: str | None = None, verbose: int = 2,
) -> dict:
    """Trains, evaluates and writes the classifier ``name``; returns its card (the JSON written)."""
    import keras
    import numpy as np
    import tensorflow as tf

    from genkit.atomic import write_json
    from genkit.evaluation.feature_classifier import build_feature_classifier
    from genkit.versions import library_versions

    if name not in RECIPES:
        raise UserError(f"--classifier {name}: unknown; allowed: {', '.join(RECIPES)}")
    recipe = RECIPES[name]
    epochs = epochs or recipe.epochs
    batch_size = batch_size or recipe.batch_size
    learning_rate = learning_rate or recipe.learning_rate
    train_x, train_y, test_x, test_y, label_names, data_description, extra = _load(name, data_dir)
    train_images = train_x.astype("float32") / 255.0
    test_images = test_x.astype("float32") / 255.0

    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    architecture = recipe.architecture
    model = build_feature_classifier(**architecture, name=f"{name}_classifier")
    steps = epochs * int(np.ceil(len(train_images) / batch_size))
    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps=steps)
    model.compile(
        optimizer=keras.optimizers.Adam(schedule),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    training = (train_images, train_y)
    if recipe.augment:
        augment = keras.Sequential([
            keras.layers.RandomTranslation(0.08, 0.08, fill_mode="constant", fill_value=1.0, seed=seed),
            keras.layers.RandomZoom(0.1, fill_mode="constant", fill_value=1.0, seed=seed + 1),
        ])
        training = tf.data.Dataset.from_tensor_slices((train_images, train_y)).shuffle(len(train_images), seed=seed)
        training = training.batch(batch_size).map(lambda x, y: (augment(x, training=True), y))
    started = time.time()
    model.fit(
        *(training if isinstance(training, tuple) else (training,)), batch_size=None if recipe.augment else batch_size,
        epochs=epochs, shuffle=not recipe.augment, validation_data=(test_images, test_y), verbose=verbose,
    )
    seconds = time.time() - started
    predictions = np.argmax(model.predict(test_images, batch_size=1000, verbose=0), axis=1)
    present = [label for label in range(len(label_names)) if np.any(test_y == label)]
    per_class = [float(np.mean(predictions[test_y == label] == label)) for label in present]
    card = {
        "name": name,
        "description": recipe.description,
        "input": recipe.input,
        "features_layer": "features",
        "feature_dim": architecture["feature_dim"],
        "architecture": architecture,
        "num_parameters": int(model.count_params()),
        "weights_file": weights_file(name),
        "label_names": list(label_names),
        "test_accuracy": round(float(np.mean(predictions == test_y)), 4),
        "test_accuracy_per_class": [round(value, 4) for value in per_class],
    }
    if "group_of_label" in extra:
        group_of = np.asarray(extra["group_of_label"])
        card["test_group_accuracy"] = round(float(np.mean(group_of[predictions] == group_of[test_y])), 4)
        card.update(extra)
    card["training"] = {
        "data": data_description,
        "epochs": epochs, "batch_size": batch_size, "seed": seed,
        "optimizer": f"Adam, cosine-decayed learning rate from {learning_rate}",
        "augmentation": "random shifts (8%) and zooms (10%) on white" if recipe.augment else "none",
        "seconds": round(seconds, 1),
        "command": f"python -m genkit.evaluation.train_classifier --classifier {name} "
        f"--epochs {epochs} --batch-size {batch_size} --learning-rate {learning_rate} --seed {seed}",
    }
    card["versions"] = library_versions()
    out = Path(out)
    # An uncompiled copy: the file holds the network's weights only, not the optimizer's state.
    shipped = build_feature_classifier(**architecture, name=f"{name}_classifier")
    shipped.set_weights(model.get_weights())
    _save_weights_atomically(shipped, out / weights_file(name))
    write_json(out / card_file(name), card)
    return card


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m genkit.evaluation.train_classifier", description=__doc__.split("\n\n")[0])
    parser.add_argument("--classifier", default="fashion_mnist", choices=sorted(RECIPES))
    parser.add_argument("--out", default=str(WEIGHTS_DIR), metavar="DIR", help="where to write the weights and card")
    parser.add_argument("--epochs", type=int, help="default: the classifier's recipe")
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--learning-rate", type=float)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-dir", metavar="DIR", help="fashion_mnist: folder with the four IDX .gz files")
    args = parser.parse_args(argv)
    try:
        card = train_classifier(
            args.classifier, args.out, args.epochs, args.batch_size, args.learning_rate, args.seed, args.data_dir
        )
    except UserError as error:
        print(f"train_classifier: error: {error}", file=sys.stderr)
        return 2
    print(f"test accuracy {card['test_accuracy']:.4f}; wrote {Path(args.out) / weights_file(args.classifier)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

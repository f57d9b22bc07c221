"""The wait at the end of each epoch: genkit's Trainer with tf.data autotuning off (shipped) and on.

    python benchmarks/epoch_end.py [--model dcgan] [--dataset embedded] [--epochs 5] [--rounds 2] [--json out.json]

With autotuning on, deleting an epoch's dataset iterator often waits for
tf.data's tuning thread to wake from its sleep (gdb shows it in
``Model::OptimizeLoop``; the waits seen grew with the epoch's length). genkit's
trainer turns autotuning off for its in-memory training data. This script
trains MODEL (its defaults, ``--dataset``'s data) with genkit's ``Trainer.fit``,
alternating ``--epochs``-epoch runs with autotuning off and on, ``--rounds``
times each, after a one-epoch warm-up (tracing). For each epoch it records the
wall time and the end wait: the seconds from the end of its last step to the
epoch's end (the first callback of ``on_epoch_end``). Printed per side: the
median epoch time, the mean and largest end wait, items/s (images, or windows
for text); then off / on ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

import genkit.runtime.trainer as trainer_module  # noqa: E402
from genkit.registry import get_model_entry  # noqa: E402
from genkit.runtime.trainer import Trainer  # noqa: E402
from genkit.runtime.training_checkpoint import TrainingCheckpoint  # noqa: E402
from genkit.commands.train import resolve_config  # noqa: E402


class EpochTimes(keras.callbacks.Callback):
    """Per epoch: (wall seconds, seconds from the end of the last step to the epoch's end)."""

    def __init__(self):
        super().__init__()
        self.epochs = []

    def on_epoch_begin(self, epoch, logs=None):
        self.began = self.last_step_end = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self.last_step_end = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        now = time.perf_counter()
        self.epochs.append((now - self.began, now - self.last_step_end))


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="dcgan")
    parser.add_argument("--dataset", default="embedded")
    parser.add_argument("--epochs", type=int, default=5, help="epochs per run")
    parser.add_argument("--rounds", type=int, default=2, help="runs per side, alternating")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = parser.parse_args(argv)

    entry = get_model_entry(args.model)
    model_config, train_config = resolve_config(entry, {}, {}, {"dataset": args.dataset}, "--set")
    data, model_config = entry.model_class.prepare_data(model_config, train_config)
    keras.utils.set_random_seed(train_config.seed)
    model = entry.model_class.from_hyperparameters(model_config)
    model.compile_for_training(model_config, seed=train_config.seed)
    batch_size = train_config.batch_size

    def make_dataset(epoch):
        return model.training_dataset(data, batch_size, train_config.seed * 1000 + epoch)

    steps = int(make_dataset(0).cardinality())
    trainer = Trainer(model, tf.distribute.get_strategy(), TrainingCheckpoint(model, tempfile.mkdtemp(), 1))
    assert data.in_memory, "genkit trains in-memory data with tf.data autotuning off"
    options = {autotune: trainer_module.training_data_options(autotune) for autotune in (False, True)}

    def run(autotune: bool, epochs: int) -> list:
        trainer.data_options = options[autotune]
        times = EpochTimes()
        trainer.fit(make_dataset, epochs, steps, [times], verbose=0)
        return times.epochs

    print(f"{args.model} on {args.dataset}: batch {batch_size}, {steps} steps per epoch, "
          f"{args.rounds} rounds x {args.epochs} epochs per side", flush=True)
    run(False, 1)  # warm-up: tracing
    sides = {"autotune off (genkit)": [], "autotune on": []}
    for round_index in range(args.rounds):
        for name, autotune in (("autotune off (genkit)", False), ("autotune on", True)):
            epochs = run(autotune, args.epochs)
            sides[name] += epochs
            print(f"round {round_index + 1}, {name}: end waits " + ", ".join(f"{wait:.1f}" for _, wait in epochs) + " s",
                  flush=True)

    results = {"model": args.model, "dataset": args.dataset, "batch_size": batch_size, "steps_per_epoch": steps,
               "tensorflow": tf.__version__, "sides": {}}
    print("\n| side | median epoch s | mean end wait s | max end wait s | items/s |\n|---|---:|---:|---:|---:|")
    for name, epochs in sides.items():
        walls, waits = [wall for wall, _ in epochs], [wait for _, wait in epochs]
        side = {
            "median_epoch_seconds": statistics.median(walls), "mean_end_wait_seconds": statistics.mean(waits),
            "max_end_wait_seconds": max(waits), "items_per_second": steps * batch_size * len(walls) / sum(walls),
        }
        results["sides"][name] = side
        print(f"| {name} | {side['median_epoch_seconds']:.1f} | {side['mean_end_wait_seconds']:.2f} | "
              f"{side['max_end_wait_seconds']:.1f} | {side['items_per_second']:.0f} |")
    off, on = results["sides"].values()
    results["ratio_off_to_on"] = {
        "median_epoch_seconds": off["median_epoch_seconds"] / on["median_epoch_seconds"],
        "items_per_second": off["items_per_second"] / on["items_per_second"],
    }
    print(f"\noff / on: epoch time {results['ratio_off_to_on']['median_epoch_seconds']:.2f}, "
          f"throughput {results['ratio_off_to_on']['items_per_second']:.2f}")
    if args.json:
        with open(args.json, "w") as file:
            json.dump(results, file, indent=2)
    return results


if __name__ == "__main__":
    main()

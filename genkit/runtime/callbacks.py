"""The Keras callback the runtime adds to every run: the metrics history."""

from __future__ import annotations

import json
import time
from pathlib import Path

import keras

from genkit.atomic import write_json


LEARNING_RATE_PREFIX = "learning_rate"
THROUGHPUT_SUFFIX = "_per_second"


class MetricsHistory(keras.callbacks.Callback):
    """Keeps ``history.json``: one record per finished epoch, rewritten atomically.

    A record holds the epoch's metrics, its ``seconds``, its throughput
    (``<unit>_per_second``: images, characters, ... of the global batch) and the
    learning rate at its end (``learning_rate``, or ``learning_rate/<optimizer>``
    for a model with several). On resume it continues the records already in the file.
    """

    def __init__(self, path: str | Path, batch_size: int | None = None):
        super().__init__()
        self.path = Path(path)
        self.batch_size = batch_size
        self.records = json.loads(self.path.read_text()) if self.path.exists() else []
        self._epoch_started = time.monotonic()
        self._steps = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.records = [record for record in self.records if record["epoch"] <= epoch]
        self._epoch_started = time.monotonic()
        self._steps = 0

    def on_train_batch_end(self, batch, logs=None):
        self._steps += 1

    def on_epoch_end(self, epoch, logs=None):
        from genkit.runtime.tensorboard_logs import learning_rate, model_optimizers

        seconds = time.monotonic() - self._epoch_started
        record = {"epoch": epoch + 1, "seconds": round(seconds, 3)}
        record.update({name: float(value) for name, value in (logs or {}).items()})
        if self.batch_size and self._steps:
            unit = getattr(self.model, "example_unit", "examples")
            record[f"{unit}{THROUGHPUT_SUFFIX}"] = round(self._steps * self.batch_size / max(seconds, 1e-9), 1)
        optimizers = model_optimizers(self.model)
        for name, optimizer in optimizers.items():
            key = LEARNING_RATE_PREFIX if len(optimizers) == 1 else f"{LEARNING_RATE_PREFIX}/{name}"
            record[key] = learning_rate(optimizer)
        self.records.append(record)
        write_json(self.path, self.records)


def training_metrics(record: dict) -> dict:
    """A history record's metrics alone: without its epoch, time, throughput and learning rates."""
    return {
        name: value for name, value in record.items()
        if name not in ("epoch", "seconds") and not name.startswith(LEARNING_RATE_PREFIX)
        and not name.endswith(THROUGHPUT_SUFFIX)
    }

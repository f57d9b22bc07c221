"""The Keras callback the runtime adds to every run: the metrics history."""

from __future__ import annotations

import json
import time
from pathlib import Path

import keras

from genkit.atomic import write_json


class MetricsHistory(keras.callbacks.Callback):
    """Keeps ``history.json``: one record of metrics per finished epoch, rewritten atomically.

    On resume it continues the records already in the file.
    """

    def __init__(self, path: str | Path):
        super().__init__()
        self.path = Path(path)
        self.records = json.loads(self.path.read_text()) if self.path.exists() else []
        self._epoch_started = time.monotonic()

    def on_epoch_begin(self, epoch, logs=None):
        self.records = [record for record in self.records if record["epoch"] <= epoch]
        self._epoch_started = time.monotonic()

    def on_epoch_end(self, epoch, logs=None):
        record = {"epoch": epoch + 1, "seconds": round(time.monotonic() - self._epoch_started, 3)}
        record.update({name: float(value) for name, value in (logs or {}).items()})
        self.records.append(record)
        write_json(self.path, self.records)

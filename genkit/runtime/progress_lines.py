"""Plain progress lines mid-epoch for a log (standard output redirected to a file or pipe).

Where standard output is not a terminal the trainer shows Keras' one line per epoch
(``verbose=2``) instead of its carriage-return bar; with ``train.log_every_seconds`` set,
this callback adds, at most every that many seconds within an epoch, one line such as::

    epoch 3/50 step 120/300 - 12.3 s - d_loss: 0.6931 - g_loss: 0.7000 - 512 images/s

(seconds since the epoch began, the metrics so far, and the examples per second of the epoch so
far in the model's ``example_unit``), so a long epoch in a CI, ``nohup`` or cluster job log shows
that it is moving. No line at an epoch's last step: Keras' end-of-epoch line follows.
"""

from __future__ import annotations

import sys
import time
from typing import Callable

import keras


def format_metric(value: float) -> str:
    """A metric as Keras' progress bar writes it: 4 decimals, or 4 significant digits when tiny."""
    return f"{value:.4f}" if abs(value) > 1e-3 else f"{value:.4e}"


def format_rate(rate: float) -> str:
    return f"{rate:.0f}" if rate >= 100 else f"{rate:.3g}"


class ProgressLines(keras.callbacks.Callback):
    """Prints one plain line (no ``\\r``) at most every ``every_seconds`` within an epoch.

    Args:
        every_seconds: the least time between two lines (and from the epoch's start to its first).
        batch_size: the global batch size, for the examples per second (None: no rate in the line).
        clock: seconds on a monotonic clock (injectable for tests).
        stream: where to print; None: ``sys.stdout`` at the time of printing.
    """

    def __init__(self, every_seconds: float, batch_size: int | None = None, clock: Callable[[], float] = time.monotonic,
                 stream=None):
        super().__init__()
        if not every_seconds > 0:
            raise ValueError(f"every_seconds must be > 0. Received: every_seconds={every_seconds!r}")
        self.every_seconds = every_seconds
        self.batch_size = batch_size
        self.clock = clock
        self.stream = stream
        self._epoch = 0
        self._epoch_started = 0.0
        self._last_line = 0.0
        self._steps_this_epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        self._epoch_started = self._last_line = self.clock()
        self._steps_this_epoch = 0

    def on_train_batch_end(self, batch, logs=None):
        self._steps_this_epoch += 1
        now = self.clock()
        steps = self.params.get("steps")
        if now - self._last_line < self.every_seconds or (steps and batch + 1 >= steps):
            return
        self._last_line = now
        print(self.line(batch + 1, now - self._epoch_started, logs or {}), file=self.stream or sys.stdout,
              flush=True)

    def line(self, step: int, seconds: float, logs: dict) -> str:
        """``epoch E/N step S/T - 12.3 s - metric: value - ... - R unit/s`` (``step S`` for a stream)."""
        steps = self.params.get("steps")
        parts = [
            f"epoch {self._epoch + 1}/{self.params.get('epochs')} step {step}" + (f"/{steps}" if steps else ""),
            f"{seconds:.1f} s",
            *(f"{name}: {format_metric(float(value))}" for name, value in logs.items()),
        ]
        if self.batch_size and seconds > 0:
            unit = getattr(self.model, "example_unit", "examples")
            parts.append(f"{format_rate(self._steps_this_epoch * self.batch_size / seconds)} {unit}/s")
        return " - ".join(parts)

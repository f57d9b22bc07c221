"""The TensorBoard logs of a run: scalars, sample grids, generated text, weight histograms, hparams.

One callback writes everything into ``RUN_DIR/logs/train`` with ``tf.summary``
(``tensorboard --logdir saved_models`` shows every run side by side):

- ``step/<metric>`` every ``log_every_steps`` steps, and ``learning_rate/<optimizer>``
  with them, at the global step (steps since the run began), so a resumed run
  continues its curves;
- ``epoch/<metric>``, ``epoch/seconds`` and ``epoch/<unit>_per_second`` after each
  epoch, at the epoch number (1, 2, ...);
- ``samples``: the epoch's sample file that the model's own callback wrote
  (``samples/epoch_NNN.png`` as an image, ``.txt`` as text), at the epoch number;
- ``weights/<variable path>`` histograms after each epoch (unless turned off);
- the run's hyper-parameters (HParams plugin) when a session starts, and the
  final metrics (``final/<metric>``) and the session's end status when it ends,
  so TensorBoard's HParams table compares runs.

The sample files are read back rather than regenerated: the runtime does not
know how a family draws its samples (and must not import one), and the file is
exactly what the run folder keeps. The callback must therefore come after the
model's own callbacks in the list.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

LOGS_RUN_NAME = "train"  # logs/train, as Keras' TensorBoard callback named it (older runs continue there)
SAMPLE_IMAGE_SUFFIX = ".png"
SAMPLE_TEXT_SUFFIX = ".txt"


def scalar_hyperparameters(values: dict[str, Any], prefix: str = "") -> dict[str, bool | int | float | str]:
    """The entries of ``values`` that the HParams plugin can show (numbers, strings, booleans), keys prefixed.

    Lists and unset (None) fields are left out: the plugin has no column type for them.
    """
    return {
        f"{prefix}{name}": value for name, value in values.items()
        if isinstance(value, (bool, int, float, str)) and not (isinstance(value, float) and not np.isfinite(value))
    }


def model_optimizers(model) -> dict[str, keras.optimizers.Optimizer]:
    """``{name: optimizer}`` of a genkit model, found among its checkpoint objects.

    ``generator_optimizer`` is named ``generator``; a model's single ``optimizer`` keeps its name.
    """
    objects = model.checkpoint_objects() if hasattr(model, "checkpoint_objects") else {"optimizer": model.optimizer}
    return {
        (name.removesuffix("_optimizer") or name): value for name, value in objects.items()
        if isinstance(value, keras.optimizers.Optimizer)
    }


def learning_rate(optimizer: keras.optimizers.Optimizer) -> float:
    """The optimizer's current learning rate (``float()`` of a variable made under a strategy, a
    MirroredVariable, fails; ``convert_to_numpy`` reads any)."""
    return float(keras.ops.convert_to_numpy(optimizer.learning_rate))


def model_weights(model) -> dict[str, keras.Variable]:
    """``{"network/layer/weight": variable}``: the floating-point weights of a genkit model's networks.

    The networks are the model's checkpoint objects that are layers (``generator``,
    ``discriminator``, ``network``, ...); their weights' own paths do not say which
    network they belong to (a GAN's generator and its moving average share layer
    names). A weight shared by two networks is listed once.
    """
    objects = model.checkpoint_objects() if hasattr(model, "checkpoint_objects") else {"model": model}
    weights, seen = {}, set()
    for network_name, network in objects.items():
        if isinstance(network, keras.layers.Layer):
            variables = [(f"{network_name}/{variable.path}", variable) for variable in network.weights]
        elif isinstance(network, (keras.Variable, tf.Variable)):
            variables = [(network_name, network)]
        else:
            continue
        for name, variable in variables:
            if id(variable) in seen or not tf.as_dtype(variable.dtype).is_floating:
                continue
            seen.add(id(variable))
            weights[name] = variable
    return weights


class TensorBoardLogs(keras.callbacks.Callback):
    """Writes a run's TensorBoard logs (see the module's docstring for what and at which steps).

    Args:
        logs_dir: the run's ``logs/`` folder (written into its ``train/`` sub-folder).
        samples_dir: where the model's callbacks write ``epoch_NNN.png`` / ``.txt``.
        hyperparameters: ``{name: value}`` shown in the HParams table (non-scalar values are left out).
        run_name: the HParams session's name (the run folder's name).
        batch_size: the global batch size, for the examples per second of an epoch.
        log_every_steps: step scalars every this many global steps.
        histograms: write weight histograms after each epoch.
    """

    def __init__(
        self,
        logs_dir: str | Path,
        samples_dir: str | Path,
        hyperparameters: dict[str, Any],
        run_name: str,
        batch_size: int,
        log_every_steps: int = 10,
        histograms: bool = True,
    ):
        super().__init__()
        self.logs_dir = Path(logs_dir) / LOGS_RUN_NAME
        self.samples_dir = Path(samples_dir)
        self.hyperparameters = scalar_hyperparameters(hyperparameters)
        self.run_name = run_name
        self.batch_size = batch_size
        self.log_every_steps = log_every_steps
        self.histograms = histograms
        self._writer = None
        self._optimizers: dict[str, keras.optimizers.Optimizer] = {}
        self._epoch = 0
        self._global_step: int | None = 0
        self._epoch_started = 0.0
        self._steps_this_epoch = 0
        self._epochs_finished: int | None = None
        self._last_epoch_logs: dict[str, float] | None = None

    # -- session -------------------------------------------------------------------------------

    def on_train_begin(self, logs=None):
        from tensorboard.plugins.hparams import api as hparams_api

        self._writer = tf.summary.create_file_writer(str(self.logs_dir))
        self._optimizers = model_optimizers(self.model)
        self._global_step = None  # known at the first step (the run may resume mid-epoch)
        with self._writer.as_default():
            hparams_api.hparams(self.hyperparameters, trial_id=self.run_name)
        self._writer.flush()

    def on_train_end(self, logs=None):
        from tensorboard.plugins.hparams import api_pb2
        from tensorboard.plugins.hparams import summary as hparams_summary

        final = self._last_epoch_logs if self._last_epoch_logs is not None else _floats(logs)
        completed = self._epochs_finished is not None and self._epochs_finished >= self.params.get("epochs", 0)
        # A session stopped early (time limit, signal) can be resumed: its end is not a success yet.
        status = api_pb2.STATUS_SUCCESS if completed else api_pb2.STATUS_UNKNOWN
        step = self._global_step or 0
        with self._writer.as_default():
            for name, value in final.items():
                tf.summary.scalar(f"final/{name}", value, step=step)
            tf.summary.experimental.write_raw_pb(hparams_summary.session_end_pb(status).SerializeToString(), step=step)
        self._writer.close()
        self._writer = None

    # -- steps ---------------------------------------------------------------------------------

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        self._epoch_started = time.monotonic()
        self._steps_this_epoch = 0

    def on_train_batch_end(self, batch, logs=None):
        self._steps_this_epoch += 1
        self._global_step = self._step_after(batch)
        if self._global_step is None or self._global_step % self.log_every_steps:
            return
        with self._writer.as_default(step=self._global_step):
            for name, value in (logs or {}).items():
                tf.summary.scalar(f"step/{name}", value)
            for name, optimizer in self._optimizers.items():
                tf.summary.scalar(f"learning_rate/{name}", learning_rate(optimizer))

    def _step_after(self, batch: int) -> int | None:
        """The global step once batch ``batch`` of the current epoch is done (steps since the run began).

        For a stream (unknown epoch length) steps are counted from the run's start; a stream resumed
        after its first step cannot know its global step and writes no step scalars.
        """
        steps_per_epoch = self.params.get("steps")
        if steps_per_epoch:
            return self._epoch * steps_per_epoch + batch + 1
        if self._global_step is None:
            return 1 if (self._epoch, batch) == (0, 0) else None
        return self._global_step + 1

    # -- epochs --------------------------------------------------------------------------------

    def on_epoch_end(self, epoch, logs=None):
        seconds = time.monotonic() - self._epoch_started
        unit = getattr(self.model, "example_unit", "examples")
        self._last_epoch_logs = _floats(logs)
        self._epochs_finished = epoch + 1
        with self._writer.as_default(step=epoch + 1):
            for name, value in self._last_epoch_logs.items():
                tf.summary.scalar(f"epoch/{name}", value)
            tf.summary.scalar("epoch/seconds", seconds)
            tf.summary.scalar(f"epoch/{unit}_per_second", self._steps_this_epoch * self.batch_size / max(seconds, 1e-9))
            self._write_epoch_samples(epoch + 1)
            if self.histograms:
                self._write_weight_histograms()
        self._writer.flush()

    def _write_epoch_samples(self, epoch_number: int) -> None:
        """The sample grid (image) or generated text the model's callback wrote for this epoch, if any."""
        stem = self.samples_dir / f"epoch_{epoch_number:03d}"
        image_path, text_path = stem.with_suffix(SAMPLE_IMAGE_SUFFIX), stem.with_suffix(SAMPLE_TEXT_SUFFIX)
        if image_path.is_file():
            image = tf.io.decode_png(image_path.read_bytes())
            tf.summary.image("samples", image[tf.newaxis], description=f"{image_path.parent.name}/{image_path.name}")
        if text_path.is_file():
            text = text_path.read_text(encoding="utf-8")
            # TensorBoard renders text as Markdown: a fenced block keeps the lines and spacing as written.
            tf.summary.text("samples", f"```\n{text}\n```", description=f"{text_path.parent.name}/{text_path.name}")

    def _write_weight_histograms(self) -> None:
        """One histogram per floating-point weight (seed states and counters left out) of each network."""
        for name, variable in model_weights(self.model).items():
            tf.summary.histogram(f"weights/{name}", np.asarray(variable))


def _floats(logs) -> dict[str, float]:
    return {name: float(value) for name, value in (logs or {}).items()}

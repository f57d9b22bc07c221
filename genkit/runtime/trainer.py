"""The distributed training loop shared by every family.

Why not ``fit()``: with TF 2.21 and Keras 3.15, ``fit()`` fails under
MultiWorkerMirroredStrategy (for plain models and GANs alike), while this loop
-- ``strategy.run(model.train_step)`` over ``experimental_distribute_dataset``,
results reduced with ``strategy.reduce`` -- works under every strategy.
Keras callbacks (progress bar, TensorBoard, sample grids) are driven through
``keras.callbacks.CallbackList`` as ``fit()`` would drive them.
"""

from __future__ import annotations

import math
import signal
import sys
import threading
import time
from typing import Callable

import keras
import tensorflow as tf

from genkit.errors import TrainingDiverged, UserError
from genkit.runtime.cluster import stop_on_lost_worker
from genkit.runtime.progress_lines import ProgressLines
from genkit.runtime.training_checkpoint import TrainingCheckpoint

STOP_COMPLETED = "completed"
STOP_TIME_LIMIT = "time_limit"
STOP_SIGNAL = "signal"
STOP_OTHER_WORKER = "other_worker"  # another worker of a multi-worker run had to stop



def training_data_options(autotune: bool) -> tf.data.Options:
    """How the trainer reads a dataset: every worker shards the data itself (in-memory datasets have no
    files to shard by); tf.data autotuning only for data streamed from disk.

    In-memory data trains without autotuning: the end of an epoch (the iterator's deletion) often
    waited for tf.data's autotuning thread to wake from its sleep in Model::OptimizeLoop (seen with
    gdb): 3-4 s of every 10-s DCGAN epoch, up to 36 s of a 2-minute char-lstm one
    (benchmarks/epoch_end.py). Data in memory has nothing to tune.
    """
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    options.autotune.enabled = bool(autotune)
    return options


def steps_in_epoch(dataset: tf.data.Dataset, batch_size: int, data_name: str) -> int | None:
    """Batches per epoch of ``dataset``: its cardinality, or None when unknown (a stream), which must
    still give one batch; a one-line error when it gives none."""
    cardinality = int(dataset.cardinality())
    if cardinality == tf.data.INFINITE_CARDINALITY:
        raise UserError(f"--dataset {data_name}: the training data never ends (repeat it per epoch, not forever)")
    if cardinality == tf.data.UNKNOWN_CARDINALITY:
        for _ in dataset.take(1):
            return None
        cardinality = 0
    if cardinality < 1:
        raise UserError(f"--batch-size {batch_size}: larger than the training set of {data_name}")
    return cardinality


class Trainer:
    """Runs ``model.train_step`` under ``strategy`` for whole epochs, with checkpoints.

    Args:
        model: a compiled :class:`~genkit.tasks.task.Task` made in ``strategy.scope()``.
        strategy: the ``tf.distribute.Strategy``.
        checkpoint: the :class:`TrainingCheckpoint` of the run.
        jit: compile the train step with XLA.
        time_limit_seconds: stop cleanly (checkpoint saved) once this much time is spent.
        autotune: tf.data autotuning of the training data (for data streamed from disk).
        checkpoint_every: also save a checkpoint every this many (global) steps.
        checkpoint_seconds: also save a checkpoint once this much time has passed since the last one.

    A checkpoint is saved at each epoch's end and when training stops; the
    two intervals add mid-epoch ones, so a killed run loses at most that much.

    Before every step the model hears how far the planned training has got
    (``set_training_progress``): the fraction of the planned epochs' steps,
    or of the time limit when that is further, so a learning-rate schedule
    ends when the budget does.
    """

    def __init__(self, model, strategy, checkpoint: TrainingCheckpoint, jit=False, time_limit_seconds=None,
                 autotune=False, checkpoint_every: int | None = None, checkpoint_seconds: float | None = None):
        self.model = model
        self.strategy = strategy
        self.checkpoint = checkpoint
        self.jit = jit
        self.time_limit_seconds = time_limit_seconds
        self.data_options = training_data_options(autotune)
        self.checkpoint_every = checkpoint_every
        self.checkpoint_seconds = checkpoint_seconds
        self.steps_per_epoch: int | None = None
        self.stop_reason: str | None = None
        self.steps_run = 0
        self.seconds_training = 0.0
        self._step_function = None
        self._agreement_function = None

    def request_stop(self, reason: str) -> None:
        self.stop_reason = self.stop_reason or reason
        self.model.stop_training = True

    def global_steps(self, epoch: int, step_in_epoch: int) -> int | None:
        """Steps since the run began at (epoch, step in it); None for a stream resumed mid-run (unknown length)."""
        if self.steps_per_epoch is not None:
            return epoch * self.steps_per_epoch + step_in_epoch
        return self.steps_run if self._started_at_zero else None

    _started_at_zero = True

    def _progress(self, epoch: float, epochs: int, seconds: float) -> float:
        """The fraction of the planned training done: of the planned epochs, or of the time limit if further."""
        progress = epoch / epochs
        if self.time_limit_seconds:
            progress = max(progress, seconds / self.time_limit_seconds)
        return min(progress, 1.0)

    def _agree(self, wants_to_stop: bool, progress: float, wants_checkpoint: bool = False) -> tuple[bool, float, bool]:
        """Whether any worker wants to stop, the workers' mean progress, and whether any wants a checkpoint.

        With several workers, all must stop after the same step, use the
        same learning rate and save the same checkpoints (their clocks
        differ); one worker's values are its own.
        """
        if not isinstance(self.strategy, tf.distribute.MultiWorkerMirroredStrategy):
            return wants_to_stop, progress, wants_checkpoint
        if self._agreement_function is None:
            strategy = self.strategy

            @tf.function
            def mean_over_replicas(values):
                per_replica = strategy.run(tf.identity, args=(values,))
                return strategy.reduce("MEAN", per_replica, axis=None)

            self._agreement_function = mean_over_replicas
        stop, progress, checkpoint = self._agreement_function(
            tf.constant([float(wants_to_stop), progress, float(wants_checkpoint)])
        ).numpy()
        return bool(stop > 0), float(progress), bool(checkpoint > 0)

    def _checkpoint_due(self, global_step: int | None, seconds_since_last: float) -> bool:
        """Whether a step checkpoint is due after ``global_step`` (by step count or by time)."""
        if self.checkpoint_every and global_step is not None and global_step % self.checkpoint_every == 0:
            return True
        return bool(self.checkpoint_seconds) and seconds_since_last >= self.checkpoint_seconds

    def _distributed_step(self) -> Callable:
        """The traced step, made once per trainer (``fit`` may be called again)."""
        if self._step_function is None:
            self._step_function = self._make_distributed_step()
        return self._step_function

    def _make_distributed_step(self) -> Callable:
        step = self.model.train_step
        if self.jit:
            step = tf.function(step, jit_compile=True, reduce_retracing=True)
        strategy = self.strategy

        @tf.function(reduce_retracing=True)
        def distributed_step(batch):
            outputs = strategy.run(step, args=(batch,))
            return {name: strategy.reduce("MEAN", value, axis=None) for name, value in outputs.items()}

        return distributed_step

    def fit(
        self,
        make_dataset: Callable[[int], tf.data.Dataset],
        epochs: int,
        steps_per_epoch: int,
        callbacks: list[keras.callbacks.Callback],
        initial_epoch: int = 0,
        initial_step: int = 0,
        verbose: int = 1,
        log_every_seconds: float | None = None,
        batch_size: int | None = None,
    ) -> str:
        """Trains until ``epochs`` are done or a stop is requested; returns why it stopped.

        ``make_dataset(epoch)`` gives the (per-epoch shuffled) dataset of that
        epoch, so a resumed run sees the very batches it would have seen.
        ``steps_per_epoch`` is None for a stream of unknown length: an epoch
        then ends when its dataset does. ``verbose`` 1 is Keras' live progress
        bar on a terminal and one line per epoch (Keras' ``verbose=2``) when
        standard output is a file or pipe (CI, nohup, cluster job logs), where
        a live bar writes a carriage-return update per step; 2 is always one
        line per epoch; 0 is silent. With one line per epoch, ``log_every_seconds``
        adds a plain line at most that often within an epoch (its examples per
        second need the global ``batch_size``): see
        :class:`~genkit.runtime.progress_lines.ProgressLines`.
        """
        if verbose == 1 and not _is_terminal(sys.stdout):
            verbose = 2
        if verbose == 2 and log_every_seconds:
            callbacks = [*callbacks, ProgressLines(log_every_seconds, batch_size)]
        self.steps_per_epoch = steps_per_epoch
        self._started_at_zero = (initial_epoch, initial_step) == (0, 0)

        def epochs_done(epoch, step):  # fractional: for the learning-rate schedule
            return epoch + (step / steps_per_epoch if steps_per_epoch else 0.0)

        callback_list = keras.callbacks.CallbackList(
            callbacks, add_history=True, add_progbar=verbose > 0, model=self.model,
            verbose=verbose, epochs=epochs, steps=steps_per_epoch,
        )
        distributed_step = self._distributed_step()
        progress = self._progress(epochs_done(initial_epoch, initial_step), epochs, 0.0)
        started = last_checkpoint = time.monotonic()
        self.stop_reason = None
        self.model.stop_training = False
        with _stop_on_signals(self), stop_on_lost_worker(self.strategy, self.checkpoint):  # one line, not a hang
            callback_list.on_train_begin()
            for epoch in range(initial_epoch, epochs):
                for metric in self.model.metrics:
                    metric.reset_state()
                callback_list.on_epoch_begin(epoch)
                first_step = initial_step if epoch == initial_epoch else 0
                dataset = make_dataset(epoch).skip(first_step).with_options(self.data_options)
                logs = {}
                step = first_step
                finished_epoch = True
                for batch in self.strategy.experimental_distribute_dataset(dataset):
                    callback_list.on_train_batch_begin(step)
                    self.model.set_training_progress(progress)
                    logs = {name: float(value) for name, value in distributed_step(batch).items()}
                    _check_finite(logs, epoch, step, self.checkpoint)
                    step += 1
                    self.steps_run += 1
                    callback_list.on_train_batch_end(step - 1, logs)
                    seconds = time.monotonic() - started
                    if self.time_limit_seconds and seconds >= self.time_limit_seconds:
                        self.request_stop(STOP_TIME_LIMIT)
                    due = self._checkpoint_due(self.global_steps(epoch, step), time.monotonic() - last_checkpoint)
                    stop, progress, due = self._agree(
                        self.model.stop_training, self._progress(epochs_done(epoch, step), epochs, seconds), due
                    )
                    if stop:
                        self.request_stop(self.stop_reason or STOP_OTHER_WORKER)
                        finished_epoch = steps_per_epoch is not None and step >= steps_per_epoch
                        break
                    if due and not (steps_per_epoch is not None and step >= steps_per_epoch):  # the epoch's end saves
                        self.checkpoint.save(epoch, step)
                        last_checkpoint = time.monotonic()
                if finished_epoch:
                    callback_list.on_epoch_end(epoch, logs)
                    self.checkpoint.save(epoch + 1, 0)
                else:
                    self.checkpoint.save(epoch, step)
                last_checkpoint = time.monotonic()
                if self.model.stop_training:
                    break
            self.seconds_training += time.monotonic() - started
            callback_list.on_train_end(logs)
        return self.stop_reason or STOP_COMPLETED


def _is_terminal(stream) -> bool:
    """Whether ``stream`` is an interactive terminal (a redirected or captured stream is not)."""
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


def _check_finite(logs: dict, epoch: int, step: int, checkpoint: TrainingCheckpoint) -> None:
    for name, value in logs.items():
        if not math.isfinite(value):
            kept = checkpoint.latest or "none yet"
            raise TrainingDiverged(
                f"training diverged: {name} is {value} at epoch {epoch + 1}, step {step + 1}; "
                f"the last good checkpoint is kept ({kept}); try a lower learning rate"
            )


class _stop_on_signals:
    """Ctrl-C or SIGTERM asks the trainer to stop after the current step (a second Ctrl-C aborts)."""

    def __init__(self, trainer: Trainer):
        self.trainer = trainer
        self.previous = {}

    def _handle(self, signum, frame):
        if self.trainer.stop_reason == STOP_SIGNAL and signum == signal.SIGINT:
            raise KeyboardInterrupt
        print(f"\ngenkit: received {signal.Signals(signum).name}; saving a checkpoint and stopping", file=sys.stderr, flush=True)
        self.trainer.request_stop(STOP_SIGNAL)

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                self.previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc_info):
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)
        return False

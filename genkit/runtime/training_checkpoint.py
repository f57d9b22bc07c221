"""Checkpoints of the whole training state: networks, optimizers, epoch and step counters."""

from __future__ import annotations

import shutil
from pathlib import Path

import tensorflow as tf


class TrainingCheckpoint:
    """A ``tf.train.Checkpoint`` of ``model.checkpoint_objects()`` plus the loop position.

    The loop position is the epoch and the number of batches done within it,
    so a run stopped mid-epoch resumes at the very next batch. The noise of
    the train steps is drawn from the optimizer step counter, and the seed
    states of layers such as dropout are saved too, so a resumed run
    continues exactly as an uninterrupted one would.

    Every worker of a multi-worker run must save (saving may need collective
    ops); only the chief saves into the run folder, the others into a
    temporary folder that :meth:`close` removes.
    """

    def __init__(self, model, directory: Path, max_to_keep: int, is_chief: bool = True):
        self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
        self.step_in_epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="step_in_epoch")
        self.checkpoint = tf.train.Checkpoint(
            epoch=self.epoch, step_in_epoch=self.step_in_epoch, **model.checkpoint_objects(),
            random_states=_random_states(model),
        )
        self.directory = Path(directory)
        self.is_chief = is_chief
        self.manager = tf.train.CheckpointManager(self.checkpoint, str(self.directory), max_to_keep=max_to_keep)

    @staticmethod
    def saved_position(directory: Path) -> tuple[int, int] | None:
        """(epoch, step_in_epoch) of the newest checkpoint in ``directory``, read without building a model."""
        latest = tf.train.latest_checkpoint(str(directory))
        if latest is None:
            return None
        reader = tf.train.load_checkpoint(latest)
        return tuple(
            int(reader.get_tensor(f"{name}/.ATTRIBUTES/VARIABLE_VALUE")) for name in ("epoch", "step_in_epoch")
        )

    @property
    def latest(self) -> str | None:
        return self.manager.latest_checkpoint

    def restore_latest(self, directory: Path | None = None) -> tuple[int, int]:
        """Restores the newest checkpoint (of ``directory``, by default this one's).

        Returns (epoch, step_in_epoch) to continue from. Every worker of a
        resumed multi-worker run restores from the chief's folder.
        """
        latest = tf.train.latest_checkpoint(str(directory or self.directory))
        if latest is None:
            return 0, 0
        self.checkpoint.restore(latest).assert_existing_objects_matched()
        return int(self.epoch.numpy()), int(self.step_in_epoch.numpy())

    def save(self, epoch: int, step_in_epoch: int) -> str:
        self.epoch.assign(epoch)
        self.step_in_epoch.assign(step_in_epoch)
        return self.manager.save()

    def close(self) -> None:
        if not self.is_chief:
            shutil.rmtree(self.directory, ignore_errors=True)


def _random_states(model) -> list:
    """The seed-generator states of the model's layers (dropout), which are not among its weights."""
    weight_ids = {id(weight) for weight in model.weights}
    return [variable.value for variable in model.variables if id(variable) not in weight_ids]

"""A training checkpoint gives back the whole training state, bit for bit: checked in one process.

Each family trains a tiny model through genkit's own code (``genkit.commands.train.train``): epoch 0
straight through, then a resumed session that its time limit stops one step into epoch 1. The
checkpoint it leaves is restored into a freshly built model, which must equal the model that
trained, to the last bit: every network weight, the moving-average generator, batch-norm
statistics, seed-generator states (dropout), the optimizers' iterations, learning rates and Adam
slots, the noise seed, the data position, the critic schedule (wgan-gp) and the KL warm-up
(beta-vae). Then both models take one more step through genkit's Trainer -- the restored one
from the position its checkpoint gives -- and must feed the batch a straight run feeds there
and end in the same state, bit for bit.

No tolerance anywhere: one process, the same kernels on the same inputs (the extra step runs
without the Grappler pass that makes the wgan-gp step racy: conftest.without_step_race). Comparing
a resumed run with a straight one across processes is the slow end-to-end tests' job
(tests/test_resume.py, tests/test_gans.py, tests/test_vae.py), within a measured tolerance.
"""

from __future__ import annotations

import inspect

import keras
import numpy as np
import pytest
import tensorflow as tf

from conftest import read_json, without_step_race

SEED = 7  # not the default seed (1337): a resume that lost the run's seed would show
EPOCHS = 2
STEPS_PER_EPOCH = 4  # 256 images, 64 a step (wgan-gp: n_critic=2 real batches of 32)
STOP = (1, 1)  # where the resumed session stops: epoch 1, one step in
STEPS_DONE = STOP[0] * STEPS_PER_EPOCH + STOP[1]
BATCH_SIZES = {"dcgan": 64, "wgan-gp": 32, "beta-vae": 64}  # of each model's own tiny_overrides
KL_WARMUP_STEPS, BETA = 10, 4.0  # beta-vae's tiny_overrides and default: mid-warm-up at the stop


class TrainerSpy:
    """Records what genkit's Trainer does: the arguments of every ``fit`` and every batch it feeds a step."""

    def __init__(self, monkeypatch):
        from genkit.runtime.trainer import Trainer

        self.fits: list[dict] = []
        self.fed: list = []
        fit, distributed_step = Trainer.fit, Trainer._distributed_step

        def recording_fit(trainer, *args, **kwargs):
            arguments = inspect.signature(fit).bind(trainer, *args, **kwargs)
            arguments.apply_defaults()
            self.fits.append(dict(arguments.arguments))
            return fit(trainer, *args, **kwargs)

        def recording_step(trainer):
            step = distributed_step(trainer)

            def record_and_step(batch):
                self.fed.append(_numpy(batch))
                return step(batch)

            return record_and_step

        monkeypatch.setattr(Trainer, "fit", recording_fit)
        monkeypatch.setattr(Trainer, "_distributed_step", recording_step)


def _numpy(structure):
    return tf.nest.map_structure(np.asarray, structure)


def _nth_batch(dataset, index):
    return _numpy(next(iter(dataset.skip(index).take(1))))


def _assert_same_batch(batch, expected, what):
    tf.nest.assert_same_structure(batch, expected)
    for got, want in zip(tf.nest.flatten(batch), tf.nest.flatten(expected)):
        assert got.dtype == want.dtype and np.array_equal(got, want), f"{what}: not the same batch"


def training_state(model) -> list[tuple[str, np.ndarray]]:
    """Every variable a resumed run continues from, in creation order.

    The model's variables (network weights, the moving-average generator, batch-norm statistics,
    seed-generator states) and every optimizer's (iterations, learning rate, Adam's m and v).
    In creation order, not by name: a second model in one process gets other generated names.
    """
    state = [(variable.path, variable.numpy()) for variable in model.variables]
    for name, value in model.checkpoint_objects().items():
        if isinstance(value, keras.optimizers.Optimizer):
            state += [(f"{name}: {variable.path}", variable.numpy()) for variable in value.variables]
    return state


def assert_same_training_state(model, reference, what):
    got, want = training_state(model), training_state(reference)
    assert len(got) == len(want), f"{what}: {len(got)} variables, expected {len(want)}"
    different = [
        name for (name, a), (_, b) in zip(got, want)
        if a.shape != b.shape or a.dtype != b.dtype or not np.array_equal(a, b)
    ]
    assert not different, f"{what}: {len(different)} of {len(want)} variables differ: {different[:8]}"


def _iterations(model) -> dict[str, int]:
    return {
        name: int(value.iterations.numpy())
        for name, value in model.checkpoint_objects().items()
        if isinstance(value, keras.optimizers.Optimizer)
    }


def _fresh_model(run_dir):
    """The model of ``run_dir``'s config, built and compiled as ``genkit.commands.train`` does, from other initial weights."""
    from genkit.config import TrainConfig
    from genkit.registry import get_model_entry

    saved = read_json(run_dir / "config.json")
    entry = get_model_entry(saved["model"])
    model_config = entry.config_class.from_dict(saved["config"], "config.json")
    train_config = TrainConfig.from_dict(saved["train"], "config.json (train)")
    keras.utils.set_random_seed(train_config.seed + 1)  # other initial weights and seed-generator states
    model = entry.model_class.from_hyperparameters(model_config)
    model.compile_for_training(model_config, seed=train_config.seed)
    return model


class _LastLogs(keras.callbacks.Callback):
    logs: dict = {}

    def on_train_batch_end(self, batch, logs=None):
        self.logs = dict(logs or {})


def _one_more_step(model, make_dataset, checkpoint_dir, position):
    """One step of genkit's Trainer from ``position`` (epoch, step); returns the step's logs."""
    from genkit.runtime.strategy import make_strategy
    from genkit.runtime.trainer import Trainer
    from genkit.runtime.training_checkpoint import TrainingCheckpoint

    checkpoint = TrainingCheckpoint(model, checkpoint_dir, max_to_keep=1)
    last = _LastLogs()
    # A time limit already spent stops the trainer after its first step.
    trainer = Trainer(model, make_strategy("auto"), checkpoint, time_limit_seconds=1e-9)
    with without_step_race():  # the step is traced and run here (see conftest.py)
        stop_reason = trainer.fit(
            make_dataset, EPOCHS, STEPS_PER_EPOCH, [last], initial_epoch=position[0], initial_step=position[1],
            verbose=0,
        )
    assert stop_reason == "time_limit" and trainer.steps_run == 1
    assert TrainingCheckpoint.saved_position(checkpoint_dir) == (position[0], position[1] + 1)
    return last.logs


@pytest.mark.parametrize("family", list(BATCH_SIZES))
def test_a_restored_checkpoint_is_the_training_state_bit_for_bit(family, tmp_path, tiny_npz, monkeypatch):
    from genkit.registry import get_model_entry
    from genkit.runtime.training_checkpoint import TrainingCheckpoint
    from genkit.commands.train import train

    spy = TrainerSpy(monkeypatch)
    run_dir = tmp_path / "run"
    overrides = [*get_model_entry(family).tiny_overrides, "train.num_sample_images=4"]
    options = dict(dataset=f"npz:{tiny_npz}", batch_size=BATCH_SIZES[family], seed=SEED, out=run_dir, verbose=0)

    # Epoch 0 straight through; then a resumed session (restored by genkit) that stops one step into epoch 1.
    train(family, overrides=overrides, epochs=1, **options)
    result = train(family, overrides=overrides, epochs=EPOCHS, resume=True, time_limit=1e-7, **options)
    original = result.model  # the model that trained: never restored at the stop
    assert result.stop_reason == "time_limit" and len(spy.fed) == STEPS_PER_EPOCH + 1
    training = read_json(run_dir / "genkit.json")["training"]
    assert (training["epochs_completed"], training["step_in_epoch"], training["global_steps"]) == (*STOP, STEPS_DONE)
    assert [(fit["initial_epoch"], fit["initial_step"]) for fit in spy.fits] == [(0, 0), (1, 0)]
    assert [fit["steps_per_epoch"] for fit in spy.fits] == [STEPS_PER_EPOCH, STEPS_PER_EPOCH]

    # The data position. A straight run feeds, at (epoch, step), batch `step` of that epoch's dataset
    # (the first session's datasets, read from their start); the resumed session made its datasets
    # afresh and skipped to its position.
    straight, make_dataset = spy.fits[0]["make_dataset"], spy.fits[1]["make_dataset"]
    for step in range(STEPS_PER_EPOCH):
        _assert_same_batch(spy.fed[step], _nth_batch(straight(0), step), f"epoch 0, step {step}")
    _assert_same_batch(spy.fed[STEPS_PER_EPOCH], _nth_batch(straight(1), 0), "epoch 1, step 0 (resumed)")
    first_images = [tf.nest.flatten(_nth_batch(straight(epoch), 0))[0] for epoch in (0, 1)]
    assert not np.array_equal(*first_images), "each epoch has its own shuffle"

    # Restore into a fresh model: before, it differs; after, every bit is the original's.
    restored = _fresh_model(run_dir)
    assert not np.array_equal(restored.weights[0].numpy(), original.weights[0].numpy())
    assert set(_iterations(restored).values()) == {0}
    checkpoint = TrainingCheckpoint(restored, tmp_path / "unused", max_to_keep=1)
    position = checkpoint.restore_latest(run_dir / "checkpoints")
    assert position == STOP == TrainingCheckpoint.saved_position(run_dir / "checkpoints")
    assert_same_training_state(restored, original, "restored vs the model that trained")

    # The train steps' noise is drawn from (noise seed, optimizer iterations): both carry over.
    assert restored.noise_seed == original.noise_seed == SEED
    if family == "dcgan":  # its dropout's seed generators (in training_state) are the RNG state it holds
        assert any("seed_generator" in variable.path for variable in restored.variables)
        assert _iterations(restored) == {"generator_optimizer": STEPS_DONE, "discriminator_optimizer": STEPS_DONE}
    if family == "wgan-gp":  # the critic schedule: n_critic=2 critic updates per generator update
        assert _iterations(restored) == {"generator_optimizer": STEPS_DONE, "discriminator_optimizer": 2 * STEPS_DONE}
    if family in ("dcgan", "wgan-gp"):  # the moving average is restored, not re-copied from the generator
        assert restored.generator_average is not None
        for average, reference in zip(restored.generator_average.weights, original.generator_average.weights):
            assert np.array_equal(average.numpy(), reference.numpy()), average.path
        assert not all(
            np.array_equal(average.numpy(), weight.numpy())
            for average, weight in zip(restored.generator_average.weights, restored.generator.weights)
        )
    if family == "beta-vae":  # the KL warm-up position is the optimizer's iterations
        assert _iterations(restored) == {"optimizer": STEPS_DONE}
        kl_weight = float(restored.current_kl_weight())
        assert kl_weight == float(original.current_kl_weight()) == BETA * STEPS_DONE / KL_WARMUP_STEPS

    # One more step each, through the resumed session's datasets: the restored model from the position
    # its checkpoint gave, the original from where it stopped. Same batch, same state, bit for bit.
    restored_logs = _one_more_step(restored, make_dataset, tmp_path / "restored-next", position)
    original_logs = _one_more_step(original, make_dataset, tmp_path / "original-next", STOP)
    straight_batch = _nth_batch(straight(STOP[0]), STOP[1])
    _assert_same_batch(spy.fed[-2], straight_batch, "the restored model's next batch")
    _assert_same_batch(spy.fed[-1], straight_batch, "the original model's next batch")
    assert restored_logs == original_logs and restored_logs
    assert_same_training_state(restored, original, "one step after the restore")
    assert min(_iterations(restored).values()) == STEPS_DONE + 1

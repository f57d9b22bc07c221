"""Datasets register like models: a spec resolves to the dataset that yields what the model needs, a mismatch is
one line naming both, and the trainer also takes data streamed from disk (unknown length, autotuning on)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from genkit.config import parse_overrides
from genkit.data.dataset_registry import DatasetKind, load_dataset, register_dataset, registered_datasets, resolve_dataset
from genkit.errors import UserError
from genkit.registry import get_model_entry
from genkit.runtime.trainer import Trainer, steps_in_epoch
from genkit.runtime.training_checkpoint import TrainingCheckpoint

from conftest import TINY_DCGAN, run_cli


def test_embedded_is_the_data_of_the_models_modality():
    images = load_dataset("embedded", ("images", "labels"), "dcgan")
    text = load_dataset("embedded", ("corpus",), "char-lstm")
    assert images.image_shape == (28, 28, 1) and images.train_labels is not None and images.in_memory
    assert text.train_documents[0].startswith("Ge1:1 In the beginning God created")
    kinds = {kind.usage: kind for kind in registered_datasets()}
    assert {"embedded", "fashion_mnist", "tfds:NAME", "folder:PATH", "npz:PATH", "text:PATH"} <= set(kinds)


def test_a_spec_that_yields_other_fields_is_one_line_naming_both(tiny_text):
    with pytest.raises(UserError) as raised:
        resolve_dataset(f"text:{tiny_text}", ("images",), "'dcgan'")
    assert str(raised.value) == (
        f"--dataset text:{tiny_text}: yields corpus, but 'dcgan' needs images; "
        "datasets that do: embedded, fashion_mnist, tfds:NAME, folder:PATH, npz:PATH"
    )
    with pytest.raises(UserError, match="--dataset mnist: unknown dataset; allowed: embedded, text:PATH"):
        resolve_dataset("mnist", ("corpus",), "'char-lstm'")
    with pytest.raises(UserError, match="--dataset text:: unknown dataset"):
        resolve_dataset("text:", ("corpus",), "'char-lstm'")


def test_the_command_line_refuses_a_mismatched_dataset_before_writing_anything(tmp_path, tiny_text):
    result = run_cli("train", "dcgan", "--dataset", f"text:{tiny_text}", "--out", tmp_path / "run", check=False)
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "yields corpus, but 'dcgan' needs images" in result.stderr
    assert not (tmp_path / "run").exists()


def test_a_registered_dataset_with_the_same_fields_twice_is_refused():
    kind = DatasetKind("embedded", ("corpus",), lambda *_, **__: None, "a second embedded text")
    with pytest.raises(ValueError, match="already registered"):
        register_dataset(kind)


def _tiny_dcgan():
    entry = get_model_entry("dcgan")
    config = entry.config_class.from_dict({**parse_overrides(TINY_DCGAN), "image_shape": [28, 28, 1]})
    keras.utils.set_random_seed(0)
    model = entry.model_class.from_hyperparameters(config)
    model.compile_for_training(config, seed=0)
    return model


def _stream(batches: int, batch_size: int = 16):
    """A dataset of unknown length, as one read from disk would be."""
    images = np.random.default_rng(0).uniform(-1, 1, (batches * batch_size, 28, 28, 1)).astype(np.float32)

    def generate():
        for start in range(0, len(images), batch_size):
            yield {"images": images[start : start + batch_size]}

    signature = {"images": tf.TensorSpec([batch_size, 28, 28, 1], tf.float32)}
    return tf.data.Dataset.from_generator(generate, output_signature=signature)


def test_steps_in_epoch_of_known_unknown_empty_and_endless_data():
    assert steps_in_epoch(tf.data.Dataset.range(6).batch(2, drop_remainder=True), 2, "x") == 3
    assert steps_in_epoch(_stream(2), 16, "stream") is None
    with pytest.raises(UserError, match="--batch-size 16: larger than the training set of stream"):
        steps_in_epoch(_stream(0), 16, "stream")
    with pytest.raises(UserError, match="never ends"):
        steps_in_epoch(_stream(1).repeat(), 16, "stream")


def test_the_trainer_trains_a_stream_of_unknown_length_with_autotuning(tmp_path):
    model = _tiny_dcgan()
    before = [w.numpy() for w in model.generator.trainable_variables]
    checkpoint = TrainingCheckpoint(model, tmp_path / "checkpoints", 1)
    trainer = Trainer(model, tf.distribute.get_strategy(), checkpoint, autotune=True)
    assert trainer.data_options.autotune.enabled is True
    epochs_seen = []

    class Epochs(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            epochs_seen.append(epoch)

    stop = trainer.fit(lambda epoch: _stream(3), epochs=2, steps_per_epoch=None, callbacks=[Epochs()], verbose=0)
    assert stop == "completed" and epochs_seen == [0, 1] and trainer.steps_run == 6
    assert trainer.global_steps(2, 0) == 6
    assert (int(checkpoint.epoch.numpy()), int(checkpoint.step_in_epoch.numpy())) == (2, 0)
    assert int(model.generator_optimizer.iterations.numpy()) == 6
    assert not any(np.array_equal(a, b.numpy()) for a, b in zip(before, model.generator.trainable_variables))


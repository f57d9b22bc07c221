"""Autoencoder family (ae, dae): the corruptions do what they say, a trained autoencoder beats the mean
image, and reconstruction, sampling and evaluation work through the command line."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from conftest import read_json, run_cli
from genkit.models import Autoencoder, AutoencoderConfig, DenoisingAutoencoder, DenoisingAutoencoderConfig
from genkit.models.autoencoder import corrupt_images

TINY = {
    "image_shape": [28, 28, 1], "latent_dim": 16, "encoder_filters": [8, 16], "decoder_filters": [16, 8],
    "dense_units": 64,
}


def _model(model_class=Autoencoder, config_class=AutoencoderConfig, **changes):
    config = config_class.from_dict({**TINY, **changes})
    keras.utils.set_random_seed(0)
    model = model_class.from_hyperparameters(config)
    model.compile_for_training(config, seed=1)
    return model


def _data():
    from genkit.data import load_image_dataset

    return load_image_dataset("embedded")


def test_masking_zeros_the_given_fraction_of_pixels():
    images = tf.ones((64, 28, 28, 1))
    corrupted = corrupt_images(images, "masking", 0.3, seed=0, step=0).numpy()
    assert set(np.unique(corrupted)) == {0.0, 1.0}
    assert abs((corrupted == 0).mean() - 0.3) < 0.01


def test_salt_and_pepper_sets_the_given_fraction_to_zero_or_one_equally():
    images = tf.fill((64, 28, 28, 1), 0.5)
    corrupted = corrupt_images(images, "salt_and_pepper", 0.2, seed=0, step=0).numpy()
    assert set(np.unique(corrupted)) == {0.0, 0.5, 1.0}
    assert abs((corrupted != 0.5).mean() - 0.2) < 0.01
    assert abs((corrupted == 1.0).mean() - (corrupted == 0.0).mean()) < 0.01


def test_gaussian_noise_has_the_given_std_and_is_clipped_to_the_unit_range():
    images = tf.fill((64, 28, 28, 1), 0.5)
    corrupted = corrupt_images(images, "gaussian", 0.1, seed=0, step=0).numpy()
    assert abs((corrupted - 0.5).std() - 0.1) < 0.005
    clipped = corrupt_images(tf.fill((64, 28, 28, 1), 0.9), "gaussian", 0.3, seed=0, step=0).numpy()
    assert clipped.min() >= 0.0 and clipped.max() == 1.0 and (clipped == 1.0).mean() > 0.3


def test_corruption_is_drawn_from_seed_and_step():
    images = tf.fill((8, 28, 28, 1), 0.5)
    first, again, next_step = (
        corrupt_images(images, "salt_and_pepper", 0.2, seed=seed, step=step).numpy()
        for seed, step in ((3, 7), (3, 7), (3, 8))
    )
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, next_step)


def _train(model, images, epochs=12):
    dataset = tf.data.Dataset.from_tensor_slices(images).batch(64, drop_remainder=True)
    step = tf.function(model.train_step)
    for _ in range(epochs):
        for batch in dataset:
            logs = step(batch)
    return logs


def test_a_trained_tiny_autoencoder_beats_the_mean_image():
    data = _data()
    train = data.train_images[:1024].astype("float32") / 255.0
    test = data.test_images[:200].astype("float32") / 255.0
    model = _model()
    _train(model, train)
    reconstruction_error = float(np.mean(np.square(np.asarray(model.reconstruct(test)) - test)))
    mean_image_error = float(np.mean(np.square(train.mean(axis=0) - test)))
    assert reconstruction_error < 0.5 * mean_image_error, (reconstruction_error, mean_image_error)


def test_a_trained_denoising_autoencoder_removes_noise_and_reports_every_noise_type():
    data = _data()
    model = _model(DenoisingAutoencoder, DenoisingAutoencoderConfig, noise="salt_and_pepper")
    _train(model, data.train_images[:1024].astype("float32") / 255.0)
    data.test_images = data.test_images[:200]
    metrics = model.evaluation_metrics(data, seed=0)
    for noise in ("gaussian", "masking", "salt_and_pepper"):
        assert {f"denoising_error_{noise}", f"noisy_input_error_{noise}", f"noise_level_{noise}"} <= set(metrics)
    assert metrics["denoising_error_salt_and_pepper"] < 0.7 * metrics["noisy_input_error_salt_and_pepper"]
    assert metrics["noise_level_salt_and_pepper"] == 0.2 and metrics["num_images"] == 200


def test_the_code_is_batch_normalised_so_normal_draws_decode_to_images():
    model = _model()
    code = np.asarray(model.encoder(_data().train_images[:256].astype("float32") / 255.0, training=True))
    np.testing.assert_allclose(code.mean(axis=0), 0.0, atol=1e-4)
    assert np.all((code.std(axis=0) > 0.8) & (code.std(axis=0) <= 1.0))  # 1 up to batch norm's epsilon
    samples = model.generate_samples(4, seed=0)
    assert samples.shape == (4, 28, 28, 1) and samples.dtype == np.float32


@pytest.fixture(scope="module")
def dae_run(tmp_path_factory, tiny_npz):
    run_dir = tmp_path_factory.mktemp("runs") / "dae"
    run_cli(
        "train", "dae", "--dataset", f"npz:{tiny_npz}", "--epochs", 1, "--batch-size", 32, "--out", run_dir,
        "--quiet", "--set", "latent_dim=4", "--set", "encoder_filters=[4,8]", "--set", "decoder_filters=[8,4]",
        "--set", "dense_units=16", "--set", "noise=masking", "--set", "train.num_sample_images=16",
    )
    return run_dir


def test_dae_run_serves_encode_decode_reconstruct_and_evaluates(dae_run, tmp_path):
    metadata = read_json(dae_run / "genkit.json")
    assert metadata["family"] == "autoencoder" and metadata["data"]["scaling"]["scale"] == "unit"
    signatures = metadata["serving"]["signatures"]
    assert sorted(signatures) == ["decode", "encode", "reconstruct", "serving_default"]
    assert signatures["serving_default"] == signatures["reconstruct"]
    assert signatures["encode"]["outputs"] == {"code": {"dtype": "float32", "shape": [None, 4], "modality": "latent"}}
    assert signatures["decode"]["inputs"]["code"]["sampling"]["distribution"] == "standard_normal"
    assert (dae_run / "samples" / "epoch_001.png").is_file()

    images = np.random.default_rng(0).uniform(0, 1, (3, 28, 28, 1)).astype("float32")
    np.save(tmp_path / "images.npy", images)
    run_cli("sample", dae_run, "--reconstruct", tmp_path / "images.npy", "--out", tmp_path / "out.npy")
    assert np.load(tmp_path / "out.npy").shape == (3, 28, 28, 1)

    printed = run_cli("evaluate", dae_run).stdout
    metrics = read_json(dae_run / "metrics.json")
    assert metrics["model"] == "dae" and 0 < metrics["reconstruction_error"] < 1
    assert "denoising_error_masking" in metrics and "denoising_error_masking" in printed
    process = run_cli("evaluate", dae_run, "--importance-samples", 5, check=False)
    assert process.returncode == 2 and (
        "--importance-samples: not an option of 'dae' models (genkit evaluate options it takes: none)" in process.stderr
    )
    process = run_cli("sample", dae_run, "--label", 1, "--out", tmp_path / "s.png", check=False)
    assert process.returncode == 2 and "--label: not an option of 'dae' models" in process.stderr
    assert "takes: --reconstruct" in process.stderr

"""VAE family (vae, beta-vae, cvae): the KL term, the likelihood bounds, the warm-up schedule, the train
step's noise, and sampling, reconstruction and evaluation through the command line."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from conftest import read_json, run_cli
from genkit.models import CVAE, VAE, BetaVAE, BetaVAEConfig, CVAEConfig, VAEConfig
from genkit.models.vae import kl_weight
from genkit.models.vae.vae_evaluation import importance_weighted_bounds, likelihood_metrics
from genkit.models.vae.vae_losses import (
    bernoulli_log_likelihood, diagonal_normal_log_density, gaussian_kl, gaussian_log_likelihood,
)

TINY = {
    "image_shape": [28, 28, 1], "latent_dim": 4, "encoder_filters": [8, 16], "decoder_filters": [16, 8],
    "dense_units": 32,
}
TINY_FLAGS = [
    "--set", "latent_dim=4", "--set", "encoder_filters=[8,16]", "--set", "decoder_filters=[16,8]",
    "--set", "dense_units=32", "--set", "train.num_sample_images=16",
]


def _model(model_class=VAE, config_class=VAEConfig, **changes):
    config = config_class.from_dict({**TINY, **changes})
    keras.utils.set_random_seed(0)
    model = model_class.from_hyperparameters(config)
    model.compile_for_training(config, seed=1)
    return model


def _images(count=64, offset=0):
    from genkit.data import load_image_dataset

    data = load_image_dataset("embedded")
    return data.train_images[offset : offset + count].astype("float32") / 255.0, data.train_labels[offset : offset + count]


def test_kl_closed_form_matches_a_monte_carlo_estimate():
    rng = np.random.default_rng(0)
    mean = rng.normal(0, 1, (3, 5)).astype("float32")
    log_var = rng.normal(0, 0.7, (3, 5)).astype("float32")
    samples = 200_000
    epsilon = rng.standard_normal((samples, 3, 5)).astype("float32")
    z = mean + np.exp(0.5 * log_var) * epsilon
    log_q = diagonal_normal_log_density(z, mean, log_var).numpy()
    log_p = diagonal_normal_log_density(z, np.zeros_like(z), np.zeros_like(z)).numpy()
    monte_carlo = (log_q - log_p).mean(axis=0)
    standard_error = (log_q - log_p).std(axis=0) / np.sqrt(samples)
    closed_form = gaussian_kl(mean, log_var).numpy()
    assert np.all(np.abs(monte_carlo - closed_form) < 5 * standard_error + 1e-3), (monte_carlo, closed_form)
    np.testing.assert_allclose(gaussian_kl(np.zeros((2, 3), "float32"), np.zeros((2, 3), "float32")), 0.0)


def test_pixel_log_likelihoods_match_their_formulas():
    rng = np.random.default_rng(1)
    images = rng.uniform(0, 1, (2, 4, 4, 1)).astype("float32")
    logits = rng.normal(0, 2, (2, 4, 4, 1)).astype("float32")
    p = 1 / (1 + np.exp(-logits))
    bernoulli = (images * np.log(p) + (1 - images) * np.log(1 - p)).reshape(2, -1).sum(axis=1)
    np.testing.assert_allclose(bernoulli_log_likelihood(images, logits), bernoulli, rtol=1e-5)
    log_var = np.full((2, 1, 1, 1), np.log(0.04), "float32")
    gaussian = (-0.5 * (np.log(2 * np.pi * 0.04) + (images - p) ** 2 / 0.04)).reshape(2, -1).sum(axis=1)
    np.testing.assert_allclose(gaussian_log_likelihood(images, logits, log_var), gaussian, rtol=1e-5)


def test_kl_warmup_schedule_values():
    assert [float(kl_weight(step, 4.0, 100)) for step in (0, 25, 50, 100, 1000)] == [0.0, 1.0, 2.0, 4.0, 4.0]
    assert float(kl_weight(0, 1.0, 0)) == 1.0 and float(kl_weight(10**6, 2.5, 0)) == 2.5


def test_beta_vae_reports_the_warmed_up_kl_weight_of_each_optimizer_step():
    model = _model(BetaVAE, BetaVAEConfig, beta=2.0, kl_warmup_steps=4)
    images = tf.constant(_images(32)[0])
    weights = [float(model.train_step(images)["kl_weight"]) for _ in range(6)]
    assert weights == [0.0, 0.5, 1.0, 1.5, 2.0, 2.0]
    assert BetaVAEConfig().beta == 4.0 and BetaVAEConfig().kl_warmup_steps == 1000
    assert VAEConfig().beta == 1.0 and VAEConfig().kl_warmup_steps == 0  # the plain VAE


def test_reparameterisation_noise_replays_by_step_and_changes_between_steps():
    images = tf.constant(_images(32)[0])
    first, second = _model(), _model()
    assert float(first.train_step(images)["loss"]) == float(second.train_step(images)["loss"])
    again = _model()
    again.optimizer.iterations.assign(5)
    assert float(again.train_step(images)["loss"]) != float(_model().train_step(images)["loss"])


def _trained(model, steps=60):
    images, labels = _images(256)
    columns = {"images": images, "labels": labels} if model.num_classes else {"images": images}
    dataset = tf.data.Dataset.from_tensor_slices(columns).batch(32)
    step = tf.function(model.train_step)
    for _ in range(steps // 8):
        for batch in dataset:
            step(batch)
    return model


@pytest.fixture(scope="module")
def trained_vae():
    return _trained(_model())


def test_elbo_is_below_the_importance_weighted_bound_which_tightens_with_k(trained_vae):
    images = _images(48, offset=1000)[0]
    results = {k: importance_weighted_bounds(trained_vae, images, importance_samples=k, seed=3) for k in (1, 10, 100)}
    elbo = results[100][0].mean()
    bounds = [results[k][1].mean() for k in (1, 10, 100)]
    assert elbo <= bounds[1] <= bounds[2], (elbo, bounds)
    assert bounds[0] < bounds[1] < bounds[2]
    assert abs(bounds[0] - elbo) < 0.05 * abs(elbo)  # k = 1 is a one-sample ELBO estimate
    np.testing.assert_array_equal(
        results[10][1], importance_weighted_bounds(trained_vae, images, importance_samples=10, seed=3)[1]
    )


def test_likelihood_metrics_say_what_they_measure(trained_vae):
    from genkit.data import load_image_dataset

    data = load_image_dataset("embedded")
    data.test_images = data.test_images[:40]
    metrics = likelihood_metrics(trained_vae, data, importance_samples=20, seed=0)
    assert metrics["nll"] <= -metrics["elbo"] and metrics["importance_samples"] == 20
    assert metrics["num_likelihood_images"] == 40 and metrics["likelihood_split"] == "test"
    assert "Bernoulli" in metrics["likelihood"] and "probability" in metrics["likelihood"]
    assert 0 < metrics["reconstruction_error"] < 0.2

    gaussian = _model(decoder="gaussian", gaussian_std=0.2)
    described = likelihood_metrics(gaussian, data, importance_samples=2)["likelihood"]
    assert "continuous" in described and "learned sigma = 0.2" in described


def test_cvae_decoder_follows_the_label():
    model = _trained(_model(CVAE, CVAEConfig, num_classes=10), steps=200)
    z = np.zeros((2, 4), "float32")
    trousers, bags = (np.asarray(model.generate(z=z, label=np.array([k, k], "int32"))) for k in (1, 8))
    assert np.abs(trousers - bags).mean() > 0.05


@pytest.fixture(scope="module")
def vae_run(tmp_path_factory, tiny_npz):
    run_dir = tmp_path_factory.mktemp("runs") / "vae"
    run_cli("train", "vae", "--dataset", f"npz:{tiny_npz}", "--epochs", 1, "--batch-size", 32,
               "--out", run_dir, "--quiet", *TINY_FLAGS)
    return run_dir


@pytest.fixture(scope="module")
def cvae_run(tmp_path_factory, tiny_npz):
    run_dir = tmp_path_factory.mktemp("runs") / "cvae"
    run_cli("train", "cvae", "--dataset", f"npz:{tiny_npz}", "--epochs", 1, "--batch-size", 32,
               "--out", run_dir, "--quiet", *TINY_FLAGS)
    return run_dir


def _images_file(tmp_path, name="images.npy", array=None):
    path = tmp_path / name
    np.save(path, _images(5)[0] if array is None else array)
    return path


def test_vae_run_folder_and_serving_signatures(vae_run):
    metadata = read_json(vae_run / "genkit.json")
    assert metadata["family"] == "vae" and metadata["data"]["scaling"]["scale"] == "unit"
    signatures = metadata["serving"]["signatures"]
    assert sorted(signatures) == ["decode", "encode", "reconstruct", "serving_default"]
    assert signatures["encode"]["outputs"] == {
        "mean": {"dtype": "float32", "shape": [None, 4], "modality": "latent"},
        "log_var": {"dtype": "float32", "shape": [None, 4], "modality": "latent"},
    }
    z = signatures["serving_default"]["inputs"]["z"]
    assert z["dtype"] == "float32" and z["shape"] == [None, 4] and z["sampling"]["distribution"] == "standard_normal"
    assert set(metadata["metrics"]) >= {"loss", "reconstruction", "kl", "kl_weight"}
    assert (vae_run / "samples" / "epoch_001.png").is_file() and (vae_run / "samples.png").is_file()


def test_sample_reconstruct_writes_reconstructions(vae_run, tmp_path):
    images = _images_file(tmp_path)
    run_cli("sample", vae_run, "--reconstruct", images, "--out", tmp_path / "out.npy")
    reconstructions = np.load(tmp_path / "out.npy")
    assert reconstructions.shape == (5, 28, 28, 1) and 0 <= reconstructions.min() and reconstructions.max() <= 1
    run_cli("sample", vae_run, "--reconstruct", images, "--out", tmp_path / "again.npy")
    np.testing.assert_array_equal(reconstructions, np.load(tmp_path / "again.npy"))  # deterministic


@pytest.mark.parametrize(
    "array, message",
    [
        (np.zeros((3, 32, 32, 1), "float32"), "has shape [3, 32, 32, 1]; expected float images of shape [N, 28, 28, 1]"),
        (np.full((3, 28, 28, 1), 2.0, "float32"), "values range over [2, 2]"),
        (np.zeros((3, 28, 28, 1), "uint8"), "has dtype uint8"),
    ],
)
def test_sample_reconstruct_refuses_bad_images(vae_run, tmp_path, array, message):
    process = run_cli("sample", vae_run, "--reconstruct", _images_file(tmp_path, array=array),
                         "--out", tmp_path / "out.npy", check=False)
    assert process.returncode == 2 and message in process.stderr, process.stderr
    assert len(process.stderr.strip().splitlines()) == 1 and not (tmp_path / "out.npy").exists()


def test_label_is_refused_by_an_unconditional_vae(vae_run, tmp_path):
    process = run_cli("sample", vae_run, "--label", 1, "--out", tmp_path / "s.png", check=False)
    assert process.returncode == 2 and "--label: not an option of 'vae' models" in process.stderr


def test_reconstruct_is_refused_by_a_gan(trained_run, tmp_path):
    process = run_cli("sample", trained_run, "--reconstruct", _images_file(tmp_path), "--out",
                         tmp_path / "s.npy", check=False)
    assert process.returncode == 2 and "--reconstruct: not an option of 'dcgan' models" in process.stderr


def test_cvae_samples_a_chosen_class_and_refuses_one_out_of_range(cvae_run, tmp_path):
    metadata = read_json(cvae_run / "genkit.json")
    assert metadata["config"]["num_classes"] == 10
    label = metadata["serving"]["signatures"]["decode"]["inputs"]["label"]
    assert {key: label[key] for key in ("dtype", "shape", "modality", "range")} == {
        "dtype": "int32", "shape": [None], "modality": "label", "range": [0.0, 9.0],
    }
    assert label["sampling"]["numpy"] == "(np.arange(n) % 10).astype('int32')"
    run_cli("sample", cvae_run, "-n", 4, "--label", 3, "--out", tmp_path / "three.npy")
    assert np.load(tmp_path / "three.npy").shape == (4, 28, 28, 1)
    process = run_cli("sample", cvae_run, "--label", 10, "--out", tmp_path / "s.npy", check=False)
    assert process.returncode == 2 and "--label 10: out of range; this model has classes 0 to 9" in process.stderr
    images = _images_file(tmp_path)
    process = run_cli("sample", cvae_run, "--reconstruct", images, "--out", tmp_path / "r.npy", check=False)
    assert process.returncode == 2 and "pass --label K" in process.stderr
    run_cli("sample", cvae_run, "--reconstruct", images, "--label", 0, "--out", tmp_path / "r.npy")
    assert np.load(tmp_path / "r.npy").shape == (5, 28, 28, 1)


def test_mixed_float16_vae_uses_loss_scaling_and_keeps_float32_outputs():
    keras.mixed_precision.set_dtype_policy("mixed_float16")
    try:
        model = _model(decoder="gaussian")
        assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
        logs = model.train_step(tf.constant(_images(32)[0]))
        assert all(np.isfinite(float(value)) for value in logs.values())
        mean, log_var = model.encode(_images(2)[0])
        assert mean.dtype == log_var.dtype == "float32" and model.generate(z=np.zeros((2, 4), "float32")).dtype == "float32"
    finally:
        keras.mixed_precision.set_dtype_policy("float32")


@pytest.mark.slow
def test_beta_vae_resumes_its_warm_up_exactly(tmp_path, tiny_npz):
    """End to end, across processes: the warm-up exactly, the weights within RESUME_TOLERANCE.

    (Measured: see conftest.py. The restored state, the next batch and the next step are checked
    bit for bit in one process by tests/runtime/test_training_checkpoint.py.)
    """
    from conftest import assert_resumed_like_straight, checkpoint_iterations, run_genkit_sessions, without_step_race

    def train(out, *extra):
        return [
            "train", "beta-vae", "--dataset", f"npz:{tiny_npz}", "--batch-size", 64, "--epochs", 2, "--out", out,
            "--quiet", *TINY_FLAGS, "--set", "kl_warmup_steps=6", *extra,
        ]

    straight, stopped = tmp_path / "straight", tmp_path / "stopped"
    with without_step_race():  # this process: the straight run, and a run stopped after its first step
        run_cli(*train(straight))
        run_cli(*train(stopped, "--time-limit", "0.00001"))
    assert checkpoint_iterations(stopped) == {"optimizer": 1}
    run_genkit_sessions(train(stopped, "--resume"))  # resumed in a fresh process
    straight_history, resumed_history = (read_json(run / "history.json") for run in (straight, stopped))
    # 4 steps per epoch: the last step of epoch 1 has weight 3/6 * 4, of epoch 2 (step 7) the full beta.
    assert [record["kl_weight"] for record in straight_history] == [2.0, 4.0]
    assert resumed_history[-1]["kl_weight"] == 4.0
    assert checkpoint_iterations(stopped) == checkpoint_iterations(straight) == {"optimizer": 8}
    import genkit.models  # noqa: F401

    for run in (straight, stopped):
        assert keras.saving.load_model(run / "model.keras").kl_warmup_steps == 6
    assert_resumed_like_straight(stopped, straight)


def test_evaluate_reports_likelihood_and_sample_quality(vae_run):
    printed = run_cli("evaluate", vae_run, "-n", 40, "--importance-samples", 5).stdout
    metrics = read_json(vae_run / "metrics.json")
    assert {"elbo", "nll", "reconstruction_error", "fid", "kid", "precision", "recall"} <= set(metrics)
    assert metrics["importance_samples"] == 5 and metrics["num_samples"] == 40
    assert metrics["nll"] <= -metrics["elbo"] and "nll" in printed and "Bernoulli" in metrics["likelihood"]


def test_kl_between_gaussians_matches_the_standard_normal_case_and_a_monte_carlo_estimate():
    import tensorflow as tf

    from genkit.models.vae.vae_losses import diagonal_normal_log_density, gaussian_kl, gaussian_kl_between

    rng = np.random.default_rng(0)
    mean, log_var = rng.standard_normal((2, 4)).astype(np.float32), rng.standard_normal((2, 4)).astype(np.float32) * 0.3
    zeros = np.zeros_like(mean)
    np.testing.assert_allclose(gaussian_kl_between(mean, log_var, zeros, zeros), gaussian_kl(mean, log_var), rtol=1e-5)
    prior_mean, prior_log_var = mean + 0.7, log_var - 0.4
    z = mean[:, None, :] + np.exp(0.5 * log_var)[:, None, :] * rng.standard_normal((2, 200_000, 4)).astype(np.float32)
    estimate = tf.reduce_mean(
        diagonal_normal_log_density(z, mean[:, None], log_var[:, None])
        - diagonal_normal_log_density(z, prior_mean[:, None], prior_log_var[:, None]), axis=1,
    )
    np.testing.assert_allclose(gaussian_kl_between(mean, log_var, prior_mean, prior_log_var), estimate, rtol=0.02)


@pytest.mark.slow
def test_text2image_vae_reports_its_nll_below_minus_its_elbo_and_its_prior_reads_the_text(tmp_path):
    from genkit.registry import get_model_entry

    flags = [flag for item in get_model_entry("text2image-vae").tiny_overrides for flag in ("--set", item)]
    run_dir = tmp_path / "run"
    run_cli("train", "text2image-vae", "--epochs", 1, "--batch-size", 64, "--out", run_dir, "--quiet", *flags)
    run_cli("evaluate", run_dir, "--importance-samples", 8)
    metrics = read_json(run_dir / "metrics.json")
    assert np.isfinite(metrics["elbo"]) and np.isfinite(metrics["r_precision"]) and metrics["examples"] == 196
    # The importance-weighted bound is tighter than the ELBO: NLL <= -ELBO (up to sampling noise).
    assert metrics["nll"] <= -metrics["elbo"] + 1.0
    from genkit.runtime.run_folder import RunFolder

    model = RunFolder(run_dir).load_model()
    ids = model.preprocessor.tokenize(["red apple", "blue car"])
    mean, _ = model.prior(model.condition_of(ids), None)
    assert np.abs(mean.numpy()[0] - mean.numpy()[1]).max() > 1e-6

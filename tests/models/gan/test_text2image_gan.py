"""text2image-gan: the matching-aware loss, text that conditions the images, prompts with unknown words on the
command line, evaluation with the shipped scorers, exports within parity and the edge app's --prompt."""

from __future__ import annotations

import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from conftest import read_json, run_cli
from genkit.config import TrainConfig, parse_overrides
from genkit.models.gan.gan_losses import LOSSES, discriminator_loss, matching_aware_discriminator_loss
from genkit.registry import get_model_entry

TINY = list(get_model_entry("text2image-gan").tiny_overrides)


def _logits(*values):
    return tf.constant([[v] for v in values], tf.float32)


@pytest.mark.parametrize("loss", LOSSES)
def test_matching_aware_loss_counts_a_real_image_with_the_wrong_text_as_fake(loss):
    real, fake = _logits(1.5, -0.5), _logits(-1.0, 0.3)
    low, high = _logits(-2.0, -2.0), _logits(2.0, 2.0)
    plain = discriminator_loss(loss, real, fake)
    # No weight on the mismatched pairs: the plain loss.
    np.testing.assert_allclose(matching_aware_discriminator_loss(loss, real, fake, high, mismatch_weight=0.0), plain, rtol=1e-6)
    # A discriminator that calls mismatched pairs real pays more than one that calls them fake.
    assert np.all(matching_aware_discriminator_loss(loss, real, fake, high) > matching_aware_discriminator_loss(loss, real, fake, low))


def test_matching_aware_hinge_loss_has_the_known_value():
    # real 2 (no hinge loss), generated -2 (none), mismatched 0: relu(1 + 0) = 1, weighted 0.5.
    value = matching_aware_discriminator_loss("hinge", _logits(2.0), _logits(-2.0), _logits(0.0), mismatch_weight=0.5)
    np.testing.assert_allclose(value, [0.5])


def _build(overrides=()):
    entry = get_model_entry("text2image-gan")
    config = entry.config_class.from_dict(parse_overrides([*TINY, *overrides]))
    data, config = entry.model_class.prepare_data(config, TrainConfig.from_dict({"dataset": "embedded"}))
    keras.utils.set_random_seed(0)
    model = entry.model_class.from_hyperparameters(config)
    model.compile_for_training(config, seed=0)
    return model, data, config


def test_the_mismatched_pairs_change_the_discriminators_update_and_the_kl_term_is_tracked():
    updates = {}
    for weight in (0.0, 0.5):
        model, data, _ = _build([f"mismatch_weight={weight}"])
        batch = next(iter(model.training_dataset(data, 16, shuffle_seed=0)))
        logs = model.train_step(batch)
        assert float(logs["condition_kl"]) > 0  # conditioning augmentation's KL joins the generator's loss
        updates[weight] = [v.numpy() for v in model.discriminator.trainable_variables]
    assert any(not np.allclose(a, b) for a, b in zip(updates[0.0], updates[0.5]))


def test_config_fills_vocabulary_and_sample_prompts_from_the_data():
    model, data, config = _build()
    assert len(config.vocabulary) > 1000 and tuple(config.input_types) == ("image", "text")
    validation_names = data.first_texts("validation", "text")
    assert list(config.sample_prompts) == list(dict.fromkeys(validation_names))[:16]
    assert model.sample_prompts == tuple(config.sample_prompts)


def test_images_depend_on_the_words_and_an_unknown_word_is_read_not_dropped():
    model, _, _ = _build()
    z = np.random.default_rng(0).standard_normal((2, model.latent_dim)).astype(np.float32)

    def images(text):
        return model.images_of(np.array([text, text], dtype=object), z)

    assert np.abs(images("red apple") - images("green apple")).max() > 1e-6
    # Two different unknown words both read as [UNK]: the same images; dropping the word would equal "apple".
    np.testing.assert_array_equal(images("zebraqq apple"), images("qqqqq apple"))
    assert np.abs(images("zebraqq apple") - images("apple")).max() > 1e-6
    assert model.unknown_words(["Zebraqq apple, qqqqq!"]) == ["zebraqq", "qqqqq"]


@pytest.fixture(scope="module")
def t2i_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("runs") / "text2image-gan"
    flags = [flag for item in TINY for flag in ("--set", item)]
    run_cli("train", "text2image-gan", "--epochs", 1, "--batch-size", 64, "--out", run_dir, "--quiet", *flags)
    return run_dir


@pytest.mark.slow
def test_sample_reports_unknown_prompt_words_and_writes_the_grid(t2i_run, tmp_path):
    result = run_cli("sample", t2i_run, "--prompt", "red zebraqq apple", "-n", 4, "--out", tmp_path / "grid.png")
    assert "not in the model's vocabulary, read as the unknown word: zebraqq" in result.stderr
    assert (tmp_path / "grid.png").stat().st_size > 0
    run_cli("sample", t2i_run, "--prompt", "red apple", "-n", 3, "--seed", 4, "--out", tmp_path / "a.npy")
    run_cli("sample", t2i_run, "--prompt", "red apple", "-n", 3, "--seed", 4, "--out", tmp_path / "b.npy")
    np.testing.assert_array_equal(np.load(tmp_path / "a.npy"), np.load(tmp_path / "b.npy"))
    empty = run_cli("sample", t2i_run, "--prompt", "   ", "-n", 2, "--out", tmp_path / "c.png", check=False)
    assert empty.returncode == 2 and "--prompt: has no words" in empty.stderr and "Traceback" not in empty.stderr
    label = run_cli("sample", t2i_run, "--label", 3, "-n", 2, "--out", tmp_path / "d.png", check=False)
    assert label.returncode == 2 and "--label: not an option of 'text2image-gan'" in label.stderr


def test_bad_settings_are_one_line_naming_the_field():
    result = run_cli("train", "text2image-gan", "--set", "mismatch_weight=1", "--epochs", 1, check=False)
    assert result.returncode == 2 and "mismatch_weight" in result.stderr and "[0, 1)" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_evaluate_scores_fid_r_precision_and_subgroups_with_the_ceiling_and_floor(t2i_run):
    run_cli("evaluate", t2i_run)
    metrics = read_json(t2i_run / "metrics.json")
    for key in ("fid", "kid", "precision", "recall", "r_precision", "subgroup_accuracy"):
        for prefix in ("", "ceiling_real_images_", "floor_retrieval_"):
            assert np.isfinite(metrics[prefix + key]), prefix + key
    assert metrics["examples"] == 196 and metrics["r_precision_candidates"] == 100
    # The real images with their own descriptions: the shipped scorers see far above chance (1 in 100, 1 in 99).
    assert metrics["ceiling_real_images_r_precision"] > 0.1
    assert metrics["ceiling_real_images_subgroup_accuracy"] > 0.3
    assert metrics["ceiling_real_images_fid"] < metrics["fid"]
    wrong = run_cli("evaluate", t2i_run, "--dual-encoder", t2i_run, check=False)
    assert wrong.returncode == 2 and "R-precision needs a dual-encoder run" in wrong.stderr
    grey = run_cli("evaluate", t2i_run, "--features", "fashion_mnist", check=False)
    assert grey.returncode == 2 and "takes [28, 28, 1] images" in grey.stderr


@pytest.mark.slow
def test_exports_match_keras_and_the_edge_app_draws_the_prompt_as_genkit_does(t2i_run, tmp_path):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "apps"))
    from test_apps import APPS_PYTHON, run_app

    import exporters

    exporters.export(t2i_run, "all", out=tmp_path / "exports", verbose=False, parity_samples=16, latency_repeats=2)
    exporters.export(t2i_run, "tflite", "int8", out=tmp_path / "exports", verbose=False, parity_samples=16,
                     quality_samples=64, latency_repeats=2)
    for label in ("tflite", "onnx"):
        report = read_json(tmp_path / "exports" / label / "export_report.json")
        assert set(report["signatures"]) == {"generate_from_ids"}, label
        assert report["signatures"]["generate_from_ids"]["parity"]["passed"], label
        if label == "tflite":
            assert report["signatures"]["generate_from_ids"]["flex_ops"] == []
    quality = read_json(tmp_path / "exports" / "tflite-int8" / "export_report.json")["signatures"]["generate_from_ids"]["quality"]
    assert {"fid_delta", "r_precision_delta", "keras_subgroup_accuracy"} <= set(quality), quality
    serving = read_json(tmp_path / "exports" / "savedmodel" / "genkit.json")["signatures"]
    assert serving["serving_default"]["inputs"]["text"]["dtype"] == "string"
    if not APPS_PYTHON.exists():
        pytest.skip("no .venv-apps")
    run_cli("sample", t2i_run, "--prompt", "red zebraqq apple", "-n", 5, "--seed", 2, "--out", tmp_path / "genkit.npy")
    expected = np.load(tmp_path / "genkit.npy")
    for label, runtime in (("tflite", "litert"), ("onnx", "onnx")):
        result = run_app(APPS_PYTHON, "generate_images.py", tmp_path / "exports" / label, "--prompt", "red zebraqq apple",
                         "-n", 5, "--seed", 2, "--runtime", runtime, "--out", tmp_path / f"{label}.npy")
        assert "read as the unknown word: zebraqq" in result.stderr
        np.testing.assert_allclose(np.load(tmp_path / f"{label}.npy"), expected, atol=1e-4)
    missing = run_app(APPS_PYTHON, "generate_images.py", tmp_path / "exports" / "onnx", "--out", tmp_path / "x.png", check=False)
    assert missing.returncode == 2 and "pass --prompt TEXT" in missing.stderr and "Traceback" not in missing.stderr

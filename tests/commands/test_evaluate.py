"""``genkit evaluate`` end to end: metrics.json of a trained run, and its user errors (one line, exit 2)."""

import json
import shutil

import numpy as np
import pytest

from conftest import read_json, run_cli, run_genkit

IMAGE_METRIC_KEYS = {"fid", "kid", "kid_std", "precision", "recall", "num_samples", "features"}


def _assert_user_error(process, *fragments):
    assert process.returncode == 2, process.stderr
    lines = process.stderr.strip().splitlines()
    assert len(lines) == 1, process.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.fixture
def run_copy(trained_run, tmp_path):
    """A private copy of the shared DCGAN run (evaluate writes metrics.json into the run folder)."""
    return shutil.copytree(trained_run, tmp_path / "run")


def test_evaluate_writes_metrics_json_and_prints_a_table(run_copy):
    process = run_cli("evaluate", run_copy)
    metrics = read_json(run_copy / "metrics.json")
    assert IMAGE_METRIC_KEYS <= set(metrics)
    assert metrics["model"] == "dcgan" and metrics["features"] == "fashion_mnist" and metrics["split"] == "test"
    assert metrics["num_samples"] == 64 and metrics["num_reference_samples"] == 64  # the fixture's 64 test images
    assert metrics["fid"] > 0 and 0 <= metrics["precision"] <= 1 and 0 <= metrics["recall"] <= 1
    assert metrics["kid_std"] >= 0
    lines = process.stdout.strip().splitlines()
    assert any(line.split()[:1] == ["fid"] for line in lines), process.stdout
    assert not [p for p in run_copy.rglob(".*tmp*")]

    # Seeded: the same command gives the same figures; -n and --seed change them.
    again = run_cli("evaluate", run_copy, "-n", 100, "--seed", 3)
    other = read_json(run_copy / "metrics.json")
    assert other["num_samples"] == 100 and other["seed"] == 3 and other["fid"] != metrics["fid"]
    assert "100" in again.stdout


def test_evaluate_against_a_dataset_without_a_test_split_uses_all_its_images(run_copy, tmp_path):
    from genkit.data import load_image_dataset

    images = load_image_dataset("embedded").test_images[:80]
    np.savez(tmp_path / "only-train.npz", x_train=images)
    run_cli("evaluate", run_copy, "--dataset", f"npz:{tmp_path / 'only-train.npz'}", "-n", 50)
    metrics = read_json(run_copy / "metrics.json")
    assert metrics["num_reference_samples"] == 80 and metrics["split"].startswith("all")

    # The run's own data without a test split (and no --dataset): a clear error.
    metadata = read_json(run_copy / "genkit.json")
    metadata["data"]["name"] = f"npz:{tmp_path / 'only-train.npz'}"
    (run_copy / "genkit.json").write_text(json.dumps(metadata))
    (run_copy / "metrics.json").unlink()
    _assert_user_error(run_cli("evaluate", run_copy, check=False), "has no test split", "--dataset")
    assert not (run_copy / "metrics.json").exists()


@pytest.mark.slow
def test_evaluate_user_errors_are_one_line_with_exit_status_2(run_copy, tmp_path):
    _assert_user_error(run_cli("evaluate", run_copy, "-n", 0, check=False), "-n", ">= 1")
    _assert_user_error(
        run_cli("evaluate", run_copy, "--features", "vgg", check=False),
        "--features vgg: unknown feature extractor", "fashion_mnist, emoji, inception",
    )
    _assert_user_error(
        run_cli("evaluate", run_copy, "--importance-samples", 10, check=False),
        "--importance-samples", "not an option of 'dcgan'",
    )
    _assert_user_error(
        run_genkit("evaluate", run_copy, "--features", "inception", env={"KERAS_HOME": str(tmp_path / "k")}, check=False),
        "--features inception", "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5 was not found",
    )
    _assert_user_error(run_cli("evaluate", tmp_path / "nothing", check=False), "no such run folder")
    assert not (run_copy / "metrics.json").exists()
    (run_copy / "genkit.json").unlink()  # as if training had been killed
    _assert_user_error(run_cli("evaluate", run_copy, check=False), "incomplete run", "--resume")


def test_base_evaluation_metrics_in_python(tiny_npz):
    from genkit.data import load_image_dataset
    from genkit.errors import UserError
    from genkit.models import DCGAN, DCGANConfig

    config = DCGANConfig(
        image_shape=(28, 28, 1), latent_dim=8, projection_filters=16, generator_filters=(8,), discriminator_filters=(8, 16)
    )
    model = DCGAN.from_hyperparameters(config)
    data = load_image_dataset(f"npz:{tiny_npz}")
    metrics = model.evaluation_metrics(data)  # default N: 10,000 capped at the 64 test images
    assert metrics["num_samples"] == 64 and metrics["features"] == "fashion_mnist"
    assert model.evaluation_metrics(data, num_samples=70, seed=1, features="fashion_mnist")["num_samples"] == 70
    np.testing.assert_allclose(  # batch by batch, the same images as generate_samples
        model.evaluation_samples(7, seed=2, batch_size=3), model.generate_samples(7, seed=2), atol=1e-6
    )
    with pytest.raises(UserError, match="--importance-samples: not an option of 'dcgan' models"):
        model.evaluation_metrics(data, importance_samples=100)
    no_test = load_image_dataset("embedded")
    no_test.test_images = None
    with pytest.raises(UserError, match="embedded: has no test split"):
        model.evaluation_metrics(no_test)
    # The samples come from the moving average of the generator when the model keeps one.
    generator = getattr(model, "sampling_generator", model.generator)
    generator.set_weights([np.full_like(w, np.nan) for w in generator.get_weights()])
    with pytest.raises(UserError, match="dcgan: the model generates NaN"):
        model.evaluation_metrics(data)

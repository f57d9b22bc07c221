"""Image encoders of paired-data models: a keras.applications backbone with the user's own weights file."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from genkit.config import TrainConfig, parse_overrides
from genkit.errors import UserError
from genkit.registry import get_model_entry
from genkit.tasks.modality_encoders import image_encoder
from genkit.tasks.paired_config import PairedModelConfig

BACKBONE = "MobileNetV2"


def _config(**fields) -> PairedModelConfig:
    return PairedModelConfig.from_dict({"width": 8, "image_backbone": BACKBONE, **fields})


def _backbone(encoder) -> keras.Model:
    return next(layer for layer in encoder.layers if isinstance(layer, keras.Model))


@pytest.fixture(scope="module")
def notop_weights(tmp_path_factory):
    """A MobileNetV2-without-top weights file (as a user downloads one), of a network seeded differently."""
    keras.utils.set_random_seed(7)
    network = keras.applications.MobileNetV2(include_top=False, weights=None, input_shape=(32, 32, 3), pooling="avg")
    path = tmp_path_factory.mktemp("weights") / "mobilenet_v2_notop.weights.h5"
    network.save_weights(path)
    return path, [w.numpy() for w in network.weights]


def test_the_backbone_holds_the_weights_of_the_users_file(notop_weights):
    path, expected = notop_weights
    keras.utils.set_random_seed(0)
    encoder = image_encoder(_config(image_shape=(32, 32, 3), image_backbone_weights=str(path)), "image")
    backbone = _backbone(encoder)
    assert len(backbone.weights) == len(expected)
    for weight, value in zip(backbone.weights, expected):
        np.testing.assert_array_equal(weight.numpy(), value, err_msg=weight.path)
    images = np.random.default_rng(1).uniform(size=(2, 32, 32, 3)).astype(np.float32)
    # The encoder scales [0, 1] images to MobileNetV2's [-1, 1] before the backbone.
    expected_embedding = encoder.get_layer("projection")(backbone(images * 2 - 1))
    np.testing.assert_allclose(np.asarray(encoder(images)), np.asarray(expected_embedding), rtol=1e-5, atol=1e-5)


def test_grey_images_enter_as_three_equal_channels():
    keras.utils.set_random_seed(0)
    encoder = image_encoder(_config(image_shape=(32, 32, 1)), "image")
    grey = np.random.default_rng(2).uniform(size=(2, 32, 32, 1)).astype(np.float32)
    expected_embedding = encoder.get_layer("projection")(_backbone(encoder)(np.repeat(grey, 3, axis=-1) * 2 - 1))
    np.testing.assert_allclose(np.asarray(encoder(grey)), np.asarray(expected_embedding), rtol=1e-5, atol=1e-5)


def test_bad_backbone_settings_are_one_line_naming_the_field(tmp_path):
    with pytest.raises(UserError, match="field 'image_backbone_weights' must be the path of a weights file without the top"):
        _config(image_backbone_weights="imagenet")
    with pytest.raises(UserError, match="field 'image_backbone' must be a keras.applications network among MobileNet, "):
        _config(image_backbone="AlexNet")
    with pytest.raises(UserError, match="field 'image_backbone_weights' needs image_backbone"):
        PairedModelConfig.from_dict({"image_backbone_weights": "w.h5"})
    with pytest.raises(UserError, match=r"image_backbone_weights: file not found: .*missing.h5"):
        image_encoder(_config(image_shape=(32, 32, 3), image_backbone_weights=str(tmp_path / "missing.h5")), "image")
    other = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    other.save_weights(tmp_path / "dense.weights.h5")
    with pytest.raises(UserError, match=r"image_backbone_weights: .*dense.weights.h5 does not fit MobileNetV2 without its top"):
        image_encoder(_config(image_shape=(32, 32, 3), image_backbone_weights=str(tmp_path / "dense.weights.h5")), "image")
    with pytest.raises(UserError, match="image_backbone: MobileNetV2 cannot take 16x16 images .*; set image_size"):
        image_encoder(_config(image_shape=(16, 16, 3)), "image")
    with pytest.raises(UserError, match="takes RGB or grey images; input 'image' has 4 channels"):
        image_encoder(_config(image_shape=(32, 32, 4)), "image")
    from conftest import run_cli

    failed = run_cli("train", "fusion-classifier", "--set", f"image_backbone={BACKBONE}", "--set",
                     f"image_backbone_weights={tmp_path / 'missing.h5'}", "--out", tmp_path / "run", check=False)
    assert failed.returncode == 2 and failed.stderr.strip().splitlines() == [
        f"genkit train: error: image_backbone_weights: file not found: {tmp_path / 'missing.h5'}"
    ]
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("trainable", [True, False])
def test_a_fusion_classifier_fine_tunes_or_freezes_its_backbone(tiny_manifest, notop_weights, trainable):
    entry = get_model_entry("fusion-classifier")
    overrides = [*entry.tiny_overrides, f"image_backbone={BACKBONE}", f"image_backbone_weights={notop_weights[0]}",
                 f"image_backbone_trainable={str(trainable).lower()}"]
    config = entry.config_class.from_dict(parse_overrides(overrides))
    data, config = entry.model_class.prepare_data(config, TrainConfig.from_dict({"dataset": f"manifest:{tiny_manifest}"}))
    keras.utils.set_random_seed(0)
    model = entry.model_class.from_hyperparameters(config)
    model.compile_for_training(config, seed=0)
    backbone = _backbone(model.network.get_layer("image_encoder"))
    projection = model.network.get_layer("image_encoder").get_layer("projection")
    before = [w.numpy().copy() for w in backbone.trainable_weights or backbone.weights]
    projection_before = projection.kernel.numpy().copy()
    model.train_step(next(iter(model.training_dataset(data, 16, shuffle_seed=0))))
    after = [w.numpy() for w in backbone.trainable_weights or backbone.weights]
    assert not np.array_equal(projection.kernel.numpy(), projection_before)
    assert bool(backbone.trainable_weights) == trainable
    changed = [not np.array_equal(a, b) for a, b in zip(before, after)]
    assert all(changed) if trainable else not any(changed)


@pytest.mark.slow
def test_a_backbone_run_reloads_and_exports_to_builtin_tflite_and_onnx_within_parity(tmp_path, tiny_manifest, notop_weights):
    import exporters
    from conftest import read_json, run_cli

    run_dir = tmp_path / "run"
    flags = [f"image_backbone={BACKBONE}", f"image_backbone_weights={notop_weights[0]}",
             *get_model_entry("fusion-classifier").tiny_overrides]
    run_cli("train", "fusion-classifier", "--dataset", f"manifest:{tiny_manifest}", "--epochs", 1, "--batch-size", 16,
            "--out", run_dir, "--quiet", *[part for flag in flags for part in ("--set", flag)])
    for format_name in ("tflite", "onnx"):
        exporters.export(run_dir, format_name, out=tmp_path / "exports", verbose=False, parity_samples=8,
                         quality_samples=16, latency_repeats=2)
        report = read_json(tmp_path / "exports" / format_name / "export_report.json")["signatures"]["classify_encoded"]
        assert report["parity"]["passed"] is True, report["parity"]
        assert report.get("flex_ops", []) == []
    assert read_json(run_dir / "genkit.json")["config"]["image_backbone"] == BACKBONE

"""``genkit explain``: each family's explanation methods on tiny trained runs, the index, and bad input.

Heat maps are checked where they are made (the ``.npz`` written beside each figure): the input's spatial
size, finite, in [0, 1] and not constant.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from conftest import run_cli
from genkit.commands.explain import explain
from genkit.registry import get_model_entry
from genkit.commands.train import train


def _train(tmp_path_factory, name: str, dataset: str, extra=()):
    run_dir = tmp_path_factory.mktemp("explain") / name
    overrides = [*get_model_entry(name).tiny_overrides, *extra]
    train(name, overrides=overrides, out=run_dir, dataset=dataset, epochs=1, batch_size=32, verbose=0)
    return run_dir


def _explained(run_dir, **options):
    """(index, {figure file: its arrays}) of ``genkit explain`` on ``run_dir``; every PNG decodes."""
    index = explain(run_dir, num_samples=4, **options)
    folder = run_dir / "explanations"
    assert json.loads((folder / "explanations.json").read_text()) == index
    arrays = {}
    for figure in index["figures"]:
        with Image.open(folder / figure["file"]) as image:
            assert image.format == "PNG" and min(image.size) > 100
        assert figure["title"] and figure["description"]
        with np.load(folder / figure["arrays"]) as values:
            arrays[figure["file"]] = {key: values[key] for key in values.files}
    return index, arrays


def _assert_heat_maps(maps: np.ndarray, images: np.ndarray, every_map_varies: bool = True):
    assert maps.shape == images.shape[:3], "a heat map per image, of its spatial size"
    assert np.isfinite(maps).all() and maps.min() >= 0.0 and maps.max() <= 1.0
    assert maps.std() > 0.0
    if every_map_varies:
        assert all(single.std() > 0.0 for single in maps), "a constant heat map"


@pytest.fixture(scope="module")
def dcgan_run(tmp_path_factory, tiny_npz):
    return _train(tmp_path_factory, "dcgan", f"npz:{tiny_npz}")


@pytest.fixture(scope="module")
def cgan_run(tmp_path_factory, tiny_npz):
    return _train(tmp_path_factory, "cgan", f"npz:{tiny_npz}")


def test_gan_discriminator_saliency_and_cams(dcgan_run):
    index, arrays = _explained(dcgan_run)
    assert [figure["method"] for figure in index["figures"]] == [
        "classifier-cam", "discriminator-saliency", "discriminator-saliency", "discriminator-cam", "discriminator-cam",
    ]
    assert index["skipped"] == []
    for kind in ("real", "generated"):
        saliency = arrays[f"discriminator_saliency_{kind}.png"]
        for method in ("saliency", "SmoothGrad"):  # |gradient|: never constant on a trained discriminator
            _assert_heat_maps(saliency[method], saliency["images"])
        assert not np.allclose(saliency["saliency"], saliency["SmoothGrad"])
        cams = arrays[f"discriminator_cam_{kind}.png"]
        for method in ("gradcam", "gradcam++"):
            _assert_heat_maps(cams[method], cams["images"], every_map_varies=False)
    # Real test images are in [0, 1], 28x28 grey; generated ones have the model's shape.
    assert arrays["discriminator_saliency_real.png"]["images"].shape == (4, 28, 28, 1)


def test_classifier_cams_on_generated_images_name_the_class_it_sees(dcgan_run):
    index, arrays = _explained(dcgan_run, methods=["classifier-cam"])
    values = arrays["classifier_cam_generated.png"]
    for method in ("gradcam", "gradcam++", "scorecam"):
        _assert_heat_maps(values[method], values["images"], every_map_varies=False)
    from genkit.evaluation import load_feature_extractor

    seen = load_feature_extractor("fashion_mnist").predict_labels(values["images"])
    np.testing.assert_array_equal(values["classes"], seen)
    assert "fashion_mnist" in index["figures"][0]["title"]


def test_class_grid_keeps_the_latent_across_classes(cgan_run):
    index, arrays = _explained(cgan_run, methods=["class-grid", "class-cam"])
    grid = arrays["class_grid.png"]
    assert grid["images"].shape[:2] == (10, 4) and grid["classes"].tolist() == list(range(10))
    assert not np.allclose(grid["images"][0], grid["images"][9]), "the class changes the images"
    assert "shipped classifier labels" in index["figures"][0]["description"]
    cams = arrays["class_cam.png"]
    assert cams["classes"].tolist() == list(range(10))
    for method in ("gradcam", "gradcam++", "scorecam"):
        _assert_heat_maps(cams[method], cams["images"], every_map_varies=False)
    # The class-conditional discriminator's maps take the test images' own labels.
    discriminator = _explained(cgan_run, methods=["discriminator-saliency"])[1]
    _assert_heat_maps(discriminator["discriminator_saliency_real.png"]["SmoothGrad"],
                      discriminator["discriminator_saliency_real.png"]["images"])


def test_vae_latent_kl_traversals_reconstructions_interpolations(tmp_path_factory, tiny_npz):
    run_dir = _train(tmp_path_factory, "vae", f"npz:{tiny_npz}")
    index, arrays = _explained(run_dir)
    methods = {figure["method"] for figure in index["figures"]}
    assert methods == {"classifier-cam", "reconstructions", "interpolations", "latent-kl", "latent-traversals"}
    kl = arrays["latent_kl.png"]["kl"]
    assert kl.shape == (4,) and np.isfinite(kl).all() and (kl >= 0).all()  # tiny latent_dim 4
    traversal = arrays["latent_traversals.png"]
    assert traversal["images"].shape[:2] == (4, 9)
    np.testing.assert_array_equal(traversal["dimensions"], np.argsort(-kl))  # most informative first
    assert all(not np.allclose(row[0], row[-1]) for row in traversal["images"]), "sweeping a dimension changes the image"
    reconstructions = arrays["reconstructions.png"]
    assert reconstructions["reconstructions"].shape == reconstructions["images"].shape
    interpolations = arrays["interpolations.png"]["images"]
    assert interpolations.shape[1] == 11  # start, 9 decodes, end


def test_autoencoder_reconstructions_and_interpolations(tmp_path_factory, tiny_npz):
    run_dir = _train(tmp_path_factory, "ae", f"npz:{tiny_npz}")
    index, arrays = _explained(run_dir, methods=["reconstructions", "interpolations"])
    table = arrays["interpolations.png"]["images"]
    np.testing.assert_allclose(table[:, 0], arrays["reconstructions.png"]["images"][0 : 2 * len(table) : 2])


def test_language_model_token_saliency_and_next_token(tmp_path_factory, tiny_text):
    run_dir = _train(tmp_path_factory, "char-lstm", f"text:{tiny_text}")
    index, arrays = _explained(run_dir)
    saliency = arrays["token_saliency.png"]
    assert saliency["saliency"].shape == saliency["tokens"].shape == (4, 24)
    values = saliency["saliency"]
    assert np.isfinite(values).all() and all(row.std() > 0 for row in values)
    probabilities = arrays["next_token.png"]["probabilities"]
    assert probabilities.shape == (24, 5)
    assert (np.diff(probabilities, axis=1) <= 0).all() and (probabilities.sum(axis=1) <= 1.0 + 1e-5).all()


@pytest.mark.slow
def test_captioner_attention_and_fusion_modalities(tmp_path_factory, tiny_manifest):
    captioner = _train(tmp_path_factory, "captioner", f"manifest:{tiny_manifest}")
    index, arrays = _explained(captioner)
    attention = arrays["caption_attention.png"]
    assert attention["images"].shape[0] == 4
    for key in (key for key in attention if key.startswith("attention_")):
        weights = attention[key]
        np.testing.assert_allclose(weights.sum(axis=1), 1.0, atol=1e-4)  # a distribution over the cells per word

    fusion = _train(tmp_path_factory, "fusion-classifier", f"manifest:{tiny_manifest}", ["fusion=weighted"])
    index, arrays = _explained(fusion)
    assert {figure["method"] for figure in index["figures"]} == {"input-saliency", "modality-importance", "modality-weights"}
    weights = arrays["modality_weights.png"]["weights"]
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, atol=1e-4)
    importance = arrays["modality_importance.png"]
    assert importance["without"].shape == importance["alone"].shape == (3,)  # image, text, audio
    # Each input's saliency for the predicted class: image maps (Grad-CAM too) and spectrogram maps of their own size,
    # word saliency on the words only (padding stays 0).
    image = arrays["input_saliency_image.png"]
    for method in ("saliency", "smoothgrad", "gradcam"):
        _assert_heat_maps(image[method], image["inputs"], every_map_varies=method != "gradcam")
    audio = arrays["input_saliency_audio.png"]
    assert audio["saliency"].shape == audio["inputs"].shape[:1] + audio["inputs"].shape[:0:-1]  # [N, mel, frames]
    assert np.isfinite(audio["smoothgrad"]).all() and all(m.std() > 0 for m in audio["smoothgrad"])
    text = arrays["input_saliency_text.png"]
    assert text["saliency"].shape == text["ids"].shape and (text["saliency"][text["ids"] == 0] == 0).all()
    assert all(row[ids > 0].max() == 1.0 for row, ids in zip(text["saliency"], text["ids"]) if (ids > 0).sum() > 1)


@pytest.mark.slow
def test_text_to_image_prompt_grid_and_cams(tmp_path_factory, tiny_manifest):
    run_dir = _train(tmp_path_factory, "text2image-vae", f"manifest:{tiny_manifest}")
    index, arrays = _explained(run_dir, methods=["prompt-grid", "prompt-cam"])
    grid = arrays["prompt_grid.png"]
    texts, images = grid["texts"], grid["images"]
    assert images.shape[:2] == (4, 5) and len(texts) == 4  # the real image, then 4 latent draws per description
    assert all(not np.allclose(images[0, column], images[1, column]) for column in range(1, 5)), "the words change the image"
    assert not np.allclose(images[0, 1], images[0, 2]), "the latent changes the image"
    cams = arrays["prompt_cam.png"]
    for method in ("gradcam", "gradcam++", "scorecam"):
        _assert_heat_maps(cams[method], cams["images"], every_map_varies=False)
    assert "emoji" in index["figures"][1]["title"]


def test_command_line(dcgan_run, tmp_path):
    listing = run_cli("explain", dcgan_run, "--list-methods")
    assert "discriminator-saliency:" in listing.stdout and "classifier-cam:" in listing.stdout

    out = tmp_path / "figures"
    result = run_cli("explain", dcgan_run, "--out", out, "-n", 3, "--method", "discriminator-cam")
    assert f"wrote 2 figures and explanations.json to {out}" in result.stdout
    assert sorted(p.name for p in out.iterdir()) == [
        "discriminator_cam_generated.npz", "discriminator_cam_generated.png", "discriminator_cam_real.npz",
        "discriminator_cam_real.png", "explanations.json",
    ]
    run_cli("explain", dcgan_run, "--out", out, "-n", 3, "--method", "classifier-cam")  # replaces its own folder whole
    assert sorted(p.name for p in out.iterdir()) == ["classifier_cam_generated.npz", "classifier_cam_generated.png", "explanations.json"]


@pytest.mark.parametrize("arguments, message", [
    (["--method", "latent-traversals"], "--method latent-traversals: not a method for 'dcgan' models; allowed: classifier-cam,"),
    (["-n", "0"], "-n"),
    (["--out", "{missing}/figures"], "does not exist"),
    (["--out", "{occupied}"], "is not a genkit explanations folder"),
])
def test_bad_input_is_one_line_with_exit_status_2(dcgan_run, tmp_path, arguments, message):
    occupied = tmp_path / "occupied"
    occupied.mkdir()
    (occupied / "mine.txt").write_text("keep me")
    arguments = [a.format(missing=tmp_path / "missing", occupied=occupied) for a in arguments]
    result = run_cli("explain", dcgan_run, *arguments, check=False)
    assert result.returncode == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert (occupied / "mine.txt").read_text() == "keep me"


def test_a_model_with_nothing_to_explain_is_one_line(tmp_path_factory, tiny_manifest):
    run_dir = _train(tmp_path_factory, "dual-encoder", f"manifest:{tiny_manifest}")
    result = run_cli("explain", run_dir, check=False)
    assert result.returncode == 2
    assert result.stderr.strip().endswith("'dual-encoder' models have nothing genkit explain can show yet")
    assert len(result.stderr.strip().splitlines()) == 1 and not (run_dir / "explanations").exists()

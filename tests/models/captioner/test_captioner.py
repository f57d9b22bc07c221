"""captioner: teacher forcing learns, decoding equals a hand-unrolled step loop, evaluation with its floors, the
command line (sample, attention maps, bad files), string serving without genkit, exports and the edge app."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from conftest import read_json, run_cli, run_python
from genkit.config import TrainConfig, parse_overrides
from genkit.models.captioner.caption_decoder import BOUNDARY_ID, UNKNOWN_ID
from genkit.registry import get_model_entry

TINY = list(get_model_entry("captioner").tiny_overrides)
# Small enough for seconds, big enough to learn the 72 tiny captions' first words.
SMALL = [*TINY, "image_filters=[8,16]", "width=32", "units=32", "embedding_dim=16", "attention_units=16", "learning_rate=0.01",
         "dropout=0.0"]


def _build(tiny_manifest, overrides=SMALL):
    entry = get_model_entry("captioner")
    config = entry.config_class.from_dict(parse_overrides(overrides))
    data, config = entry.model_class.prepare_data(config, TrainConfig.from_dict({"dataset": f"manifest:{tiny_manifest}"}))
    keras.utils.set_random_seed(0)
    model = entry.model_class.from_hyperparameters(config)
    model.compile_for_training(config, seed=0)
    return model, data


def _cross_entropy(model, data, image_order=None):
    """Mean teacher-forced cross-entropy per caption of the training split (first references), each caption read
    with its own image or, given ``image_order``, with another one."""
    arrays = model.split_arrays(data, "train")
    images = arrays["image"] if image_order is None else arrays["image"][image_order]
    encoded = model.encode_batch({"image": tf.constant(images), "text": tf.constant(list(arrays["text"]))})
    return float(tf.reduce_mean(model(encoded)))


@pytest.fixture(scope="module")
def trained(tiny_manifest):
    model, data = _build(tiny_manifest)
    before = _cross_entropy(model, data)
    step = tf.function(model.train_step)
    for epoch in range(30):
        for batch in model.training_dataset(data, 16, shuffle_seed=epoch):
            step(batch)
    return model, data, (before, _cross_entropy(model, data))


@pytest.mark.slow
def test_teacher_forcing_learns_the_training_captions(trained):
    model, data, (before, after) = trained
    assert model.preprocessor.input_names == ["image", "text"]
    assert after < 0.5 * before, (before, after)
    data.evaluation_split = "train"
    metrics = model.evaluation_metrics(data)
    for key in ("bleu_1", "bleu_2", "bleu_3", "bleu_4", "cider_d", "perplexity", "exact_match", "vocabulary_usage",
                "floor_constant_bleu_1", "floor_nearest_neighbour_cider_d"):
        assert key in metrics and np.isfinite(metrics[key]), key
    # On its own training images the nearest neighbour is the image itself: its first reference, exactly.
    assert metrics["floor_nearest_neighbour_exact_match"] == 1.0
    assert metrics["perplexity"] < model.vocabulary_size  # better than uniform, over every reference
    # The decoder reads the picture: captions are likelier with their own images than with shuffled ones.
    shuffled = np.random.default_rng(0).permutation(data.num_examples("train"))
    assert after < _cross_entropy(model, data, shuffled) - 0.1


def test_greedy_decoding_equals_a_hand_unrolled_step_loop(trained):
    model, data, _ = trained
    images = data.split("train")["image"][:12].astype(np.float32) / 255.0
    features = model.encoder(images)
    states = list(model.initial_state(features))
    token = np.full(len(images), BOUNDARY_ID, np.int32)
    expected, log_probability = [], np.zeros(len(images))
    done = np.zeros(len(images), bool)
    for _ in range(model.max_length):
        logits, *outputs = model.step_network([tf.constant(token), features, *states])
        log_softmax = tf.nn.log_softmax(logits).numpy()
        log_softmax[:, UNKNOWN_ID] = -np.inf
        token = np.argmax(log_softmax, axis=1).astype(np.int32)
        log_probability += np.where(done, 0, log_softmax[np.arange(len(images)), token])
        expected.append(np.where(done, BOUNDARY_ID, token))
        done |= token == BOUNDARY_ID
        states = outputs[:-1]
    expected = np.stack(expected, axis=1)
    parameters = model.default_decoding(len(images), beam_width=1)
    tokens, lengths, scores, _ = model.decode(tf.constant(images), **parameters)
    np.testing.assert_array_equal(tokens.numpy(), expected)
    np.testing.assert_allclose(scores.numpy(), log_probability, rtol=1e-4)
    assert any(length > 0 for length in lengths.numpy())
    # The beam search never scores below greedy (its log-probability with no length penalty).
    wider = model.decode(tf.constant(images), **model.default_decoding(len(images), beam_width=4))[2].numpy()
    assert np.all(wider >= scores.numpy() - 1e-4)


def test_sampling_is_seeded_and_temperature_zero_is_the_beam_search(trained):
    model, data, _ = trained
    images = data.split("train")["image"][:8]
    first = model.caption_arrays(images, seed=3, temperature=1.0, top_k=5)["captions"]
    assert first == model.caption_arrays(images, seed=3, temperature=1.0, top_k=5)["captions"]
    greedy = model.caption_arrays(images, temperature=0.0, beam_width=1)
    assert greedy["captions"] == model.caption_arrays(images, beam_width=1)["captions"]
    assert all(len(a) == len(words) for a, words in zip(greedy["attention"], greedy["words"]))
    for weights in greedy["attention"]:
        np.testing.assert_allclose(weights.sum(axis=-1), 1.0, atol=1e-5)


@pytest.fixture(scope="module")
def captioner_run(tmp_path_factory, tiny_manifest):
    run_dir = tmp_path_factory.mktemp("runs") / "captioner"
    flags = [flag for item in SMALL for flag in ("--set", item)]
    run_cli("train", "captioner", "--dataset", f"manifest:{tiny_manifest}", "--epochs", 25, "--batch-size", 16,
            "--out", run_dir, "--quiet", *flags)
    return run_dir


@pytest.fixture(scope="module")
def image_files(tmp_path_factory, tiny_manifest):
    """Three manifest images, the first again as RGBA and as grey, and a file that is no image."""
    from PIL import Image

    folder = tmp_path_factory.mktemp("images")
    rows = [json.loads(line) for line in tiny_manifest.read_text().splitlines()]
    paths = [tiny_manifest.parent / row["image"] for row in rows[:3]]
    Image.open(paths[0]).convert("RGBA").save(folder / "rgba.png")
    Image.open(paths[0]).convert("L").save(folder / "grey.png")
    (folder / "broken.png").write_bytes(b"not an image")
    return {"colour": paths, "rgba": folder / "rgba.png", "grey": folder / "grey.png", "broken": folder / "broken.png"}


@pytest.mark.slow
def test_sample_prints_captions_writes_scores_and_attention_maps(captioner_run, image_files, tmp_path):
    paths = image_files["colour"]
    printed = run_cli("sample", captioner_run, "--images", *paths, "--temperature", 0).stdout.splitlines()
    assert [line.split(": ")[0] for line in printed] == [str(p) for p in paths]
    out = tmp_path / "captions.json"
    run_cli("sample", captioner_run, "--images", *paths, "--beam-width", 3, "--out", out, "--attention-out", tmp_path / "maps")
    captions = read_json(out)["captions"]
    assert [c["image"] for c in captions] == [str(p) for p in paths]
    for caption in captions:
        assert caption["score"] <= 0 and len(caption["attention_maps"]) == len(caption["caption"].split())
        for path in caption["attention_maps"]:
            assert (tmp_path / "maps").joinpath(path.rsplit("/", 1)[-1]).is_file()
    # An RGBA or grey file of an RGB model is converted (alpha dropped, grey repeated), not refused.
    converted = run_cli("sample", captioner_run, "--images", image_files["rgba"], image_files["grey"]).stdout.splitlines()
    assert len(converted) == 2
    bad = run_cli("sample", captioner_run, "--images", paths[0], image_files["broken"], check=False)
    assert bad.returncode == 2 and "broken.png: not a readable image" in bad.stderr and "Traceback" not in bad.stderr
    missing = run_cli("sample", captioner_run, "--images", tmp_path / "nowhere.png", check=False)
    assert missing.returncode == 2 and "file not found" in missing.stderr
    none = run_cli("sample", captioner_run, check=False)
    assert none.returncode == 2 and "--images: required" in none.stderr


@pytest.mark.slow
def test_string_serving_in_a_process_that_never_imports_genkit(captioner_run, image_files, tmp_path):
    from genkit.runtime.run_folder import RunFolder

    model = RunFolder(captioner_run).load_model()
    paths = image_files["colour"]
    files = [p.read_bytes() for p in paths]
    images = model.preprocessor.decode_files({"image_bytes": tf.constant(files)})["image"].numpy()
    expected = model.caption_arrays(images)
    np.save(tmp_path / "images.npy", images)
    code = f"""
import json, sys, numpy as np, tensorflow as tf
served = tf.saved_model.load({str(captioner_run / "serving" / "1")!r})
images = np.load({str(tmp_path / "images.npy")!r})
files = [open(p, "rb").read() for p in {[str(p) for p in paths]!r}]
default = served.signatures["serving_default"](image=tf.constant(images))
from_files = served.signatures["caption_files"](image_bytes=tf.constant(files))
try:
    served.signatures["caption"](image=tf.constant(images), beam_width=tf.zeros([3], tf.int32),
        length_penalty=tf.zeros([3]), temperature=tf.zeros([3]), top_k=tf.zeros([3], tf.int32), top_p=tf.ones([3]),
        seed=tf.zeros([3], tf.int32))
    refused = ""
except tf.errors.InvalidArgumentError as error:
    refused = error.message
try:
    served.signatures["serving_default"](image=tf.zeros([257, *images.shape[1:]]))
    too_many = ""
except tf.errors.InvalidArgumentError as error:
    too_many = error.message
assert "genkit" not in sys.modules
print(json.dumps({{"default": [c.decode() for c in default["captions"].numpy()], "scores": default["scores"].numpy().tolist(),
                  "files": [c.decode() for c in from_files["captions"].numpy()], "refused": refused, "too_many": too_many}}))
"""
    result = json.loads(run_python(code).strip().splitlines()[-1])
    assert result["default"] == expected["captions"] == result["files"]
    np.testing.assert_allclose(result["scores"], expected["scores"], atol=1e-4)
    assert "input beam_width must be in [1, 64]" in result["refused"]
    assert "at most 256 images per request" in result["too_many"]


@pytest.mark.slow
def test_exports_match_keras_and_the_edge_app_reproduces_genkit_captions(captioner_run, image_files, tmp_path):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "apps"))
    from test_apps import APPS_PYTHON, run_app

    if not APPS_PYTHON.exists():
        pytest.skip("no .venv-apps")
    import exporters

    exports = exporters.export(captioner_run, "all", out=tmp_path / "exports", verbose=False, parity_samples=16,
                               quality_samples=48, latency_repeats=2)
    exporters.export(captioner_run, "tflite", "int8", out=tmp_path / "exports", verbose=False, parity_samples=16,
                     quality_samples=48, latency_repeats=2)
    for label in ("tflite", "onnx", "tflite-int8"):
        report = read_json(tmp_path / "exports" / label / "export_report.json")
        assert set(report["signatures"]) == {"encode", "decode_step"}, label
        if label == "tflite-int8":  # the quantised file's cost in the task's own metric
            for name in ("encode", "decode_step"):
                quality = report["signatures"][name]["quality"]
                assert {"cider_d_delta", "bleu_4_delta", "agreement"} <= set(quality), (name, quality)
                assert 0 <= quality["agreement"] <= 1 and quality["num_samples"] > 0
        else:
            assert all(entry["parity"]["passed"] for entry in report["signatures"].values()), label
    assert "serving_default" in read_json(exports["savedmodel"] / "genkit.json")["signatures"]
    paths = [str(p) for p in image_files["colour"]]
    greedy = run_cli("sample", captioner_run, "--images", *paths, "--temperature", 0).stdout
    beam = run_cli("sample", captioner_run, "--images", *paths, "--beam-width", 3).stdout
    for label in ("tflite", "onnx"):
        folder = tmp_path / "exports" / label
        assert run_app(APPS_PYTHON, "caption_image.py", folder, *paths, "--beam-width", 1).stdout == greedy, label
        assert run_app(APPS_PYTHON, "caption_image.py", folder, *paths, "--beam-width", 3).stdout == beam, label
    bad = run_app(APPS_PYTHON, "caption_image.py", tmp_path / "exports" / "onnx", str(image_files["broken"]), check=False)
    assert bad.returncode == 2 and "not a readable image" in bad.stderr and "Traceback" not in bad.stderr


def test_a_dataset_without_text_is_one_clear_error(tiny_manifest):
    result = run_cli("train", "captioner", "--dataset", f"manifest:{tiny_manifest}", "--set", "text_input=audio",
                     "--epochs", 1, check=False)
    assert result.returncode == 2 and "needs an image and a text feature" in result.stderr, result.stderr


@pytest.mark.slow
def test_evaluate_writes_caption_metrics_and_reads_coco_captions_of_another_size(captioner_run, tiny_manifest, tmp_path):
    """``genkit evaluate`` on the run's test split, then on a COCO captions file whose images are 48x48: they are
    resized to the run's 32x32 as they are read."""
    from PIL import Image

    run_cli("evaluate", captioner_run, "--beam-width", 2)
    metrics = read_json(captioner_run / "metrics.json")
    assert metrics["beam_width"] == 2 and metrics["examples"] > 0
    assert {"bleu_1", "bleu_4", "cider_d", "perplexity", "floor_nearest_neighbour_bleu_1"} <= set(metrics)
    rows = [json.loads(line) for line in tiny_manifest.read_text().splitlines()][:10]
    images, annotations = [], []
    for index, row in enumerate(rows):
        Image.open(tiny_manifest.parent / row["image"]).resize((48, 48)).save(tmp_path / f"{index}.png")
        images.append({"id": index, "file_name": f"{index}.png"})
        annotations += [{"id": 100 * index + k, "image_id": index, "caption": text} for k, text in enumerate(row["text"])]
    (tmp_path / "captions.json").write_text(json.dumps({"images": images, "annotations": annotations}))
    printed = run_cli("evaluate", captioner_run, "--dataset", f"coco:{tmp_path / 'captions.json'}").stdout
    assert "cider_d" in printed

"""apps/classify.py: a fusion classifier's (and a dual encoder's) exports run without TensorFlow give Keras' predictions.

The NumPy preprocessing of the app (apps/audio_features.py: WAV reading, resampling, log-mel; apps/classify.py:
the antialiased bilinear resize, text ids) is checked against genkit's TensorFlow code in this environment
(fast); the app itself runs in ``.venv-apps`` (see test_apps.py) on real exports of a tiny trained model and is
compared with the run's model.keras endpoints on the same raw inputs (slow: one training per session).
"""

from __future__ import annotations

import json
import struct
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import run_cli
from test_apps import APPS, apps_python, run_app  # noqa: F401 (apps_python: a fixture)

sys.path.insert(0, str(APPS))
import audio_features  # noqa: E402
import classify  # noqa: E402

# How far the app's probabilities may be from Keras' on the same raw inputs. The app's encoded inputs are Keras':
# images at the export's size bit-identical, word ids identical, log-mel within 1.6e-5 (float64 NumPy against
# float32 TensorFlow), images it resizes within 1.8e-7 of tf.image.resize. Measured on this run's setup (15
# epochs; all 72 manifest rows): max |app - Keras| 2.0e-6 (LiteRT), 1.8e-6 (ONNX Runtime), 1.1e-6 with images
# of other sizes resized by the app -- the log-mel rounding, carried through the audio encoder. 1e-5 leaves 5x
# for other CPUs' kernels and still fails a wrong resize: Pillow's uint8 BILINEAR instead of genkit's moves
# pixels by up to 1/255 and these probabilities by up to 7.9e-5 (2.8e-3 with the image alone).
PROBABILITY_TOLERANCE = 1e-5
TINY_FLAGS = ["width=8", "image_filters=[4]", "embedding_dim=8", "text_units=8", "audio_filters=[4]", "num_mel_bins=8",
              "learning_rate=0.01"]


def set_flags(settings):
    return [flag for setting in settings for flag in ("--set", setting)]


# ---------------------------------------------------------------------------------------------------------------
# The NumPy preprocessing against genkit's (fast)


@pytest.mark.parametrize("args", [(40, 129, 8000, 20.0, 4000.0), (8, 257, 16000, 20.0, 8000.0),
                                  (64, 513, 16000, 125.0, 7600.0), (80, 257, 22050, 0.0, 11025.0)])
def test_mel_matrix_is_tf_signals(args):
    import tensorflow as tf

    expected = tf.signal.linear_to_mel_weight_matrix(*args).numpy()
    matrix = audio_features.mel_weight_matrix(*args)
    assert matrix.dtype == np.float32 and matrix.shape == expected.shape
    # The same float32 operations; only NumPy's and Eigen's float32 log differ (by one step in ~10% of
    # values), which moves a few weights by up to 1.2e-5 (measured); >97% of the entries are bit-identical.
    np.testing.assert_allclose(matrix, expected, rtol=0, atol=2e-5)
    assert np.mean(matrix == expected) > 0.95


@pytest.mark.parametrize("options", [
    {},
    {"sample_rate": 16000, "frame_length": 400, "frame_step": 160, "num_mel_bins": 8},
    {"power": 1.0, "num_mel_bins": 64, "frame_length": 256, "frame_step": 128, "fft_length": 512},
    {"sample_rate": 16000, "lower_edge_hertz": 125.0, "upper_edge_hertz": 7600.0, "log_offset": 1e-3},
])
def test_log_mel_is_genkits_layer(options):
    from genkit.layers.log_mel import LogMelSpectrogram

    layer = LogMelSpectrogram(**options)
    rate = layer.sample_rate
    rng = np.random.default_rng(0)
    time = np.arange(rate) / rate
    waveforms = (0.5 * np.sin(2 * np.pi * rng.uniform(100, 3000, (3, 1)) * time)
                 + 0.3 * rng.uniform(-1, 1, (3, rate))).astype(np.float32)
    waveforms[2, rate // 2 :] = 0  # a zero-padded clip: silent frames give log(log_offset) on both sides
    expected = np.asarray(layer(waveforms))
    features = audio_features.log_mel(waveforms, layer.get_config())
    assert features.shape == expected.shape and features.dtype == np.float32
    # float64 NumPy against float32 TensorFlow: measured <= 1.6e-5 on the log (1.6e-5 relative on the energies).
    np.testing.assert_allclose(features, expected, rtol=0, atol=1e-4)


@pytest.mark.parametrize("source, size", [((64, 64, 3), (32, 32)), ((50, 47, 3), (32, 32)), ((17, 23, 3), (32, 32)),
                                          ((31, 33, 1), (32, 32)), ((128, 96, 3), (8, 8)), ((7, 5, 3), (20, 9))])
def test_resize_is_tf_image_resize_bilinear_antialiased(source, size):
    import tensorflow as tf

    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, source).astype(np.float32) / 255  # noise: the hardest case for a resize
    expected = tf.image.resize(image, size, method="bilinear", antialias=True).numpy()
    resized = classify.resize_antialiased(image, *size)
    assert resized.shape == expected.shape
    np.testing.assert_allclose(resized, expected, rtol=0, atol=1e-6)  # measured <= 1.8e-7: float32 rounding
    assert np.array_equal(classify.resize_antialiased(image, *source[:2]), image)


def _png_modes(rng) -> dict:
    rgb = rng.integers(0, 256, (19, 23, 3), dtype=np.uint8)
    rgb[0, :4] = [[255, 0, 0], [0, 255, 0], [0, 0, 255], [90, 90, 90]]
    grey = rgb[..., 0]
    from PIL import Image

    return {
        "RGB": Image.fromarray(rgb), "RGBA": Image.fromarray(np.dstack([rgb, grey])), "L": Image.fromarray(grey),
        "LA": Image.fromarray(np.dstack([grey, rgb[..., 1]]), "LA"), "P": Image.fromarray(rgb).quantize(37),
        "1": Image.fromarray(grey > 127), "I;16": Image.fromarray(rng.integers(0, 65536, (19, 23), dtype=np.uint16)),
    }


@pytest.mark.parametrize("shape", [(19, 23, 3), (19, 23, 1), (32, 32, 3), (8, 8, 1)])
def test_images_are_classify_files_images(tmp_path, shape):
    """PNGs of every mode read as genkit's classify_files reads them (tf.io.decode_image, resize, clip)."""
    import tensorflow as tf

    from genkit.tasks.paired_preprocessor import PairedPreprocessor

    preprocessor = PairedPreprocessor(["image"], ["image"], image_shape=list(shape))
    for mode, image in _png_modes(np.random.default_rng(3)).items():
        path = tmp_path / f"{mode.replace(';', '')}.png"
        image.save(path)
        expected = preprocessor.decode_files({"image_bytes": tf.constant([path.read_bytes()])})["image"].numpy()[0]
        pixels = classify.load_image(str(path), shape, "--image")
        assert pixels.shape == expected.shape == shape, mode
        if shape[:2] == (19, 23):
            assert np.array_equal(pixels, expected), mode  # no resize: the same pixels
        np.testing.assert_allclose(pixels, expected, rtol=0, atol=1e-6, err_msg=mode)


def test_jpegs_are_decoded_with_the_accurate_idct(tmp_path):
    """Pillow decodes JPEGs as tf.io.decode_jpeg(dct_method="INTEGER_ACCURATE"); TensorFlow's default (used by
    classify_files) is the fast IDCT, a few levels apart (measured: up to 5 of 255 on noise)."""
    import tensorflow as tf
    from PIL import Image

    rgb = np.random.default_rng(4).integers(0, 256, (24, 24, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(tmp_path / "x.jpg", quality=90)
    data = (tmp_path / "x.jpg").read_bytes()
    accurate = tf.io.decode_jpeg(data, channels=3, dct_method="INTEGER_ACCURATE").numpy()
    assert np.array_equal(classify.load_image(str(tmp_path / "x.jpg"), (24, 24, 3), "--image"), accurate / np.float32(255))
    fast = tf.io.decode_image(data, channels=3).numpy().astype(int)
    assert 0 < np.abs(fast - accurate).max() <= 8


@pytest.mark.parametrize("sample_format", ["uint8", "int16", "int24", "int32", "float32", "float64"])
def test_wav_reading_and_resampling_are_genkits(tmp_path, sample_format):
    from genkit.data.wav import fit_length, read_wav, resample, to_mono, write_wav

    rng = np.random.default_rng(2)
    stereo = np.clip(0.4 * rng.standard_normal((1500, 2)), -1, 1)
    path = tmp_path / f"clip-{sample_format}.wav"
    write_wav(path, stereo, 11025, sample_format)
    waveform, rate = audio_features.read_wav(path)
    expected, expected_rate = read_wav(path)
    assert rate == expected_rate == 11025 and np.array_equal(waveform, expected)
    for samples in (2000, 4000):  # cut and zero-padded
        reference = fit_length(np.clip(resample(to_mono(expected), 11025, 16000), -1, 1), samples)
        assert np.array_equal(audio_features.load_waveform(path, 16000, samples), reference)


def test_wave_format_extensible_is_read(tmp_path):
    from genkit.data.wav import wav_bytes

    data = bytearray(wav_bytes(np.linspace(-0.5, 0.5, 64), 8000, "int16"))
    fmt = struct.pack("<HHIIHHHHIH14s", 0xFFFE, 1, 8000, 16000, 2, 16, 22, 16, 4, 1, b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71")
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + data[36:]
    (tmp_path / "x.wav").write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    waveform, rate = audio_features.read_wav(tmp_path / "x.wav")
    assert rate == 8000 and np.allclose(waveform[:, 0], np.round(np.linspace(-0.5, 0.5, 64) * 32768) / 32768)


def test_text_ids_are_the_preprocessors():
    import tensorflow as tf

    from genkit.data.text_tokenizer import WORD_PATTERN
    from genkit.tasks.paired_preprocessor import PairedPreprocessor

    vocabulary = ["face", "red", "apple", "don't", "-", "!", "2"]
    preprocessor = PairedPreprocessor(["text"], ["text"], vocabulary, max_text_length=6)
    texts = ["Red APPLE", "face-with tears!!", "Don't  panic: 2 red apples", "", "   ", "one two three four five six seven",
             "é face ünïcode", "tab\tface\nnewline"]
    expected = preprocessor.tokenize(tf.constant(texts)).numpy()
    encoder = classify.TextEncoder({"vocabulary": ["[PAD]", "[UNK]", *vocabulary], "split_pattern": WORD_PATTERN,
                                    "padding_id": 0, "oov_id": 1, "max_text_length": 6})
    np.testing.assert_array_equal(np.stack([encoder.encode(text) for text in texts]), expected)


# ---------------------------------------------------------------------------------------------------------------
# Errors (a hand-made export folder: every error comes before the model file is opened)


def _fake_fusion_export(folder: Path) -> Path:
    folder.mkdir()
    signature = {
        "file": "classify_encoded.tflite",
        "inputs": {
            "image": {"dtype": "float32", "shape": [None, 8, 8, 3]},
            "caption_ids": {"dtype": "int32", "shape": [None, 4]},
            "audio_log_mel": {"dtype": "float32", "shape": [None, 8, 8]},
            "present": {"dtype": "float32", "shape": [None, 3]},
        },
        "outputs": {name: {"dtype": "float32", "shape": [None, 2]} for name in ("probabilities", "modality_weights")},
    }
    log_mel = {"sample_rate": 8000, "frame_length": 200, "frame_step": 80, "fft_length": 256, "num_mel_bins": 8,
               "lower_edge_hertz": 20.0, "upper_edge_hertz": 4000.0, "log_offset": 1e-6, "power": 2.0}
    document = {
        "format": "genkit-export", "model": "fusion-classifier", "export": {"format": "tflite"},
        "run": {"config": {"inputs": ["image", "caption", "audio"], "class_names": ["a", "b"]}},
        "signatures": {"classify_encoded": signature},
        "preprocessing": {
            "inputs": {"image": "image", "caption": "text", "audio": "audio"},
            "text": {"split_pattern": r"\w+", "padding_id": 0, "oov_id": 1, "max_text_length": 4,
                     "vocabulary": ["[PAD]", "[UNK]", "cat"]},
            "audio": {"sample_rate": 8000, "samples": 760, "frames": 8, "log_mel": log_mel},
        },
    }
    (folder / "genkit.json").write_text(json.dumps(document))
    return folder


def test_errors_are_one_line_with_exit_status_2(apps_python, tmp_path):
    from PIL import Image

    from genkit.data.wav import wav_bytes

    export = _fake_fusion_export(tmp_path / "export")
    Image.new("RGB", (8, 8)).save(tmp_path / "a.png")
    (tmp_path / "low.wav").write_bytes(wav_bytes(np.zeros(100), 8000)[:24] + struct.pack("<I", 500)
                                       + wav_bytes(np.zeros(100), 8000)[28:])  # rate 500 Hz
    (tmp_path / "not.wav").write_text("hello")
    dcgan = tmp_path / "dcgan"
    dcgan.mkdir()
    (dcgan / "genkit.json").write_text(json.dumps({
        "format": "genkit-export", "model": "dcgan", "export": {"format": "tflite"},
        "signatures": {"generate": {"file": "generate.tflite", "inputs": {}, "outputs": {}}},
    }))
    png = tmp_path / "a.png"
    cases = [
        ([export, "--image", tmp_path / "none.png"], f"--image {tmp_path / 'none.png'}: file not found"),
        ([export, "--audio", tmp_path / "none.wav"], "none.wav: file not found"),
        ([export, "--audio", tmp_path / "low.wav"], "sample rate 500 Hz is not supported"),
        ([export, "--audio", tmp_path / "not.wav"], "not a WAV file"),
        ([export, "--image", tmp_path / "not.wav"], "not a readable image"),
        ([export, "--input", "colour=red"], "the export has no input 'colour'; its inputs: image, caption (text), audio"),
        ([export, "--input", "caption"], "--input caption: expected NAME=VALUE"),
        ([export], "no input given: pass --image, --text, --audio or --input NAME=VALUE"),
        ([export, "--image", png, png, "--text", "cat"], "inputs give different numbers of examples (--image: 2, --text: 1)"),
        ([export, "--image", png, "--text", "cat", "--input", "caption=dog"], "already given by --text"),
        ([export, "--image", "", "--text", ""], "example 1: every input is missing"),
        ([export, "--image", png, "--top", 0], "--top 0: must be >= 1"),
        ([export, "--image", png, "--runtime", "onnx"], "--runtime onnx"),
        ([export, "--image", png], "classify_encoded.tflite: missing"),
        ([export, "--image", png, "--json", tmp_path / "no" / "out.json"], "no such folder"),
        ([dcgan, "--image", png], "not a fusion-classifier or dual-encoder export"),
        ([tmp_path, "--image", png], "not an export folder"),
    ]
    for arguments, message in cases:
        process = run_app(apps_python, "classify.py", *arguments, check=False)
        assert process.returncode == 2, (arguments, process.stderr)
        lines = process.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("classify: error: ") and message in lines[0], (arguments, process.stderr)


# ---------------------------------------------------------------------------------------------------------------
# The app against Keras on real exports (slow)


def _export(run_dir: Path) -> Path:
    import exporters

    out = run_dir / "exports"
    for format_name in ("tflite", "onnx"):
        exporters.export(run_dir, format_name, out=out, verbose=False, parity_samples=8, quality_samples=16,
                         latency_repeats=2)
    return out


@pytest.fixture(scope="session")
def fusion_run(tmp_path_factory, tiny_manifest) -> Path:
    """A tiny fusion classifier of the 3-modality manifest (15 short epochs: its predictions are not uniform),
    exported to TFLite and ONNX (``RUN/exports/tflite``, ``RUN/exports/onnx``)."""
    run_dir = tmp_path_factory.mktemp("classify-runs") / "fusion"
    run_cli("train", "fusion-classifier", "--dataset", f"manifest:{tiny_manifest}", "--epochs", 15, "--batch-size", 16,
            "--out", run_dir, "--quiet", *set_flags(TINY_FLAGS))
    _export(run_dir)
    return run_dir


@pytest.fixture(scope="module")
def fusion_model(fusion_run):
    from genkit.runtime.run_folder import RunFolder

    return RunFolder(fusion_run).load_model()


def _rows(manifest: Path, indices) -> list[dict]:
    rows = [json.loads(line) for line in manifest.read_text().splitlines()]
    return [rows[i] for i in indices]


def _raw_inputs(model, folder: Path, rows, texts=None) -> dict[str, np.ndarray]:
    """The rows' raw inputs as genkit's manifest loader reads them: images / 255, texts, mono waveforms
    resampled to the model's rate and fitted to its length."""
    from PIL import Image

    from genkit.data.wav import fit_length, read_wav, resample, to_mono

    p = model.preprocessor
    waveforms = []
    for row in rows:
        waveform, rate = read_wav(folder / row["audio"])
        waveforms.append(fit_length(np.clip(resample(to_mono(waveform), rate, p.sample_rate), -1, 1), p.audio_samples))
    return {
        "image": np.stack([np.asarray(Image.open(folder / row["image"]).convert("RGB"), np.float32) / 255 for row in rows]),
        "text": np.array(texts if texts is not None else [row["text"][0] for row in rows], dtype=object),
        "audio": np.stack(waveforms).astype(np.float32),
    }


def _app_predictions(apps_python, export: Path, arguments, out: Path, runtime=None) -> dict:
    flags = ["--runtime", runtime] if runtime else []
    process = run_app(apps_python, "classify.py", export, *arguments, "--json", out, *flags)
    return {"stdout": process.stdout, **json.loads(out.read_text())}


ROWS = (0, 5, 24, 31, 50, 71)  # two of each class


@pytest.mark.slow
@pytest.mark.parametrize("runtime", ["litert", "onnx"])
def test_probabilities_equal_keras_on_the_same_raw_inputs(apps_python, fusion_run, fusion_model, tiny_manifest,
                                                          tmp_path, runtime):
    folder = tiny_manifest.parent
    rows = _rows(tiny_manifest, ROWS)
    texts = [row["text"][-1] for row in rows]  # any reference: the app reads any text
    arguments = ["--image", *(folder / row["image"] for row in rows), "--text", *texts,
                 "--audio", *(folder / row["audio"] for row in rows), "--top", 2]
    export = fusion_run / "exports" / ("tflite" if runtime == "litert" else "onnx")
    result = _app_predictions(apps_python, export, arguments, tmp_path / "out.json", runtime)
    raw = _raw_inputs(fusion_model, folder, rows, texts)
    expected = fusion_model.endpoints()["serving_default"].call(raw)
    probabilities = np.array([p["probabilities"] for p in result["predictions"]])
    weights = np.array([list(p["modality_weights"].values()) for p in result["predictions"]])
    np.testing.assert_allclose(probabilities, expected["probabilities"], rtol=0, atol=PROBABILITY_TOLERANCE)
    np.testing.assert_allclose(weights, expected["modality_weights"], rtol=0, atol=PROBABILITY_TOLERANCE)
    assert probabilities.max() - probabilities.min() > 0.05, "a near-uniform model tests little"
    assert [p["class_id"] for p in result["predictions"]] == list(expected["class_id"])
    names = result["class_names"]
    assert names == ["Animals & Nature", "Food & Drink", "Travel & Places"]
    for prediction, row in zip(result["predictions"], probabilities):
        assert prediction["missing"] == [] and len(prediction["top"]) == 2
        assert prediction["top"][0]["label"] == prediction["label"] == names[int(np.argmax(row))]
    assert result["stdout"].count("example ") == len(rows) and "modality weights: image " in result["stdout"]


@pytest.mark.slow
def test_missing_inputs_equal_classify_partial_with_them_masked(apps_python, fusion_run, fusion_model, tiny_manifest,
                                                                tmp_path):
    folder = tiny_manifest.parent
    rows = _rows(tiny_manifest, ROWS[:4])
    texts = [row["text"][0] for row in rows]
    shown = ["", texts[1], "", texts[3]]  # '' : that example's text is missing; no --audio: every audio missing
    arguments = ["--image", *(folder / row["image"] for row in rows)]
    arguments += [item for text in shown for item in ("--input", f"text={text}")]
    result = _app_predictions(apps_python, fusion_run / "exports" / "tflite", arguments, tmp_path / "out.json")
    present = np.array([[1, 0, 0], [1, 1, 0], [1, 0, 0], [1, 1, 0]], np.float32)
    # The masked inputs' values do not matter: give classify_partial the real ones.
    raw = _raw_inputs(fusion_model, folder, rows)
    expected = fusion_model.endpoints()["classify_partial"].call({**raw, "present": present})
    probabilities = np.array([p["probabilities"] for p in result["predictions"]])
    np.testing.assert_allclose(probabilities, expected["probabilities"], rtol=0, atol=PROBABILITY_TOLERANCE)
    weights = np.array([list(p["modality_weights"].values()) for p in result["predictions"]])
    np.testing.assert_allclose(weights, expected["modality_weights"], rtol=0, atol=PROBABILITY_TOLERANCE)
    assert weights[:, 2].max() == 0 and weights[0, 1] == 0
    assert [p["missing"] for p in result["predictions"]] == [["text", "audio"], ["audio"], ["text", "audio"], ["audio"]]
    assert result["predictions"][0]["inputs"] == {"image": str(folder / rows[0]["image"]), "text": None, "audio": None}
    complete = fusion_model.endpoints()["serving_default"].call(raw)["probabilities"]
    assert np.abs(complete - probabilities).max() > 1e-3, "masking changed nothing: the test would not see it"
    assert "text (missing)" in result["stdout"] and "(missing: text, audio)" in result["stdout"]


@pytest.mark.slow
def test_files_of_other_sizes_and_rates_equal_keras_classify_files(apps_python, fusion_run, fusion_model, tiny_manifest,
                                                                   tmp_path):
    """Images at another size are resized as genkit's classify_files resizes them (tf.image.resize bilinear,
    antialiased); a 16-bit WAV at the model's rate is read as tf.audio.decode_wav reads it."""
    from PIL import Image

    from genkit.data.wav import write_wav

    folder = tiny_manifest.parent
    rows = _rows(tiny_manifest, (2, 30, 60))
    rate, samples = fusion_model.preprocessor.sample_rate, fusion_model.preprocessor.audio_samples
    raw = _raw_inputs(fusion_model, folder, rows)
    images, clips = [], []
    for index, (row, size) in enumerate(zip(rows, [(45, 38), (20, 27), (64, 64)])):  # (width, height)
        image = Image.open(folder / row["image"]).convert("RGB").resize(size, Image.Resampling.BICUBIC)
        images.append(tmp_path / f"image{index}.png")
        image.save(images[-1])
        clips.append(tmp_path / f"clip{index}.wav")
        write_wav(clips[-1], raw["audio"][index][: samples - 300 * index], rate)  # shorter clips are zero-padded
    texts = [row["text"][0] for row in rows]
    result = _app_predictions(apps_python, fusion_run / "exports" / "onnx",
                              ["--image", *images, "--text", *texts, "--audio", *clips], tmp_path / "out.json")
    files = {
        "image_bytes": np.array([path.read_bytes() for path in images], dtype=object),
        "text": np.array(texts, dtype=object),
        "audio_bytes": np.array([path.read_bytes() for path in clips], dtype=object),
    }
    expected = fusion_model.endpoints()["classify_files"].call(files)
    probabilities = np.array([p["probabilities"] for p in result["predictions"]])
    np.testing.assert_allclose(probabilities, expected["probabilities"], rtol=0, atol=PROBABILITY_TOLERANCE)


@pytest.mark.slow
def test_dual_encoder_ranks_texts_by_keras_cosine_similarity(apps_python, tiny_manifest, tmp_path_factory, tmp_path):
    from PIL import Image

    from genkit.runtime.run_folder import RunFolder

    run_dir = tmp_path_factory.mktemp("classify-runs") / "dual"
    run_cli("train", "dual-encoder", "--dataset", f"manifest:{tiny_manifest}", "--epochs", 3, "--batch-size", 16,
            "--out", run_dir, "--quiet", *set_flags(TINY_FLAGS[:4]))
    out = _export(run_dir)
    folder = tiny_manifest.parent
    rows = _rows(tiny_manifest, (1, 26, 52))
    images = [folder / row["image"] for row in rows]
    texts = [row["text"][0] for row in rows] + ["a red Car!", "unheard-of words"]
    endpoints = RunFolder(run_dir).load_model().endpoints()
    pixels = np.stack([np.asarray(Image.open(path).convert("RGB"), np.float32) / 255 for path in images])
    image_vectors = endpoints["embed_images"].call({"image": pixels})["image_embeddings"]
    text_vectors = endpoints["embed_texts"].call({"text": np.array(texts, dtype=object)})["text_embeddings"]
    expected = image_vectors @ text_vectors.T
    for export in ("tflite", "onnx"):
        json_path = tmp_path / f"{export}.json"
        process = run_app(apps_python, "classify.py", out / export, "--image", *images, "--texts", *texts, "--top", 3,
                          "--json", json_path)
        result = json.loads(json_path.read_text())
        similarities = np.array([ranking["similarities"] for ranking in result["rankings"]])
        np.testing.assert_allclose(similarities, expected, rtol=0, atol=1e-5)
        for ranking, row in zip(result["rankings"], expected):
            assert [item["index"] for item in ranking["top"]] == list(np.argsort(-row, kind="stable")[:3])
        assert process.stdout.count("image ") == 3

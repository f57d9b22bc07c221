"""End to end through the command line: train, sample, info; reload model.keras and the SavedModel
in fresh processes; user errors are one line with exit status 2."""

import json

import numpy as np
import pytest

from conftest import read_json, run_cli, run_genkit, run_python, tiny_set_flags


def test_run_folder_contract(trained_run):
    for name in (
        "config.json", "genkit.json", "model.keras", "history.json", "samples.png",
        "samples/epoch_001.png", "samples/epoch_002.png", "serving/1/saved_model.pb", "logs/train",
    ):
        assert (trained_run / name).exists(), name
    assert any((trained_run / "checkpoints").glob("ckpt-*/ckpt.index"))
    assert not [p for p in trained_run.rglob(".*tmp*")], "temporary files were left behind"

    metadata = read_json(trained_run / "genkit.json")
    assert metadata["model"] == "dcgan" and metadata["family"] == "gan"
    assert metadata["config"]["latent_dim"] == 8 and metadata["config"]["image_shape"] == [28, 28, 1]
    assert metadata["train"]["epochs"] == 2 and metadata["train"]["batch_size"] == 64
    assert metadata["data"]["image_shape"] == [28, 28, 1] and metadata["data"]["num_train"] == 256
    assert metadata["data"]["label_names"][0] == "T-shirt/top"
    assert metadata["data"]["scaling"]["scale"] == "tanh"
    assert metadata["training"]["stop_reason"] == "completed"
    assert metadata["training"]["global_steps"] == 2 * (256 // 64)
    assert set(metadata["metrics"]) >= {"d_loss", "g_loss"}
    assert {"tensorflow", "keras", "genkit", "python"} <= set(metadata["versions"])
    signature = metadata["serving"]["signatures"]["serving_default"]
    assert signature["inputs"]["z"]["dtype"] == "float32" and signature["inputs"]["z"]["shape"] == [None, 8]
    assert signature["inputs"]["z"]["modality"] == "latent"
    assert signature["inputs"]["z"]["sampling"]["distribution"] == "standard_normal"
    assert signature["outputs"] == {
        "images": {"dtype": "float32", "shape": [None, 28, 28, 1], "modality": "image", "range": [0.0, 1.0]},
    }
    assert metadata["training"]["example_unit"] == "images" and metadata["training"]["examples_per_second"] > 0
    history = read_json(trained_run / "history.json")
    assert [record["epoch"] for record in history] == [1, 2]
    assert read_json(trained_run / "config.json")["config"] == metadata["config"]


def test_sample_npy_and_png(trained_run, tmp_path):
    run_cli("sample", trained_run, "-n", 10, "--out", tmp_path / "s.npy", "--seed", 4)
    images = np.load(tmp_path / "s.npy")
    assert images.shape == (10, 28, 28, 1) and images.dtype == np.float32
    assert 0.0 <= images.min() and images.max() <= 1.0 and images.std() > 0.01
    run_cli("sample", trained_run, "-n", 10, "--out", tmp_path / "t.npy", "--seed", 4)
    np.testing.assert_array_equal(images, np.load(tmp_path / "t.npy"))

    run_cli("sample", trained_run, "-n", 9, "--out", tmp_path / "grid.png")
    assert (tmp_path / "grid.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_info_prints_the_run(trained_run):
    text = run_cli("info", trained_run).stdout
    assert "dcgan" in text and "serving_default" in text and "tensorflow" in text
    assert json.loads(run_cli("info", trained_run, "--json").stdout)["model"] == "dcgan"
    assert "images/s" in text


def test_info_counts_a_text_model_in_windows():
    from genkit.commands.info import format_info

    text = format_info({"model": "char-lstm", "family": "language_model",
                        "training": {"examples_per_second": 512.0, "example_unit": "windows"}})
    assert "512.0 windows/s" in text and "images/s" not in text
    # Runs written before the unit was recorded said images_per_second for every family.
    assert "512.0 examples/s" in format_info({"model": "char-lstm", "training": {"images_per_second": 512.0}})


def test_version_prints_genkit_and_its_libraries():
    import importlib.metadata

    import keras
    import tensorflow as tf

    import genkit

    result = run_cli("--version")
    assert result.returncode == 0 and result.stderr == ""
    lines = result.stdout.splitlines()
    assert lines[0] == f"genkit {genkit.__version__}"
    named = dict(line.split(maxsplit=1) for line in lines[1:])
    assert named["tensorflow"] == tf.__version__ and named["keras"] == keras.__version__
    for library in ("tf2onnx", "onnx", "onnxruntime", "ai-edge-litert"):  # what genkit export converts and checks with
        assert named[library] == importlib.metadata.version(library)


def test_list_shows_registered_models():
    assert "dcgan" in run_cli("list").stdout


@pytest.mark.slow
def test_savedmodel_runs_without_genkit_and_matches_model_keras(trained_run, tmp_path):
    z = np.random.default_rng(0).standard_normal((3, 8)).astype("float32")
    np.save(tmp_path / "z.npy", z)
    run_python(
        "import sys, numpy as np, tensorflow as tf\n"
        f"loaded = tf.saved_model.load({str(trained_run / 'serving' / '1')!r})\n"
        "serve = loaded.signatures['serving_default']\n"
        f"out = serve(z=tf.constant(np.load({str(tmp_path / 'z.npy')!r})))\n"
        "assert list(out) == ['images'], list(out)\n"
        f"np.save({str(tmp_path / 'serving.npy')!r}, out['images'].numpy())\n"
        "assert not any(name.startswith('genkit') for name in sys.modules), 'genkit was imported'\n"
    )
    run_python(
        "import numpy as np, keras, genkit.models\n"
        f"model = keras.saving.load_model({str(trained_run / 'model.keras')!r})\n"
        f"np.save({str(tmp_path / 'keras.npy')!r}, np.asarray(model.generate(z=np.load({str(tmp_path / 'z.npy')!r}))))\n"
    )
    served, keras_images = np.load(tmp_path / "serving.npy"), np.load(tmp_path / "keras.npy")
    assert served.shape == (3, 28, 28, 1) and 0 <= served.min() and served.max() <= 1
    np.testing.assert_allclose(served, keras_images, atol=1e-6)


def _assert_user_error(process, *fragments):
    assert process.returncode == 2, process.stderr
    lines = process.stderr.strip().splitlines()
    assert len(lines) == 1, process.stderr
    assert "Traceback" not in process.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_user_errors_are_one_line_with_exit_status_2(tmp_path, tiny_npz, trained_run):
    _assert_user_error(run_cli("train", "nope", check=False), "unknown model 'nope'", "dcgan")
    _assert_user_error(
        run_cli("train", "dcgan", "--set", "latent_dim=-1", check=False), "'latent_dim'", "must be >= 1"
    )
    _assert_user_error(run_cli("train", "dcgan", "--epochs", "zero", check=False), "--epochs")
    _assert_user_error(run_cli("train", "dcgan", "--strategy", "tpu", check=False), "--strategy", "mirrored")
    _assert_user_error(
        run_cli("train", "dcgan", "--dataset", f"npz:{tmp_path / 'missing.npz'}", "--out", tmp_path / "r", check=False),
        "missing.npz",
    )
    _assert_user_error(
        run_cli("train", "dcgan", "--dataset", f"npz:{tiny_npz}", "--batch-size", 999, "--out", tmp_path / "r2",
                   *tiny_set_flags(), check=False),
        "--batch-size 999",
    )
    bad_config = tmp_path / "bad.yaml"
    bad_config.write_text("latent_dim: 4\nunknown_field: 1\n")
    _assert_user_error(run_cli("train", "dcgan", "--config", bad_config, check=False), str(bad_config), "unknown_field")
    _assert_user_error(run_cli("sample", tmp_path / "no-run", "--out", tmp_path / "x.npy", check=False), "no such run folder")
    _assert_user_error(run_cli("sample", trained_run, "--out", tmp_path / "x.gif", check=False), ".gif", ".npy, .png")
    _assert_user_error(run_cli("sample", trained_run, check=False), "--out: required for 'dcgan' samples", ".npy, .png")
    _assert_user_error(run_cli("info", tmp_path, check=False), "incomplete run")
    assert not (tmp_path / "r2").exists(), "a rejected --batch-size left a run folder behind"


@pytest.mark.slow
def test_in_a_fresh_process_a_user_error_is_one_line_without_tensorflow_notices(tmp_path, trained_run):
    # The point of a fresh process: TensorFlow's C++ start-up notices go to the real stderr.
    _assert_user_error(run_genkit("train", "nope", check=False), "unknown model 'nope'")
    _assert_user_error(run_genkit("sample", trained_run, "--label", 2, "--out", tmp_path / "x.png", check=False), "--label")
    _assert_user_error(run_genkit("train", "dcgan", "--epochs", "zero", check=False), "--epochs")


def test_sampling_options_a_model_does_not_take_are_one_line_errors(trained_run, tmp_path):
    out = tmp_path / "x.npy"
    _assert_user_error(
        run_cli("sample", trained_run, "--label", 3, "--out", out, check=False), "--label",
        "not an option of 'dcgan' models (genkit sample options it takes: none)",
    )
    _assert_user_error(run_cli("sample", trained_run, "--prompt", "In the beginning", "--out", out, check=False), "--prompt")
    _assert_user_error(run_cli("sample", trained_run, "--reconstruct", tmp_path / "x.npy", "--out", out, check=False), "--reconstruct")
    _assert_user_error(run_cli("sample", trained_run, "--top-p", 1.5, "--out", out, check=False), "--top-p", "must be in (0.0, 1.0]")
    _assert_user_error(run_cli("sample", trained_run, "--no-such-flag", "--out", out, check=False), "unrecognized arguments")
    assert not out.exists()


def test_sample_and_evaluate_help_list_every_familys_options():
    sample_help = run_cli("sample", "--help", check=False)
    assert sample_help.returncode == 0
    text = " ".join(sample_help.stdout.split())
    for flag, owners in (("--label K", "[cgan, cvae]"), ("--prompt TEXT", "[char-lstm, word-lstm]"),
                         ("--reconstruct IMAGES.npy", "[ae, beta-vae, cvae, dae, vae]")):
        assert flag in text and owners in text, flag
    evaluate_help = run_cli("evaluate", "--help", check=False).stdout
    assert "--importance-samples K" in evaluate_help and "--features NAME" in evaluate_help


def test_existing_run_folder_is_never_overwritten(trained_run, tiny_npz):
    before = (trained_run / "genkit.json").read_bytes()
    process = run_cli("train", "dcgan", "--dataset", f"npz:{tiny_npz}", "--out", trained_run,
                         *tiny_set_flags(), check=False)
    _assert_user_error(process, "exists and is not empty", "--resume")
    assert (trained_run / "genkit.json").read_bytes() == before


def test_train_on_a_folder_resized_to_the_configured_image_shape(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    for index in range(32):
        size = (20 + index % 3, 24)  # mixed sizes: only a configured image_shape makes them one
        pixels = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
        folder = tmp_path / "images" / ("red" if index % 2 else "blue")
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels).save(folder / f"{index}.png")
    run_dir = tmp_path / "run"
    run_cli(
        "train", "dcgan", "--dataset", f"folder:{tmp_path / 'images'}", "--epochs", 1, "--batch-size", 16,
        "--out", run_dir, "--quiet", *tiny_set_flags(["image_shape=[16,16,3]", "train.num_sample_images=4"]),
    )
    metadata = read_json(run_dir / "genkit.json")
    assert metadata["data"]["image_shape"] == [16, 16, 3] and metadata["data"]["label_names"] == ["blue", "red"]
    assert metadata["serving"]["signatures"]["serving_default"]["outputs"]["images"]["shape"] == [None, 16, 16, 3]


@pytest.mark.slow
def test_mixed_precision_and_xla_runs_write_a_float32_model(tmp_path, tiny_npz):
    run_dir = tmp_path / "run"
    run_cli(
        "train", "dcgan", "--dataset", f"npz:{tiny_npz}", "--epochs", 1, "--batch-size", 64, "--out", run_dir,
        "--mixed-precision", "mixed_float16", "--jit", "--quiet", *tiny_set_flags(["train.num_sample_images=4"]),
    )
    metadata = read_json(run_dir / "genkit.json")
    assert metadata["train"]["mixed_precision"] == "mixed_float16" and metadata["train"]["jit"] is True
    assert metadata["training"]["global_steps"] == 4
    output = run_python(
        "import keras, numpy as np, genkit.models\n"
        f"model = keras.saving.load_model({str(run_dir / 'model.keras')!r})\n"
        "images = np.asarray(model.generate(**model.sample_inputs(2, 0)))\n"
        "print(model.generator.dtype_policy.name, images.dtype, bool(np.isfinite(images).all()))\n"
    )
    assert output.split() == ["float32", "float32", "True"]


def test_parsing_a_command_line_does_not_import_tensorflow():
    # `genkit train --help` and usage errors answer at once; only sample/evaluate load the families for their options.
    printed = run_python("import sys, genkit.cli\ngenkit.cli.build_parser(False)\nprint('tensorflow' in sys.modules)")
    assert printed.strip() == "False"

"""genkit export: SavedModel for TF Serving, TFLite and ONNX files that check themselves, and clean failures."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import read_json, run_cli

Z_RECIPE = "np.random.default_rng(seed).standard_normal((n, 8)).astype('float32')"


def _keras_images(run_dir, z):
    from genkit.runtime.run_folder import RunFolder

    return np.asarray(RunFolder(run_dir).load_model().generate(z))


@pytest.mark.slow
def test_every_format_is_written_with_its_report_and_metadata(dcgan_exports):
    expected_files = {
        "savedmodel": "dcgan/1/saved_model.pb", "tflite": "serving_default.tflite", "onnx": "serving_default.onnx",
        "tflite-int8": "serving_default.tflite",
    }
    for label, file in expected_files.items():
        folder = dcgan_exports / label
        assert (folder / file).is_file(), label
        report, document = read_json(folder / "export_report.json"), read_json(folder / "genkit.json")
        entry = report["signatures"]["serving_default"]
        assert entry["size_bytes"] > 0 and entry["parity"]["outputs"]["images"]["mean_abs_error"] >= 0
        assert {"keras", report["format"]} <= set(entry["latency_ms"]), entry["latency_ms"]
        assert document["format"] == "genkit-export" and document["model"] == "dcgan"
        signature = document["signatures"]["serving_default"]
        assert signature["inputs"]["z"]["shape"] == [None, 8]
        assert signature["inputs"]["z"]["sampling"]["numpy"] == Z_RECIPE
        assert signature["outputs"]["images"]["shape"] == [None, 28, 28, 1]
        assert signature["outputs"]["images"]["range"] == [0.0, 1.0]
        assert document["labels"][0] == "T-shirt/top"
    assert not list(dcgan_exports.glob(".export-tmp-*")), "the staging folder was left behind"

    for label in ("savedmodel", "tflite", "onnx"):  # float exports: within the stated 1e-4 of Keras
        parity = read_json(dcgan_exports / label / "export_report.json")["signatures"]["serving_default"]["parity"]
        assert parity["tolerance"] == 1e-4 and parity["passed"] is True and parity["max_abs_error"] < 1e-4
    tflite_report = read_json(dcgan_exports / "tflite" / "export_report.json")["signatures"]["serving_default"]
    assert "TRANSPOSE_CONV" in tflite_report["tflite_ops"] and tflite_report["flex_ops"] == []
    onnx_report = read_json(dcgan_exports / "onnx" / "export_report.json")["signatures"]["serving_default"]
    assert onnx_report["onnx_opset"] == 17
    serving = read_json(dcgan_exports / "savedmodel" / "genkit.json")["tf_serving"]
    assert serving["model_name"] == "dcgan" and serving["version"] == 1


@pytest.mark.slow
def test_saved_model_cli_lists_every_serving_signature(dcgan_exports):
    cli = Path(sys.executable).with_name("saved_model_cli")
    if not cli.exists():
        pytest.skip(f"saved_model_cli is not installed beside {sys.executable}")
    shown = subprocess.run(
        [str(cli), "show", "--dir", str(dcgan_exports / "savedmodel" / "dcgan" / "1"), "--all"],
        capture_output=True, text=True, timeout=120, check=True,
    ).stdout
    assert "signature_def['serving_default']" in shown
    assert "inputs['z'] tensor_info" in shown and "outputs['images'] tensor_info" in shown


@pytest.mark.slow
def test_savedmodel_loads_and_runs_in_a_process_that_never_imports_genkit(dcgan_exports, trained_run, tmp_path):
    z = np.random.default_rng(3).standard_normal((5, 8)).astype("float32")
    np.save(tmp_path / "z.npy", z)
    environment = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    code = (
        "import sys, numpy as np, tensorflow as tf\n"
        f"loaded = tf.saved_model.load({str(dcgan_exports / 'savedmodel' / 'dcgan' / '1')!r})\n"
        "for name, function in loaded.signatures.items():\n"
        f"    images = function(z=tf.constant(np.load({str(tmp_path / 'z.npy')!r})))['images'].numpy()\n"
        f"    np.save({str(tmp_path / 'images.npy')!r}, images)\n"
        "    print(name, images.shape)\n"
        "assert not [m for m in sys.modules if m.split('.')[0] in ('genkit', 'exporters')], 'genkit was imported'\n"
    )
    process = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=300
    )
    assert process.returncode == 0, process.stderr[-2000:]
    assert "serving_default (5, 28, 28, 1)" in process.stdout
    np.testing.assert_allclose(np.load(tmp_path / "images.npy"), _keras_images(trained_run, z), atol=1e-5)


def test_onnx_file_is_checker_clean_with_named_inputs_outputs_and_a_dynamic_batch(dcgan_exports, trained_run):
    import onnx
    import onnxruntime

    path = dcgan_exports / "onnx" / "serving_default.onnx"
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto, full_check=True)
    assert [value.name for value in proto.graph.input] == ["z"]
    assert [value.name for value in proto.graph.output] == ["images"]
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for batch in (1, 7):
        z = np.random.default_rng(batch).standard_normal((batch, 8)).astype("float32")
        (images,) = session.run(["images"], {"z": z})
        np.testing.assert_allclose(images, _keras_images(trained_run, z), atol=1e-4)


def test_tflite_runs_in_the_litert_interpreter_with_the_signature_names(dcgan_exports, trained_run):
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(dcgan_exports / "tflite" / "serving_default.tflite"))
    assert interpreter.get_signature_list() == {"serving_default": {"inputs": ["z"], "outputs": ["images"]}}
    z = np.random.default_rng(4).standard_normal((3, 8)).astype("float32")
    images = interpreter.get_signature_runner("serving_default")(z=z)["images"]
    np.testing.assert_allclose(images, _keras_images(trained_run, z), atol=1e-4)


def test_int8_tflite_is_full_integer_and_reports_its_cost(dcgan_exports):
    report = read_json(dcgan_exports / "tflite-int8" / "export_report.json")
    entry = report["signatures"]["serving_default"]
    assert report["quantize"] == "int8" and entry["parity"]["tolerance"] is None
    assert entry["parity"]["outputs"]["images"]["mean_abs_error"] < 0.1
    assert "TRANSPOSE_CONV" in entry["tflite_ops"] and entry["flex_ops"] == []
    quality = entry["quality"]["outputs"]["images"]  # the cost in the task's metric: FID/KID of export vs Keras
    assert quality["keras"]["num_samples"] == quality["export"]["num_samples"] == 200
    assert np.isfinite(quality["fid_delta"]) and np.isfinite(quality["kid_delta"]) and quality["fid_seed_noise"] >= 0
    assert entry["quality"]["reference"].endswith("test split (64 images)")
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(dcgan_exports / "tflite-int8" / "serving_default.tflite"))
    filters = [d for d in interpreter.get_tensor_details() if len(d["shape"]) == 4 and "deconv_0" in d["name"]]
    assert filters and all(np.dtype(d["dtype"]) == np.int8 for d in filters)  # transposed convolutions run in int8


@pytest.mark.slow
@pytest.mark.parametrize("quantize", ["float16", "dynamic", "int8-io"])
def test_other_quantisations_convert_and_run(trained_run, tmp_path, quantize):
    import exporters
    from exporters.tflite import TFLiteRunner, describe

    int8_io = quantize == "int8-io"
    quantize = "int8" if int8_io else quantize
    folders = exporters.export(
        trained_run, "tflite", quantize, int8_io=int8_io, out=tmp_path, verbose=False,
        parity_samples=16, quality_samples=100, latency_repeats=2,
    )
    folder = folders[f"tflite-{quantize}"]
    entry = read_json(folder / "export_report.json")["signatures"]["serving_default"]
    if quantize == "float16":
        assert entry["parity"]["tolerance"] == 1e-2 and entry["parity"]["passed"] is True
    assert entry["parity"]["outputs"]["images"]["mean_abs_error"] < 0.1
    document = read_json(folder / "genkit.json")
    z_spec = document["signatures"]["serving_default"]["inputs"]["z"]
    if int8_io:
        assert z_spec["dtype"] == "int8" and set(z_spec["quantization"]) == {"scale", "zero_point"}
        assert describe(folder / "serving_default.tflite", "serving_default")["outputs"]["images"]["dtype"] == "int8"
    else:
        assert z_spec["dtype"] == "float32"
    runner = TFLiteRunner(folder / "serving_default.tflite", "serving_default")
    images = runner({"z": np.zeros((2, 8), np.float32)})["images"]
    assert images.shape == (2, 28, 28, 1) and images.dtype == np.float32


def _flex_needing_endpoint(tmp_path):
    """A SavedModel whose one signature needs a TensorFlow op TFLite lacks (a whole-sequence Keras LSTM)."""
    import keras
    import tensorflow as tf

    from exporters.savedmodel import write_savedmodel
    from genkit.signatures import Endpoint, TensorDeclaration

    inputs = keras.Input((5, 3), name="sequence")
    model = keras.Model(inputs, keras.layers.LSTM(4, name="lstm")(inputs))

    def serve(sequence):
        return {"encoding": model(sequence)}

    endpoint = Endpoint(
        "serving_default", serve, (TensorDeclaration("sequence", "audio", "float32", (5, 3)),),
        (TensorDeclaration("encoding", "latent", "float32", (4,)),),
    )
    return endpoint, write_savedmodel(model, [endpoint], tmp_path / "flex")


def test_a_graph_that_needs_flex_ops_fails_naming_them_unless_allowed(tmp_path):
    from exporters import tflite
    from genkit.errors import UserError

    endpoint, saved_model = _flex_needing_endpoint(tmp_path)
    with pytest.raises(UserError, match=r"needs TensorFlow \(Flex\) ops .*TensorList.*--allow-flex") as raised:
        tflite.convert(saved_model, endpoint)
    assert "\n" not in str(raised.value)
    content = tflite.convert(saved_model, endpoint, allow_flex=True)
    assert tflite.flex_ops(tflite.op_counts(content)), tflite.op_counts(content)


def test_an_endpoint_onnx_cannot_take_is_one_clear_error(tmp_path):
    from exporters import onnx as onnx_format
    from genkit.errors import UserError
    from genkit.signatures import Endpoint, TensorDeclaration

    x = TensorDeclaration("x", "latent", "float32", (2,))
    same_name = Endpoint("echo", lambda x: {"x": x * 2.0}, (x,), (x,))
    with pytest.raises(UserError, match="'x' as both an input and an output name"):
        onnx_format.convert(same_name)


@pytest.mark.slow
def test_user_errors_are_one_line_exit_2_and_leave_nothing(trained_run, tmp_path):
    out = tmp_path / "exports"
    incomplete = tmp_path / "incomplete"
    shutil.copytree(trained_run, incomplete, ignore=shutil.ignore_patterns("genkit.json", "exports"))
    corrupt = tmp_path / "corrupt"
    shutil.copytree(trained_run, corrupt, ignore=shutil.ignore_patterns("exports"))
    (corrupt / "model.keras").write_bytes(b"not a zip")
    cases = [
        ([incomplete], "incomplete run"),
        ([corrupt], "cannot load the model"),
        ([tmp_path / "missing"], "no such run folder"),
        ([trained_run, "--signature", "nope"], "has no signature of that name; allowed: serving_default"),
        ([trained_run, "--format", "onnx", "--signature", "nope"], "no edge signature of that name; allowed: serving_default"),
        ([trained_run, "--format", "onnx", "--quantize", "int8"], "onnx exports are float32"),
        ([trained_run, "--format", "tflite", "--int8-io"], "--int8-io: needs --quantize int8"),
        ([trained_run, "--format", "onnx", "--opset", "19"], "--opset 19"),
    ]
    for arguments, message in cases:
        process = run_cli("export", *arguments, "--out", out, check=False)
        assert process.returncode == 2, (arguments, process.stderr[-1500:])
        lines = [line for line in process.stderr.splitlines() if line.startswith("genkit export")]
        assert len(lines) == 1 and message in lines[0], (arguments, process.stderr[-1500:])
        assert "Traceback" not in process.stderr
        assert not out.exists() or not any(out.iterdir()), f"{arguments} left files in {out}"


@pytest.mark.slow
def test_cli_export_replaces_an_earlier_export_in_place(trained_run, tmp_path):
    out = tmp_path / "exports"
    first = run_cli("export", trained_run, "--format", "onnx", "--out", out)
    assert "onnx" in first.stdout and "serving_default" in first.stdout and "x keras" in first.stdout
    created = read_json(out / "onnx" / "genkit.json")["export"]["created"]
    (out / "onnx" / "stale.txt").write_text("from before")
    run_cli("export", trained_run, "--format", "onnx", "--out", out)
    assert not (out / "onnx" / "stale.txt").exists()
    assert read_json(out / "onnx" / "genkit.json")["export"]["created"] >= created
    assert sorted(p.name for p in out.iterdir()) == ["onnx"]


def test_the_default_quality_hook_scores_an_exact_copy_at_zero_cost(trained_run):
    from exporters.source import ExportSource
    from genkit.evaluation.export_cost import endpoint_runner

    source = ExportSource.load(trained_run)
    model = source.model
    quality = model.export_quality(
        "serving_default", endpoint_runner(model, "serving_default"), data=source.data, num_samples=100, seed=0
    )
    entry = quality["outputs"]["images"]
    assert entry["fid_delta"] == 0.0 and entry["kid_delta"] == 0.0 and entry["keras"]["fid"] > 0
    assert quality["num_samples"] == 100 and quality["features"] == "fashion_mnist"


@pytest.mark.slow
def test_an_autoencoder_with_image_inputs_exports_every_signature_to_every_format(tmp_path, tiny_npz):
    """encode/reconstruct take images: ONNX needs their outputs named apart from the 'images' input."""
    import exporters

    run_dir = tmp_path / "ae"
    run_cli(
        "train", "ae", "--dataset", f"npz:{tiny_npz}", "--epochs", 1, "--batch-size", 32, "--out", run_dir, "--quiet",
        "--set", "latent_dim=4", "--set", "encoder_filters=[4,8]", "--set", "decoder_filters=[8,4]",
        "--set", "dense_units=16",
    )
    exporters.export(run_dir, "all", out=tmp_path / "exports", verbose=False, parity_samples=8, latency_repeats=1)
    for label in ("savedmodel", "tflite", "onnx"):
        signatures = read_json(tmp_path / "exports" / label / "export_report.json")["signatures"]
        assert set(signatures) == {"serving_default", "reconstruct", "encode", "decode"}, (label, sorted(signatures))
        for name, entry in signatures.items():
            assert entry["parity"]["passed"], (label, name, entry["parity"])
    assert set(signatures["reconstruct"]["parity"]["outputs"]) == {"reconstructions"}

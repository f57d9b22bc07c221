"""The edge apps run exported models in an environment without TensorFlow and reproduce genkit's samples.

They run in the virtual environment ``.venv-apps`` at the repository root
(numpy, Pillow, ai-edge-litert, onnxruntime: ``apps/requirements.txt``),
which CI creates with::

    python3 -m venv .venv-apps && .venv-apps/bin/pip install -q -r apps/requirements.txt
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from conftest import run_genkit

REPO = Path(__file__).resolve().parents[2]
APPS = REPO / "apps"
APPS_PYTHON = REPO / ".venv-apps" / "bin" / "python"


@pytest.fixture(scope="session")
def apps_python() -> Path:
    if not APPS_PYTHON.exists():
        pytest.skip(
            "no .venv-apps (create it: python3 -m venv .venv-apps && "
            ".venv-apps/bin/pip install -q -r apps/requirements.txt)"
        )
    probe = subprocess.run(
        [str(APPS_PYTHON), "-c", "import importlib.util as u; print(u.find_spec('tensorflow') is None)"],
        capture_output=True, text=True, timeout=60,
    )
    assert probe.stdout.strip() == "True", ".venv-apps must not have TensorFlow: the apps are tested without it"
    return APPS_PYTHON


def run_app(python: Path, app: str, *args, check=True, cwd=None):
    process = subprocess.run(
        [str(python), str(APPS / app), *map(str, args)], capture_output=True, text=True, timeout=300,
        cwd=cwd, env={"PATH": "/usr/bin:/bin"},  # no PYTHONPATH: genkit is not importable
    )
    if check and process.returncode != 0:
        raise AssertionError(f"{app} exited {process.returncode}\nstderr:\n{process.stderr[-3000:]}")
    return process


@pytest.fixture(scope="module")
def genkit_samples(trained_run, tmp_path_factory) -> Path:
    """``genkit sample -n 9 --seed 5`` of the trained run, as .npy and .png."""
    folder = tmp_path_factory.mktemp("genkit-samples")
    for suffix in ("npy", "png"):
        run_genkit("sample", trained_run, "-n", 9, "--seed", 5, "--out", folder / f"samples.{suffix}")
    return folder


@pytest.mark.parametrize("export, runtime", [("tflite", "litert"), ("onnx", "onnx"), ("onnx", None)])
def test_generate_images_equals_genkit_sample_for_the_same_seed(apps_python, dcgan_exports, genkit_samples, tmp_path, export, runtime):
    from PIL import Image

    runtime_flag = ["--runtime", runtime] if runtime else []
    for suffix in ("npy", "png"):
        run_app(apps_python, "generate_images.py", dcgan_exports / export, "--out", tmp_path / f"app.{suffix}",
                "-n", 9, "--seed", 5, *runtime_flag)
    np.testing.assert_allclose(np.load(tmp_path / "app.npy"), np.load(genkit_samples / "samples.npy"), atol=1e-4)
    app_grid = np.asarray(Image.open(tmp_path / "app.png"), np.int16)
    genkit_grid = np.asarray(Image.open(genkit_samples / "samples.png"), np.int16).reshape(app_grid.shape)
    assert np.abs(app_grid - genkit_grid).max() <= 1  # float32 rounding at a pixel-level boundary at most


def test_generate_images_runs_an_int8_export(apps_python, dcgan_exports, trained_run, tmp_path):
    run_app(apps_python, "generate_images.py", dcgan_exports / "tflite-int8", "--out", tmp_path / "app.npy",
            "-n", 8, "--seed", 2)
    run_genkit("sample", trained_run, "-n", 8, "--seed", 2, "--out", tmp_path / "genkit.npy")
    images, reference = np.load(tmp_path / "app.npy"), np.load(tmp_path / "genkit.npy")
    assert images.shape == reference.shape and images.min() >= 0 and images.max() <= 1
    assert np.abs(images - reference).mean() < 0.05  # int8: close, not equal


def test_app_errors_are_one_line_with_exit_status_2(apps_python, dcgan_exports, tmp_path):
    damaged = {}
    for format_name in ("tflite", "onnx"):  # an export whose model file was cut short (a failed copy or download)
        damaged[format_name] = tmp_path / f"damaged-{format_name}"
        shutil.copytree(dcgan_exports / format_name, damaged[format_name])
        for model_file in damaged[format_name].glob(f"*.{format_name}"):
            model_file.write_bytes(model_file.read_bytes()[:2000])
    cases = [
        (["generate_images.py", damaged["tflite"], "--out", tmp_path / "x.png"], "the litert runtime cannot load it"),
        (["generate_images.py", damaged["onnx"], "--out", tmp_path / "x.png"], "the onnx runtime cannot load it"),
        (["generate_images.py", dcgan_exports / "tflite", "--out", tmp_path / "x.png", "--label", 1],
         "this model is not conditional"),
        (["generate_images.py", dcgan_exports / "savedmodel", "--out", tmp_path / "x.png"], "holds no .tflite or .onnx"),
        (["generate_images.py", dcgan_exports / "tflite", "--out", tmp_path / "x.png", "--runtime", "onnx"],
         "--runtime onnx"),
        (["generate_images.py", tmp_path, "--out", tmp_path / "x.png"], "not an export folder"),
        (["generate_images.py", dcgan_exports / "tflite", "--out", tmp_path / "x.jpg"], "unsupported file type"),
        (["generate_text.py", dcgan_exports / "tflite", "--prompt", "a", "--length", 3], "not a text model export"),
    ]
    for arguments, message in cases:
        process = run_app(apps_python, *arguments, check=False)
        assert process.returncode == 2, (arguments, process.stderr)
        lines = process.stderr.strip().splitlines()
        assert len(lines) == 1 and message in lines[0], (arguments, process.stderr)
    assert not list(tmp_path.glob("x.*"))


TEXT_CASES = {
    # level: (vocabulary, genkit.json "text" tokenizer fields, prompt, the prompt's tokens)
    "char": (list("?abcdefgh "), {"oov_token": "?", "split_pattern": None, "joiner": ""}, "Bad cafe",
             list("bad cafe")),
    "word": (["<unk>", "<end>", "a", "bad", "cafe", ".", "fed", "dog"],
             {"oov_token": "<unk>", "end_token": "<end>", "split_pattern": r"\w+|[^\w\s]", "joiner": " "},
             "A bad, bad dog.", ["a", "bad", ",", "bad", "dog", "."]),
}


def _step_export(folder: Path, level: str, units: int = 6, seed: int = 0):
    """A hand-made step model export following the contract of genkit's text step models.

    One LSTM cell over an embedding: token int32 [batch], state_h_0 / state_c_0 float32 [batch, units]
    -> logits [batch, vocab], next_state_h_0, next_state_c_0; as .tflite and .onnx, with genkit.json's
    "text" entry. Returns the Keras step function (the reference).
    """
    import keras
    import onnx
    import tensorflow as tf

    from exporters import onnx as onnx_format
    from exporters import tflite
    from exporters.savedmodel import write_savedmodel
    from genkit.signatures import Endpoint, TensorDeclaration

    vocabulary, fields, _, _ = TEXT_CASES[level]
    keras.utils.set_random_seed(seed)
    embedding = keras.layers.Embedding(len(vocabulary), 5)
    cell = keras.layers.LSTMCell(units)
    head = keras.layers.Dense(len(vocabulary))
    token_in = keras.Input((), dtype="int32", name="token")
    h_in, c_in = keras.Input((units,), name="state_h_0"), keras.Input((units,), name="state_c_0")
    output, (h_out, c_out) = cell(embedding(token_in), [h_in, c_in])
    model = keras.Model([token_in, h_in, c_in], [head(output), h_out, c_out])

    def step(token, state_h_0, state_c_0):
        logits, h, c = model([token, state_h_0, state_c_0])
        return {"logits": logits, "next_state_h_0": h, "next_state_c_0": c}

    states = [TensorDeclaration(name, "state", "float32", (units,)) for name in ("state_h_0", "state_c_0")]
    endpoint = Endpoint(
        "step", step, (TensorDeclaration("token", "tokens", "int32", ()), *states),
        (TensorDeclaration("logits", "logits", "float32", (len(vocabulary),)),
         *(TensorDeclaration(f"next_{s.name}", "state", "float32", (units,)) for s in states)),
    )
    saved = write_savedmodel(model, [endpoint], folder.parent / f"{folder.name}-savedmodel")
    for runtime in ("tflite", "onnx"):
        (folder / runtime).mkdir(parents=True)
        if runtime == "tflite":
            (folder / runtime / "step.tflite").write_bytes(tflite.convert(saved, endpoint))
            description = tflite.describe(folder / runtime / "step.tflite", "step")
        else:
            proto = onnx_format.convert(endpoint)
            onnx.save(proto, str(folder / runtime / "step.onnx"))
            description = onnx_format.describe(proto)
        document = {
            "format": "genkit-export", "model": f"handmade-{level}-lstm",
            "export": {"format": runtime, "quantize": "none"},
            "signatures": {"step": {"file": f"step.{runtime}", **description}},
            "text": {"level": level, "vocabulary": vocabulary, "end_token": None, "lowercase": True, **fields},
        }
        (folder / runtime / "genkit.json").write_text(json.dumps(document))
    return step


@pytest.mark.parametrize("level", ["char", "word"])
def test_generate_text_follows_the_step_model_contract_greedily(apps_python, tmp_path, level):
    import tensorflow as tf

    vocabulary, fields, prompt, prompt_tokens = TEXT_CASES[level]
    step = _step_export(tmp_path / "export", level)
    end = vocabulary.index(fields["end_token"]) if fields.get("end_token") else None
    # The reference: greedy decoding with the Keras step function, from zero states.
    state = {"state_h_0": tf.zeros((1, 6)), "state_c_0": tf.zeros((1, 6))}
    for token in [vocabulary.index(t) if t in vocabulary else 0 for t in prompt_tokens]:
        outputs = step(tf.constant([token]), **state)
        state = {"state_h_0": outputs["next_state_h_0"], "state_c_0": outputs["next_state_c_0"]}
    generated = []
    for _ in range(12):
        token = int(np.argmax(outputs["logits"][0]))
        if token == end:
            break
        generated.append(vocabulary[token])
        outputs = step(tf.constant([token]), **state)
        state = {"state_h_0": outputs["next_state_h_0"], "state_c_0": outputs["next_state_c_0"]}
    expected = prompt + (" " + " ".join(generated) if level == "word" and generated else "".join(generated))
    for runtime in ("tflite", "onnx"):
        process = run_app(apps_python, "generate_text.py", tmp_path / "export" / runtime, "--prompt", prompt,
                          "--length", 12, "--temperature", 0)
        assert process.stdout.rstrip("\n") == expected, runtime

    sampled = [
        run_app(apps_python, "generate_text.py", tmp_path / "export" / "tflite", "--prompt", prompt, "--length", 20,
                "--temperature", 1.5, "--top-k", 5, "--top-p", 0.9, "--seed", seed).stdout
        for seed in (1, 1)
    ]
    assert sampled[0] == sampled[1] and sampled[0].startswith(prompt)


@pytest.fixture(scope="module")
def text_exports(tmp_path_factory, tiny_text) -> dict:
    """A char-level LSTM and a word-level 2-layer GRU, barely trained (near-random weights make greedy text
    varied), each exported to TFLite and ONNX: {model name: (run folder, exports folder)}."""
    import exporters
    from genkit.registry import get_model_entry

    runs = {}
    for name in ("char-lstm", "word-lstm"):
        run_dir = tmp_path_factory.mktemp("text-runs") / name
        flags = [flag for item in [*get_model_entry(name).tiny_overrides, "learning_rate=1e-5"] for flag in ("--set", item)]
        run_genkit("train", name, "--dataset", f"text:{tiny_text}", "--epochs", 1, "--out", run_dir, "--quiet", *flags)
        out = run_dir / "exports"
        for format_name in ("tflite", "onnx"):
            exporters.export(run_dir, format_name, out=out, verbose=False, parity_samples=8, latency_repeats=2)
        runs[name] = (run_dir, out)
    return runs


@pytest.mark.slow
@pytest.mark.parametrize("name", ["char-lstm", "word-lstm"])
def test_generate_text_greedy_equals_genkit_sample(apps_python, text_exports, name):
    from genkit.runtime.run_folder import RunFolder

    run_dir, out = text_exports[name]
    document = json.loads((out / "tflite" / "genkit.json").read_text())
    assert document["signatures"]["step"]["inputs"]["token"]["dtype"] == "int32"
    assert document["text"]["level"] == name.split("-")[0] and document["text"]["vocabulary"][:1] == ["[UNK]"]
    model = RunFolder(run_dir).load_model()
    continuations = []
    for prompt in ("And God said", "", "In the beginning", "Ge1:3 And the"):
        (expected,) = model.generate_samples(1, 0, prompt=prompt, length=30, temperature=0.0)
        continuations.append(expected[len(prompt):])
        for runtime, folder in (("litert", "tflite"), ("onnx", "onnx")):
            process = run_app(apps_python, "generate_text.py", out / folder, "--prompt", prompt, "--length", 30,
                              "--temperature", 0, "--runtime", runtime)
            assert process.stdout == expected + "\n", (name, runtime, prompt)
    assert len(set("".join(continuations))) > 3, f"{name}: degenerate greedy texts test little: {continuations}"


@pytest.mark.slow
def test_an_int8_step_model_reports_its_bits_per_char_and_greedy_cost(text_exports, tmp_path):
    import exporters

    run_dir, _ = text_exports["char-lstm"]
    folder = exporters.export(run_dir, "tflite", "int8", out=tmp_path, verbose=False, quality_samples=256,
                              latency_repeats=2)["tflite-int8"]
    quality = json.loads((folder / "export_report.json").read_text())["signatures"]["step"]["quality"]
    assert quality["metric"] == "bits_per_char" and quality["tokens"] == 256
    assert np.isfinite(quality["bits_per_char_delta"]) and 0.0 <= quality["greedy_token_agreement"] <= 1.0
    assert quality["summary"].startswith("bpc ")

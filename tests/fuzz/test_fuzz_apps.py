"""Fuzzing the edge apps (apps/*.py) with tampered export folders: a genkit.json of junk, of wrong types, of
missing sections, pointing at missing or garbage model files.

Each app either runs or stops with one line ``APP: error: ...`` and exit status 2. The fast tier runs the
apps' ``main`` in this process (their genkit.json handling needs no runtime: the model files it names are
missing, so no runtime loads one); the slow tier runs them in ``.venv-apps`` (no TensorFlow) on garbage model
files, which a runtime then has to refuse without crashing the process.
"""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import event, example
from hypothesis import strategies as st

from fuzz_support import assert_one_line, json_values, slow_only, tiers, time_budget

REPO = Path(__file__).resolve().parents[2]
APPS = REPO / "apps"
APPS_PYTHON = REPO / ".venv-apps" / "bin" / "python"
APP_NAMES = ("generate_images", "generate_text", "caption_image", "classify")


def _app(name: str):
    sys.path.insert(0, str(APPS))
    import importlib

    return importlib.import_module(name)


# -- tampered export documents ---------------------------------------------------------------------------------------
# Each app's genkit.json as genkit export writes it (model files missing), then mutated: fields deleted, set to junk,
# or given values of another type. Junk documents and junk bytes as well.

F32 = "float32"
TEXT_ENCODER = {"vocabulary": ["[PAD]", "[UNK]", "cat", "a"], "split_pattern": r"\w+", "padding_id": 0, "oov_id": 1,
                "max_text_length": 4}
LOG_MEL = {"sample_rate": 8000, "frame_length": 200, "frame_step": 80, "fft_length": 256, "num_mel_bins": 8,
           "lower_edge_hertz": 20.0, "upper_edge_hertz": 4000.0, "log_offset": 1e-6, "power": 2.0}
SKELETONS = {
    "generate_images": {
        "format": "genkit-export", "model": "cgan", "export": {"format": "tflite"}, "data": {"num_classes": 3},
        "signatures": {"generate": {"file": "generate.tflite", "inputs": {
            "z": {"dtype": F32, "shape": [None, 4], "sampling": {"distribution": "standard_normal"}},
            "label": {"dtype": "int32", "shape": [None]}}, "outputs": {"images": {"dtype": F32, "shape": [None, 2, 2, 1]}}}},
        "preprocessing": {"text": TEXT_ENCODER},
    },
    "generate_text": {
        "format": "genkit-export", "model": "char-lstm", "export": {"format": "onnx"},
        "signatures": {"step": {"file": "step.onnx", "inputs": {
            "token": {"dtype": "int32", "shape": [None]}, "state_h_0": {"dtype": F32, "shape": [None, 6]}},
            "outputs": {"logits": {"dtype": F32, "shape": [None, 5]}, "next_state_h_0": {"dtype": F32, "shape": [None, 6]}}}},
        "text": {"level": "char", "vocabulary": list("?ab c"), "oov_token": "?", "end_token": None, "lowercase": True,
                 "split_pattern": None, "joiner": ""},
    },
    "caption_image": {
        "format": "genkit-export", "model": "captioner", "export": {"format": "tflite"},
        "signatures": {
            "encode": {"file": "encode.tflite", "inputs": {"images": {"dtype": F32, "shape": [None, 4, 4, 3]}},
                       "outputs": {"features": {"dtype": F32, "shape": [None, 2, 8]}, "state_h": {"dtype": F32, "shape": [None, 8]}}},
            "decode_step": {"file": "decode_step.tflite", "inputs": {"token": {"dtype": "int32", "shape": [None]}},
                            "outputs": {"logits": {"dtype": F32, "shape": [None, 6]}}},
        },
        "caption": {"state_names": ["state_h"], "image_shape": [4, 4, 3], "boundary_id": 1, "unknown_id": 0, "max_length": 5,
                    "beam_width": 2, "length_penalty": 0.6, "words": ["[UNK]", "<s>", "a", "cat", "dog", "."]},
    },
    "classify": {
        "format": "genkit-export", "model": "fusion-classifier", "export": {"format": "tflite"},
        "run": {"config": {"inputs": ["image", "caption", "audio"], "class_names": ["a", "b"], "target": "label"}},
        "labels": {"label": ["a", "b"]},
        "signatures": {"classify_encoded": {"file": "classify_encoded.tflite", "inputs": {
            "image": {"dtype": F32, "shape": [None, 8, 8, 3]}, "caption_ids": {"dtype": "int32", "shape": [None, 4]},
            "audio_log_mel": {"dtype": F32, "shape": [None, 8, 8]}, "present": {"dtype": F32, "shape": [None, 3]}},
            "outputs": {name: {"dtype": F32, "shape": [None, 2]} for name in ("probabilities", "modality_weights")}}},
        "preprocessing": {"inputs": {"image": "image", "caption": "text", "audio": "audio"}, "text": TEXT_ENCODER,
                          "audio": {"sample_rate": 8000, "samples": 760, "frames": 8, "log_mel": LOG_MEL}},
    },
    "dual": {
        "format": "genkit-export", "model": "dual-encoder", "export": {"format": "onnx"},
        "signatures": {
            "embed_images": {"file": "embed_images.onnx", "inputs": {"image": {"dtype": F32, "shape": [None, 8, 8, 3]}},
                             "outputs": {"embedding": {"dtype": F32, "shape": [None, 4]}}},
            "embed_text_ids": {"file": "embed_text_ids.onnx", "inputs": {"text_ids": {"dtype": "int32", "shape": [None, 4]}},
                               "outputs": {"embedding": {"dtype": F32, "shape": [None, 4]}}},
        },
        "preprocessing": {"inputs": {"image": "image", "text": "text"}, "text": TEXT_ENCODER},
    },
}


def _paths(value, prefix=()):
    """Every (key path) inside ``value``."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield (*prefix, key)
            yield from _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield (*prefix, index)
            yield from _paths(item, (*prefix, index))


swapped_values = st.one_of(
    json_values, st.sampled_from([None, 0, -1, 1.5, 10**30, "", "x", [], {}, [None], [1, 2, 3], {"a": 1}, True, "(", "string",
                                  float("nan"), [None, -3], [None, None, 4]]),
)


@st.composite
def mutated_documents(draw, skeleton: dict) -> dict:
    import copy

    document = copy.deepcopy(skeleton)
    for _ in range(draw(st.integers(1, 3))):
        paths = list(_paths(document))
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = document
        for key in path[:-1]:
            parent = parent[key]
        if draw(st.booleans()) and isinstance(parent, dict):
            del parent[path[-1]]
        else:
            # A copy: sampled_from gives the same list or dict object each time, and putting one into the document
            # and then into itself would tie examples together (and make a cycle).
            parent[path[-1]] = copy.deepcopy(draw(swapped_values))
    return document


@st.composite
def export_documents(draw, skeleton: dict) -> bytes:
    form = draw(st.sampled_from(["bytes", "json"] + ["mutated"] * 8))
    if form == "bytes":
        return draw(st.binary(max_size=60))
    if form == "json":
        return json.dumps(draw(json_values)).encode()
    return json.dumps(draw(mutated_documents(skeleton))).encode()


def _png(path: Path) -> Path:
    from PIL import Image

    Image.new("RGB", (6, 5), (1, 2, 3)).save(path)
    return path


def _wav(path: Path) -> Path:
    from genkit.data.wav import write_wav

    write_wav(path, [0.0, 0.5, -0.5] * 300, 8000)
    return path


def _argv(app: str, folder: Path, work: Path, extra: list[str]) -> list[str]:
    image = str(_png(work / "a.png"))
    return {
        "generate_images": [str(folder), "--out", str(work / "out.png"), "-n", "2"],
        "generate_text": [str(folder), "--prompt", "ab", "--length", "2"],
        "caption_image": [str(folder), image],
        "classify": [str(folder), "--image", image, "--text", "a cat", "--audio", str(_wav(work / "a.wav"))],
    }[app] + extra


def run_app_here(app: str, argv: list[str]) -> tuple[int, str, str]:
    """(exit status, stdout, stderr) of ``apps/APP.py ARGV`` run in this process."""
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        try:
            code = _app(app).main(argv)
        except SystemExit as exit:
            code = exit.code
    return int(code or 0), stdout.getvalue(), stderr.getvalue()


def _pairs(*pairs):
    """Some of these (flag, value) pairs, flattened into arguments."""
    return st.lists(st.sampled_from(pairs), max_size=2, unique=True).map(lambda chosen: [word for pair in chosen for word in pair])


APP_EXTRAS = {
    "generate_images": _pairs(("--label", "1"), ("--prompt", "a cat"), ("--runtime", "onnx"), ("--signature", "step")),
    "generate_text": _pairs(("--temperature", "0"), ("--top-k", "2"), ("--runtime", "litert")),
    "caption_image": _pairs(("--beam-width", "2"), ("--runtime", "onnx")),
    "classify": _pairs(("--input", "caption=a"), ("--top", "2")),
}
app_cases = st.sampled_from(sorted(SKELETONS)).flatmap(
    lambda kind: st.tuples(st.just("classify" if kind == "dual" else kind), export_documents(SKELETONS[kind]),
                           APP_EXTRAS["classify" if kind == "dual" else kind])
)


@example(case=("generate_images", b"[]", []))  # not an object: AttributeError
@example(case=("generate_images", b'{"format": "genkit-export"}', []))  # no signatures: KeyError
@example(case=("generate_images", b'{"format": "genkit-export", "signatures": {"g": {"file": 3}}}', []))
@example(case=("generate_text", b'{"format": "genkit-export", "text": [], "signatures": {}}', []))
@example(case=("caption_image", b'{"format": "genkit-export", "caption": 1, "signatures": {"encode": 1, "decode_step": 2}}', []))
@example(case=("classify", b'{"format": "genkit-export", "signatures": {"s": {"inputs": {"present": 1}, "outputs": []}}}', []))
def check_tampered_export(tmp_path, case):
    app, document, extra = case
    work = Path(tempfile.mkdtemp(dir=tmp_path))
    folder = work / "export"
    folder.mkdir()
    (folder / "genkit.json").write_bytes(document)
    with time_budget(30):
        code, _, stderr = run_app_here(app, _argv(app, folder, work, extra))
    event(f"{app}: exit {code}")
    event(stderr.replace(str(work), "").split("error: ")[-1][:60])
    assert code in (0, 2), (code, stderr)
    if code == 2:
        assert_one_line(stderr, "error output")
        assert stderr.startswith(f"{app}: error: "), stderr


test_tampered_exports, test_tampered_exports_many = tiers(80, 600, case=app_cases)(check_tampered_export)


# -- in .venv-apps, on garbage model files (slow: a process per example) -------------------------------------------------


def _export_with_garbage(folder: Path, suffix: str, data: bytes) -> None:
    folder.mkdir()
    spec = {"dtype": "float32", "shape": [None, 4]}
    document = {"format": "genkit-export", "model": "dcgan", "export": {"format": suffix},
                "signatures": {"generate": {"file": f"generate.{suffix}",
                                            "inputs": {"z": {**spec, "sampling": {"distribution": "standard_normal"}}},
                                            "outputs": {"images": {"dtype": "float32", "shape": [None, 2, 2, 1]}}}}}
    (folder / "genkit.json").write_text(json.dumps(document))
    (folder / f"generate.{suffix}").write_bytes(data)


def check_garbage_model_file(tmp_path, suffix, data):
    if not APPS_PYTHON.exists():
        pytest.skip("no .venv-apps")
    work = Path(tempfile.mkdtemp(dir=tmp_path))
    _export_with_garbage(work / "export", suffix, data)
    process = subprocess.run(
        [str(APPS_PYTHON), str(APPS / "generate_images.py"), str(work / "export"), "--out", str(work / "x.png"), "-n", "1"],
        capture_output=True, text=True, timeout=120, env={"PATH": "/usr/bin:/bin"},
    )
    assert process.returncode == 2, (process.returncode, process.stderr[-2000:])
    assert_one_line(process.stderr, "error output")
    assert not (work / "x.png").exists()


garbage = st.one_of(
    st.binary(max_size=64),
    st.sampled_from([b"TFL3", b"\x1c\x00\x00\x00TFL3" + b"\x00" * 40, b"\x08\x07\x12\x04test", b"\x08\x07" * 30]),
)
test_garbage_model_files = slow_only(8, suffix=st.sampled_from(["tflite", "onnx"]), data=garbage)(check_garbage_model_file)

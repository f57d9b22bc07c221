"""benchmarks/serving_worst_case.py: the requests it builds come from the bounds a run declares in genkit.json.

No model is trained and nothing is timed: the genkit.json files hold serving sections written by
``Endpoint.describe()`` for declarations shaped like the language models', the captioner's and DCGAN's.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository root: benchmarks
from benchmarks import serving_worst_case as worst  # noqa: E402
from genkit.signatures import ClassCycle, Endpoint, StandardNormal, TensorDeclaration  # noqa: E402


def _run(tmp_path, model, endpoints) -> Path:
    run = tmp_path / model
    run.mkdir()
    signatures = {endpoint.name: endpoint.describe() for endpoint in endpoints}
    (run / "genkit.json").write_text(json.dumps({
        "model": model, "serving": {"path": "serving/3", "version": 3, "signatures": signatures},
    }))
    return run


def _language_model(tmp_path, max_rows=256, max_length=4096) -> Path:
    inputs = (
        TensorDeclaration("prompt", "text", "string", ()),
        TensorDeclaration("length", "parameter", "int32", (), (0, max_length)),
        TensorDeclaration("temperature", "parameter", "float32", ()),
        TensorDeclaration("top_k", "parameter", "int32", (), (0, 75)),
        TensorDeclaration("top_p", "parameter", "float32", (), (0.0, 1.0)),
        TensorDeclaration("seed", "parameter", "int32", ()),
    )
    outputs = (TensorDeclaration("text", "text", "string", ()),)
    endpoint = Endpoint("serving_default", None, inputs, outputs, max_rows=max_rows, row_name="prompts")
    return _run(tmp_path, "char-lstm", [endpoint])


def _options(**changes):
    return worst.arguments([f"--{key.replace('_', '-')}={value}" for key, value in changes.items()])


def _by_kind(requests, kind):
    return [request for request in requests if request["kind"] == kind]


def test_the_worst_language_model_request_takes_every_declared_maximum(tmp_path):
    metadata = worst.serving_metadata(_language_model(tmp_path, max_rows=100, max_length=2048))
    assert metadata["savedmodel"].endswith("serving/3") and metadata["model"] == "char-lstm"
    requests = worst.plan_run(metadata, _options(text_words=512))
    (request,) = _by_kind(requests, "worst")
    assert request["rows"] == 100
    assert request["inputs"]["length"]["fill"] == {"kind": "constant", "value": 2048}
    assert request["inputs"]["prompt"]["fill"] == {"kind": "words", "count": 512}
    assert request["inputs"]["top_k"]["fill"]["value"] == 0 and request["inputs"]["top_p"]["fill"]["value"] == 1.0
    assert request["label"].startswith("100 prompts × length 2048")
    (preview,) = _by_kind(requests, "preview")  # run first: the worst request is estimated from it if far over
    assert preview["rows"] == 100 and preview["inputs"]["length"]["fill"]["value"] == 2048 // worst.PREVIEW
    assert preview["inputs"]["prompt"]["fill"]["count"] == 512 // worst.PREVIEW
    assert request["preview"]["id"] == preview["id"] and requests.index(preview) < requests.index(request)
    scaling = {(r["variable"], r["size"]) for r in _by_kind(requests, "scale")}
    assert scaling == {("rows", 25), ("rows", 100), ("length", 512), ("length", 2048)}


def test_hostile_language_model_requests_push_one_declared_bound_each(tmp_path):
    requests = worst.plan_run(worst.serving_metadata(_language_model(tmp_path)), _options())
    hostile = {request["label"]: request for request in _by_kind(requests, "hostile")}
    rows = hostile["1,000,000 prompts"]
    assert rows["rows"] == 10**6 and rows["expect_message"] == "at most 256 " and rows["hostile_value"] == 10**6
    length = hostile["length 10**9"]
    assert length["rows"] == 1 and length["inputs"]["length"]["poison"] == 10**9 and length["variable"] == "length"
    assert hostile["length -1 (< 0)"]["expect_message"] == "input length must be in"
    assert "variable" not in hostile["length -1 (< 0)"]
    assert hostile["top_k 76 (> 75)"]["inputs"]["top_k"]["poison"] == 76
    assert math.isnan(hostile["temperature NaN"]["inputs"]["temperature"]["poison"])
    assert hostile["top_p inf"]["expect_message"] == "input top_p must be finite"
    assert "seed 10**9" not in hostile and not any(label.startswith("prompt") for label in hostile)
    # temperature declares no range: its negative value is a probe, not a verdict
    (probe,) = _by_kind(requests, "undeclared")
    assert probe["label"].startswith("temperature -1") and probe["expect"] == "either"


def test_a_signature_without_max_rows_is_reported_unbounded(tmp_path):
    z = TensorDeclaration("z", "latent", "float32", (64,), distribution=StandardNormal())
    label = TensorDeclaration("label", "label", "int32", (), (0, 9), distribution=ClassCycle(10))
    images = TensorDeclaration("images", "image", "float32", (28, 28, 1), (0.0, 1.0))
    # Endpoints are bounded by default; one may still declare itself unbounded (max_rows=None).
    run = _run(tmp_path, "cgan", [Endpoint("serving_default", None, (z, label), (images,), max_rows=None)])
    requests = worst.plan_run(worst.serving_metadata(run), _options(unbounded_rows=128))
    (request,) = _by_kind(requests, "worst")
    assert request["rows"] == 128 and "no max_rows" in request["label"]
    assert request["inputs"]["z"]["fill"] == {"kind": "normal"}
    assert request["inputs"]["label"]["fill"] == {"kind": "cycle", "low": 0, "count": 10}
    (unbounded,) = _by_kind(requests, "unbounded")
    assert unbounded["label"] == "1,000,000 rows (248 MB of input)"
    assert {r["size"] for r in _by_kind(requests, "scale")} == {128, 512}
    rows = worst.evaluate(worst.serving_metadata(run), requests, {}, _options())
    ok, line = worst.verdicts(rows, _options())["cgan"]
    assert not ok and "no max_rows declared" in line


def test_the_worst_caption_request_runs_beam_search_and_sampling_and_large_rows_are_capped(tmp_path):
    image = TensorDeclaration("image", "image", "float32", (32, 32, 3), (0.0, 1.0))
    decoding = (
        TensorDeclaration("beam_width", "parameter", "int32", (), (1, 64)),
        TensorDeclaration("length_penalty", "parameter", "float32", (), (0.0, 5.0)),
        TensorDeclaration("temperature", "parameter", "float32", (), (0.0, 100.0)),
        TensorDeclaration("seed", "parameter", "int32", ()),
    )
    captions = (TensorDeclaration("captions", "text", "string", ()),)
    files = TensorDeclaration("image_bytes", "file", "string", ())
    bounded = {"max_rows": 256, "row_name": "images"}
    run = _run(tmp_path, "captioner", [
        Endpoint("caption", None, (image, *decoding), captions, **bounded),
        Endpoint("caption_files", None, (files,), captions, **bounded),
    ])
    requests = worst.plan_run(worst.serving_metadata(run), _options(hostile_megabytes=64))
    (request,) = _by_kind(requests, "worst")
    assert request["signature"] == "caption" and request["rows"] == 256
    assert request["inputs"]["beam_width"]["fill"]["value"] == 64
    assert request["inputs"]["temperature"]["fill"] == {"kind": "constant", "value": 0.0, "last_row": 1.0}
    assert request["inputs"]["image"]["fill"] == {"kind": "uniform", "low": 0.0, "high": 1.0}
    rows = next(r for r in _by_kind(requests, "hostile") if r.get("variable") == "rows" and r["signature"] == "caption")
    assert rows["rows"] == 64 * 2**20 // (32 * 32 * 3 * 4 + 4 + 4 + 4 + 4) and "sent: " in rows["label"]
    file_requests = [r for r in requests if r["signature"] == "caption_files"]
    assert not _by_kind(file_requests, "worst")  # file signatures are timed with --time-files only
    assert {r["kind"] for r in file_requests} == {"hostile", "undeclared"}
    assert file_requests[0]["inputs"]["image_bytes"]["fill"] == {"kind": "png", "shape": [32, 32, 3]}


def test_materialized_inputs_poison_one_element_and_keep_the_declared_shapes():
    spec = {"dtype": "float32", "row_shape": [2, 3], "fill": {"kind": "normal"}, "poison": float("nan")}
    values = worst._materialize(spec, 4, seed=0)
    assert values.shape == (4, 2, 3) and values.dtype == np.float32
    assert np.isnan(values).sum() == 1 and np.isnan(values[-1, -1, -1])
    cycle = {"kind": "cycle", "low": 1, "count": 3}
    labels = worst._materialize({"dtype": "int32", "row_shape": [], "fill": cycle}, 5, 0)
    assert labels.tolist() == [1, 2, 3, 1, 2]
    last_sampled = {"kind": "constant", "value": 0.0, "last_row": 1.0}
    mixed = worst._materialize({"dtype": "float32", "row_shape": [], "fill": last_sampled}, 3, 0)
    assert mixed.tolist() == [0.0, 0.0, 1.0]
    text = worst._materialize({"dtype": "string", "row_shape": [], "fill": {"kind": "words", "count": 7}}, 2, 0)
    assert len(text[0].split()) == 7


def test_extrapolation_is_linear_from_two_accepted_sizes():
    assert worst.extrapolate(1024, 1.0, 4096, 2.5, 10**9) == pytest.approx(2.5 + 1.5 / 3072 * (10**9 - 4096))
    assert worst.extrapolate(64, 0.3, 256, 0.2, 1000) == pytest.approx(0.2 / 256 * 1000)  # noise: proportional

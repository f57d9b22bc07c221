"""fusion-classifier: every fusion method on three modalities, a missing modality, evaluation, files as TF Serving
clients send them, and the command line."""

from __future__ import annotations

import base64
import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from conftest import read_json, run_cli
from genkit.config import TrainConfig, parse_overrides
from genkit.data.dataset_registry import load_dataset
from genkit.models.fusion.fusion_classifier_config import FUSIONS
from genkit.registry import get_model_entry

TINY = list(get_model_entry("fusion-classifier").tiny_overrides)


def _build(tiny_manifest, fusion, **changes):
    entry = get_model_entry("fusion-classifier")
    config = entry.config_class.from_dict({**parse_overrides(TINY), "fusion": fusion, **changes})
    data, config = entry.model_class.prepare_data(config, TrainConfig.from_dict({"dataset": f"manifest:{tiny_manifest}"}))
    keras.utils.set_random_seed(0)
    model = entry.model_class.from_hyperparameters(config)
    model.compile_for_training(config, seed=0)
    return model, data


@pytest.mark.parametrize("fusion", FUSIONS)
def test_every_fusion_trains_on_three_modalities_and_ignores_a_missing_one(tiny_manifest, fusion):
    model, data = _build(tiny_manifest, fusion)
    assert model.preprocessor.input_types == ["image", "text", "audio"]
    fusion_layer = [layer for layer in model.network.layers if layer.name == "fusion"]
    before = [w.numpy().copy() for w in fusion_layer[0].weights] if fusion_layer else []
    for batch in model.training_dataset(data, 16, shuffle_seed=0).take(2):
        logs = model.train_step(batch)
    assert np.isfinite(logs["loss"]) and 0 <= logs["accuracy"] <= 1
    if fusion_layer:  # the fusion's own weights (a weighted fusion's modality weights among them) train
        assert all(not np.array_equal(old, w.numpy()) for old, w in zip(before, fusion_layer[0].weights))

    partial = model.endpoints()["classify_partial"]
    inputs = model.endpoint_inputs("classify_partial", 6, seed=0, data=data)
    inputs["present"] = np.tile(np.array([1, 0, 1], np.float32), (6, 1))  # the text is missing
    outputs = partial.call(inputs)
    np.testing.assert_allclose(outputs["probabilities"].sum(axis=-1), 1, atol=1e-5)
    assert np.all(outputs["modality_weights"][:, 1] == 0)
    other_text = dict(inputs, text=np.array(["completely different words"] * 6, dtype=object))
    np.testing.assert_allclose(partial.call(other_text)["probabilities"], outputs["probabilities"], atol=1e-6)


def test_the_unimodal_loss_adds_each_inputs_own_classifier_over_the_present_inputs(tiny_manifest):
    model, data = _build(tiny_manifest, "gated", unimodal_loss_weight=0.5, modality_dropout=0.0, dropout=0.0)
    batch = next(iter(model.training_dataset(data, 16, shuffle_seed=0)))
    labels = tf.cast(batch["label"], tf.int32)
    outputs = model.network(model.network_inputs(batch, tf.ones([16, 3])), training=True)
    assert outputs["unimodal_logits"].shape == (16, 3, 3)

    def cross_entropy(logits):
        return tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits).numpy()

    unimodal = np.mean([cross_entropy(outputs["unimodal_logits"][:, m]) for m in range(3)], axis=0)
    expected = np.mean(cross_entropy(outputs["logits"]) + 0.5 * unimodal)
    heads = [model.network.get_layer(f"{name}_classifier") for name in ("image", "text", "audio")]
    before = [head.kernel.numpy().copy() for head in heads]
    assert float(model.train_step(batch)["loss"]) == pytest.approx(expected, rel=1e-5)
    assert all(not np.array_equal(head.kernel.numpy(), old) for head, old in zip(heads, before))
    # A missing input's classifier does not count; without the weight, or for late fusion, there are no extra heads.
    present = tf.constant([[1.0, 0.0, 1.0]] * 16)
    masked = model.unimodal_cross_entropy(labels, outputs["unimodal_logits"], present).numpy()
    np.testing.assert_allclose(
        masked, (cross_entropy(outputs["unimodal_logits"][:, 0]) + cross_entropy(outputs["unimodal_logits"][:, 2])) / 2, rtol=1e-5
    )
    for fusion, weight in (("gated", 0.0), ("late", 0.5)):
        other, _ = _build(tiny_manifest, fusion, unimodal_loss_weight=weight)
        assert "unimodal_logits" not in other.network.output


def test_evaluation_reports_accuracy_f1_ablations_and_learned_weights(tiny_manifest):
    model, data = _build(tiny_manifest, "weighted")
    for _ in range(3):
        for batch in model.training_dataset(data, 16, shuffle_seed=0):
            model.train_step(batch)
    metrics = model.evaluation_metrics(data)
    for name in ("image", "text", "audio"):
        assert 0 <= metrics[f"accuracy_without_{name}"] <= 1 and 0 <= metrics[f"accuracy_only_{name}"] <= 1
    weights = [metrics[f"modality_weight_{name}"] for name in ("image", "text", "audio")]
    assert abs(sum(weights) - 1) < 1e-5 and weights != [1 / 3] * 3
    assert 0 <= metrics["macro_f1"] <= 1 and metrics["examples"] == data.num_examples("test")
    assert "top5_accuracy" not in metrics  # three classes


@pytest.mark.slow
def test_tf_serving_rest_json_with_base64_files_gives_the_raw_inputs_predictions(tmp_path, tiny_manifest):
    """A REST client sends {"instances": [{"image_bytes": {"b64": ...}, "text": ..., "audio_bytes": {"b64": ...}}]};
    TF Serving decodes every {"b64": ...} to bytes and stacks each key into a batch, then runs the signature."""
    model, data = _build(tiny_manifest, "gated")
    from genkit.runtime.run_folder import RunFolder

    RunFolder(tmp_path).export_serving(model, 1)
    serving = tf.saved_model.load(str(tmp_path / "serving" / "1"))
    inputs = model.endpoint_inputs("classify_files", 4, seed=2, data=data)
    request = json.dumps({"instances": [
        {name: {"b64": base64.b64encode(value[row]).decode("ascii")} if name.endswith("_bytes") else value[row]
         for name, value in inputs.items()}
        for row in range(4)
    ]})

    def decode(value):  # TF Serving's REST rule for binary values
        return base64.b64decode(value["b64"]) if isinstance(value, dict) and set(value) == {"b64"} else value

    instances = json.loads(request)["instances"]
    columns = {name: tf.constant([decode(instance[name]) for instance in instances]) for name in instances[0]}
    from_files = serving.signatures["classify_files"](**columns)
    raw = model.endpoint_inputs("serving_default", 4, seed=2, data=data)
    from_raw = serving.signatures["serving_default"](**{name: tf.constant(value) for name, value in raw.items()})
    # PNG is lossless; the WAV holds 16-bit samples, so the audio differs by at most 2^-16.
    np.testing.assert_allclose(from_files["probabilities"].numpy(), from_raw["probabilities"].numpy(), atol=1e-3)
    assert [label.decode() for label in from_files["label"].numpy()] == [label.decode() for label in from_raw["label"].numpy()]


@pytest.mark.slow
def test_train_evaluate_sample_and_bad_input_through_the_command_line(tmp_path, tiny_manifest):
    run = tmp_path / "run"
    sets = [flag for item in TINY for flag in ("--set", item)]
    run_cli("train", "fusion-classifier", "--dataset", f"manifest:{tiny_manifest}", "--epochs", 2, "--batch-size", 16,
            "--out", run, "--quiet", *sets, "--set", "fusion=attention")
    metadata = read_json(run / "genkit.json")
    assert metadata["data"]["features"] == {"image": "image", "text": "text", "audio": "audio", "label": "label"}
    assert metadata["training"]["example_unit"] == "examples" and "samples" not in metadata["files"]
    assert sorted(metadata["serving"]["signatures"]) == ["classify_files", "classify_partial", "serving_default"]
    run_cli("evaluate", run)
    metrics = read_json(run / "metrics.json")
    assert {"accuracy", "macro_f1", "accuracy_without_audio", "modality_weight_audio"} <= set(metrics)
    run_cli("sample", run, "-n", 5, "--examples", f"manifest:{tiny_manifest}", "--out", tmp_path / "predictions.json")
    predictions = read_json(tmp_path / "predictions.json")["predictions"]
    assert len(predictions) == 5 and all(p["label"] in metadata["config"]["class_names"] for p in predictions)
    printed = run_cli("sample", run, "-n", 5, "--examples", f"manifest:{tiny_manifest}")
    assert json.loads(printed.stdout)["predictions"] == predictions  # without --out: printed as JSON

    # Another labelled file: every row is evaluated, its class names mapped to the run's class ids.
    rows = [json.loads(line) for line in tiny_manifest.read_text().splitlines()]
    subset = [row for row in rows if row["label"] != "Animals & Nature"]  # two classes: ids 0, 1 in this file
    for row in subset:
        row["image"], row["audio"] = str(tiny_manifest.parent / row["image"]), str(tiny_manifest.parent / row["audio"])
    other = tmp_path / "other.jsonl"
    other.write_text("".join(json.dumps(row) + "\n" for row in subset))
    run_cli("evaluate", run, "--dataset", f"manifest:{other}")
    metrics = read_json(run / "metrics.json")
    run_cli("sample", run, "-n", 100, "--examples", f"manifest:{other}", "--out", tmp_path / "other.json")
    predicted = read_json(tmp_path / "other.json")["predictions"]
    data = load_dataset(f"manifest:{other}", ("image",), "the test")
    truth = [data.label_names["label"][i] for split in data.splits.values() for i in split["label"]]
    assert metrics["examples"] == len(subset) == len(predicted)
    assert metrics["accuracy"] == pytest.approx(np.mean([p["label"] == t for p, t in zip(predicted, truth)]))

    failed = run_cli("train", "fusion-classifier", "--dataset", f"manifest:{tiny_manifest}", "--set", "target=text",
                     "--out", tmp_path / "bad", check=False)
    assert failed.returncode == 2 and len(failed.stderr.strip().splitlines()) == 1 and "target" in failed.stderr
    assert not (tmp_path / "bad").exists()
    failed = run_cli("sample", run, "--out", tmp_path / "p.json", check=False)
    assert failed.returncode == 2 and "--examples" in failed.stderr


@pytest.mark.slow
def test_int8_tflite_reports_its_accuracy_cost_against_the_runs_own_evaluation(tmp_path, tiny_manifest):
    import exporters

    run = tmp_path / "run"
    sets = [flag for item in TINY for flag in ("--set", item)]
    run_cli("train", "fusion-classifier", "--dataset", f"manifest:{tiny_manifest}", "--epochs", 8, "--batch-size", 16,
            "--out", run, "--quiet", *sets)
    run_cli("evaluate", run)
    for quantize in ("none", "int8"):
        exporters.export(run, "tflite", quantize=quantize, out=tmp_path / "exports", verbose=False, parity_samples=8,
                         latency_repeats=2)
    float_report = read_json(tmp_path / "exports" / "tflite" / "export_report.json")["signatures"]["classify_encoded"]
    report = read_json(tmp_path / "exports" / "tflite-int8" / "export_report.json")["signatures"]["classify_encoded"]
    quality = report["quality"]
    # Keras' side of the cost is the accuracy `genkit evaluate` measured on the same test split.
    assert quality["keras_accuracy"] == pytest.approx(read_json(run / "metrics.json")["accuracy"])
    assert quality["accuracy_delta"] == pytest.approx(quality["export_accuracy"] - quality["keras_accuracy"])
    assert quality["num_samples"] == read_json(run / "metrics.json")["examples"] and 0 <= quality["agreement"] <= 1
    assert report["flex_ops"] == [] and "QUANTIZE" in report["tflite_ops"]
    assert float_report["parity"]["passed"] is True

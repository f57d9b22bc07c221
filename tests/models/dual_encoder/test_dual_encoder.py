"""dual-encoder: the contrastive loss learns, retrieval metrics, global negatives across replicas."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from conftest import run_python
from genkit.config import TrainConfig, parse_overrides
from genkit.evaluation.retrieval import ranks_of_matches, recall_at_k
from genkit.registry import get_model_entry

TINY = list(get_model_entry("dual-encoder").tiny_overrides)


def _build(tiny_manifest, **changes):
    entry = get_model_entry("dual-encoder")
    config = entry.config_class.from_dict({**parse_overrides(TINY), **changes})
    data, config = entry.model_class.prepare_data(config, TrainConfig.from_dict({"dataset": f"manifest:{tiny_manifest}"}))
    keras.utils.set_random_seed(0)
    model = entry.model_class.from_hyperparameters(config)
    model.compile_for_training(config, seed=0)
    return model, data


def test_recall_counts_ties_against_the_match():
    similarity = np.array([[0.9, 0.1, 0.0], [0.5, 0.5, 0.2], [0.3, 0.2, 0.1]])
    assert list(ranks_of_matches(similarity)) == [1, 2, 3]
    assert recall_at_k(similarity, 1) == pytest.approx(1 / 3) and recall_at_k(similarity, 3) == 1


@pytest.mark.slow
def test_the_contrastive_loss_falls_and_retrieval_beats_chance_on_the_training_pairs(tiny_manifest):
    model, data = _build(tiny_manifest, text_reference="first")
    assert model.preprocessor.input_names == ["image", "text"]
    losses = []
    for epoch in range(25):
        for batch in model.training_dataset(data, 16, shuffle_seed=epoch):
            losses.append(float(model.train_step(batch)["loss"]))
    assert np.mean(losses[-3:]) < 0.7 * np.mean(losses[:3])
    data.evaluation_split = "train"
    metrics = model.evaluation_metrics(data)
    assert metrics["text_to_image_recall@5"] > 2 * metrics["chance_recall@5"]
    assert metrics["image_to_text_recall@10"] >= metrics["image_to_text_recall@1"]
    image_vectors = model.endpoints()["embed_images"].call(model.endpoint_inputs("embed_images", 4, 0, data=data))
    np.testing.assert_allclose(np.linalg.norm(image_vectors["image_embeddings"], axis=-1), 1, atol=1e-5)


@pytest.mark.slow
def test_two_replicas_contrast_against_the_whole_global_batch(tiny_manifest):
    """One step on two logical devices gives the weights of one step on one device (negatives gathered)."""
    code = f"""
import numpy as np, tensorflow as tf
tf.config.set_logical_device_configuration(tf.config.list_physical_devices("CPU")[0], [tf.config.LogicalDeviceConfiguration()] * 2)
import keras
from genkit.config import TrainConfig, parse_overrides
from genkit.registry import get_model_entry
entry = get_model_entry("dual-encoder")
config = entry.config_class.from_dict({{**parse_overrides({TINY!r}), "text_reference": "first", "dropout": 0.0}})
data, config = entry.model_class.prepare_data(config, TrainConfig.from_dict({{"dataset": "manifest:{tiny_manifest}"}}))
results = []
for strategy in (tf.distribute.OneDeviceStrategy("/cpu:0"), tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])):
    keras.utils.set_random_seed(0)
    with strategy.scope():
        model = entry.model_class.from_hyperparameters(config)
        model.compile_for_training(config, seed=0)
    batch = next(iter(strategy.experimental_distribute_dataset(model.training_dataset(data, 16, 0))))
    logs = strategy.run(tf.function(model.train_step), args=(batch,))
    results.append(([w.numpy() for w in model.weights], float(strategy.reduce("MEAN", logs["loss"], axis=None))))
(one, one_loss), (two, two_loss) = results
print("loss", one_loss, two_loss)
print("max", max(float(np.max(np.abs(a - b))) for a, b in zip(one, two)))
"""
    out = run_python(code)
    losses = [float(v) for v in out.split("loss ")[1].split()[:2]]
    assert losses[0] == pytest.approx(losses[1], rel=1e-5), out
    assert float(out.split("max ")[1].split()[0]) < 1e-5, out


@pytest.mark.slow
def test_edge_exports_report_their_recall_cost_for_each_tower(tmp_path, tiny_manifest):
    import exporters
    from conftest import read_json, run_cli

    run = tmp_path / "run"
    sets = [flag for item in TINY for flag in ("--set", item)]
    run_cli("train", "dual-encoder", "--dataset", f"manifest:{tiny_manifest}", "--epochs", 4, "--batch-size", 16,
            "--out", run, "--quiet", *sets)
    for format_name, quantize in (("onnx", "none"), ("tflite", "int8")):
        exporters.export(run, format_name, quantize=quantize, out=tmp_path / "exports", verbose=False, parity_samples=8,
                         latency_repeats=2)
    onnx = read_json(tmp_path / "exports" / "onnx" / "export_report.json")["signatures"]
    int8 = read_json(tmp_path / "exports" / "tflite-int8" / "export_report.json")["signatures"]
    assert sorted(onnx) == sorted(int8) == ["embed_images", "embed_text_ids"]
    for signature, report in onnx.items():
        assert report["parity"]["passed"] is True
    for signature, report in int8.items():
        quality = report["quality"]
        assert quality["metric"] == ("image_to_text_recall@1" if signature == "embed_images" else "text_to_image_recall@1")
        assert quality["recall@1_delta"] == pytest.approx(quality["export_recall@1"] - quality["keras_recall@1"])
        assert 0 <= quality["export_recall@1"] <= 1 and report["flex_ops"] == []

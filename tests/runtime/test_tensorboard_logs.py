"""The TensorBoard logs of a run (``RUN/logs/train``), read back with TensorBoard's own reader.

Tiny runs trained in this process: step scalars at the global steps, epoch scalars equal to
history.json, learning rates, the sample grid or generated text of each epoch, weight histograms
(and none with ``--no-histograms``), HParams, and a resumed run continuing the step axis.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import read_json, run_cli, tiny_set_flags
from genkit.registry import get_model_entry
from genkit.commands.train import train

STEPS_PER_EPOCH = 256 // 64  # tiny_npz's 256 images in batches of 64


def _read_logs(run_dir: Path):
    """An EventAccumulator over ``run_dir/logs/train`` holding every event (no sampling, no purging)."""
    from tensorboard.backend.event_processing import event_accumulator

    accumulator = event_accumulator.EventAccumulator(
        str(run_dir / "logs" / "train"),
        size_guidance={kind: 0 for kind in event_accumulator.DEFAULT_SIZE_GUIDANCE},
        purge_orphaned_data=False,
    )
    accumulator.Reload()
    return accumulator


def _values(accumulator, tag: str) -> list[tuple[int, np.ndarray]]:
    """``[(step, value)]`` of a tag (TF2 summaries are tensor events)."""
    from tensorboard.util import tensor_util

    return [(event.step, tensor_util.make_ndarray(event.tensor_proto)) for event in accumulator.Tensors(tag)]


def _scalars(accumulator, tag: str) -> dict[int, float]:
    values = _values(accumulator, tag)
    steps = [step for step, _ in values]
    assert len(steps) == len(set(steps)), f"{tag}: a step written twice: {steps}"
    return {step: float(value) for step, value in values}


def _plugin(accumulator, tag: str) -> str:
    return accumulator.SummaryMetadata(tag).plugin_data.plugin_name


def _hparams(accumulator, tag: str):
    from tensorboard.plugins.hparams import plugin_data_pb2

    return plugin_data_pb2.HParamsPluginData.FromString(accumulator.SummaryMetadata(tag).plugin_data.content)


def _proto_value(value):
    kind = value.WhichOneof("kind")
    return {"number_value": value.number_value, "string_value": value.string_value,
            "bool_value": value.bool_value}[kind]


def _metrics(accumulator) -> list[str]:
    """The names of the train step's metrics (``d_loss``, ``loss``, ...): what ``step/`` logs."""
    return [tag.removeprefix("step/") for tag in accumulator.Tags()["tensors"] if tag.startswith("step/")]


def _assert_close(actual: float, expected: float):
    assert actual == pytest.approx(float(np.float32(expected)), rel=1e-6, abs=1e-7)


# -- an image model: dcgan, 2 epochs of 4 steps, step scalars every 2 steps --------------------------


@pytest.fixture(scope="module")
def dcgan_run(tmp_path_factory, tiny_npz):
    run_dir = tmp_path_factory.mktemp("tensorboard") / "dcgan"
    overrides = [*get_model_entry("dcgan").tiny_overrides, "train.log_every_steps=2", "train.num_sample_images=16"]
    result = train("dcgan", overrides=overrides, out=run_dir, dataset=f"npz:{tiny_npz}", epochs=2, batch_size=64,
                   verbose=0)
    return result, _read_logs(run_dir)


def test_step_scalars_are_at_the_global_steps_and_end_each_epoch_at_its_value(dcgan_run):
    result, logs = dcgan_run
    history = read_json(result.run_dir / "history.json")
    metrics = _metrics(logs)
    assert {"d_loss", "g_loss", "real_score", "fake_score"} <= set(metrics)
    for name in metrics:
        steps = _scalars(logs, f"step/{name}")
        assert sorted(steps) == [2, 4, 6, 8], name
        assert _plugin(logs, f"step/{name}") == "scalars"
        # The step logs are the epoch's running means: the epoch's last step is the epoch's value.
        for record in history:
            _assert_close(steps[record["epoch"] * STEPS_PER_EPOCH], record[name])


def test_learning_rates_are_the_optimizers(dcgan_run):
    result, logs = dcgan_run
    config = read_json(result.run_dir / "config.json")["config"]
    optimizers = {"generator": result.model.generator_optimizer, "discriminator": result.model.discriminator_optimizer}
    for name, optimizer in optimizers.items():
        rates = _scalars(logs, f"learning_rate/{name}")
        assert sorted(rates) == [2, 4, 6, 8]
        for rate in rates.values():
            _assert_close(rate, float(optimizer.learning_rate))
            _assert_close(rate, config[f"{name}_learning_rate"])


def test_epoch_scalars_are_at_the_epoch_numbers_and_equal_the_history(dcgan_run):
    result, logs = dcgan_run
    history = read_json(result.run_dir / "history.json")
    for name in _metrics(logs):
        values = _scalars(logs, f"epoch/{name}")
        assert sorted(values) == [1, 2]
        for record in history:
            _assert_close(values[record["epoch"]], record[name])
    seconds = _scalars(logs, "epoch/seconds")
    speed = _scalars(logs, "epoch/images_per_second")  # dcgan's example unit
    assert sorted(seconds) == sorted(speed) == [1, 2]
    for epoch in (1, 2):
        assert seconds[epoch] > 0
        assert speed[epoch] == pytest.approx(STEPS_PER_EPOCH * 64 / seconds[epoch], rel=1e-3)
    # The final metrics at the run's last step equal the last epoch's.
    for name in _metrics(logs):
        assert _scalars(logs, f"final/{name}") == {8: pytest.approx(_scalars(logs, f"epoch/{name}")[2])}


def test_one_sample_image_per_epoch_equal_to_the_sample_file(dcgan_run):
    import tensorflow as tf

    result, logs = dcgan_run
    assert _plugin(logs, "samples") == "images"
    images = _values(logs, "samples")
    assert [step for step, _ in images] == [1, 2]
    for epoch, value in images:
        width, height, png = value  # the images plugin's [width, height, encoded image, ...]
        pixels = tf.io.decode_png(png).numpy()
        with Image.open(result.run_dir / "samples" / f"epoch_{epoch:03d}.png") as image:
            expected = np.asarray(image)
        if expected.ndim == 2:
            expected = expected[..., None]
        assert (int(width), int(height)) == (expected.shape[1], expected.shape[0])
        np.testing.assert_array_equal(pixels, expected)
    # Different epochs, different samples.
    assert images[0][1][2] != images[1][1][2]


def test_weight_histograms_of_every_network_match_the_weights(dcgan_run):
    result, logs = dcgan_run
    tags = [tag for tag in logs.Tags()["tensors"] if tag.startswith("weights/")]
    assert {tag.split("/")[1] for tag in tags} == {"generator", "discriminator", "generator_average"}
    for tag in tags:
        assert _plugin(logs, tag) == "histograms"
        assert [step for step, _ in _values(logs, tag)] == [1, 2]
    # After the last epoch, a histogram counts the final weight's values, from its minimum to its maximum.
    kernel = np.asarray(result.model.generator.get_layer("project").kernel)
    buckets = _values(logs, "weights/generator/project/kernel")[-1][1]  # [(left, right, count)]
    assert buckets[:, 2].sum() == kernel.size
    assert buckets[0, 0] == pytest.approx(kernel.min()) and buckets[-1, 1] == pytest.approx(kernel.max())


def test_hparams_hold_the_config_and_a_completed_run_ends_in_success(dcgan_run):
    from tensorboard.plugins.hparams import api_pb2

    result, logs = dcgan_run
    resolved = read_json(result.run_dir / "config.json")
    start = _hparams(logs, "_hparams_/session_start_info").session_start_info
    assert start.group_name == result.run_dir.name
    hparams = {name: _proto_value(value) for name, value in start.hparams.items()}
    assert hparams["model"] == "dcgan"
    fields = {name: value for name, value in resolved["config"].items() if not isinstance(value, (list, type(None)))}
    assert fields and all(hparams[name] == pytest.approx(value) for name, value in fields.items())
    assert hparams["train.log_every_steps"] == 2 and hparams["train.histograms"] is True
    assert hparams["train.batch_size"] == 64 and hparams["train.epochs"] == 2
    end_events = _values(logs, "_hparams_/session_end_info")
    assert [step for step, _ in end_events] == [8]
    assert _hparams(logs, "_hparams_/session_end_info").session_end_info.status == api_pb2.STATUS_SUCCESS


def test_no_histograms_flag_leaves_them_out(tmp_path, tiny_npz):
    run_dir = tmp_path / "run"
    run_cli("train", "dcgan", "--dataset", f"npz:{tiny_npz}", "--epochs", 1, "--batch-size", 64, "--out", run_dir,
            "--quiet", "--no-histograms", *tiny_set_flags(["train.num_sample_images=4"]))
    logs = _read_logs(run_dir)
    tags = logs.Tags()["tensors"]
    assert not [tag for tag in tags if tag.startswith("weights/")]
    assert "epoch/d_loss" in tags and "samples" in tags
    # Default every 10 steps: 4 steps give no step scalars, and the epoch's still come.
    assert not [tag for tag in tags if tag.startswith("step/")]
    assert read_json(run_dir / "config.json")["train"]["histograms"] is False


# -- a language model: generated text per epoch ----------------------------------------------------


def test_a_language_model_logs_its_generated_text_per_epoch(tmp_path, tiny_text):
    run_dir = tmp_path / "char-lstm"
    overrides = [*get_model_entry("char-lstm").tiny_overrides, "train.log_every_steps=1"]
    result = train("char-lstm", overrides=overrides, out=run_dir, dataset=f"text:{tiny_text}", epochs=2,
                   batch_size=64, verbose=0)
    logs = _read_logs(run_dir)
    assert _plugin(logs, "samples") == "text"
    texts = _values(logs, "samples")
    assert [step for step, _ in texts] == [1, 2]
    for epoch, value in texts:
        written = (run_dir / "samples" / f"epoch_{epoch:03d}.txt").read_text(encoding="utf-8")
        assert f"--- epoch {epoch}, temperature 0.0 ---" in written
        assert value.item().decode("utf-8") == f"```\n{written}\n```"
    assert "images" not in logs.Tags()["tensors"]

    # The example unit of a language model, and its annealed learning rate: the rate each step used.
    history = read_json(run_dir / "history.json")
    assert sorted(_scalars(logs, "epoch/windows_per_second")) == [1, 2]
    _assert_close(_scalars(logs, "epoch/loss")[2], history[-1]["loss"])
    rates = _scalars(logs, "learning_rate/optimizer")
    total = len(rates)
    assert sorted(rates) == list(range(1, total + 1)) and total % 2 == 0 and total >= 4
    assert sorted(_scalars(logs, "step/loss")) == sorted(rates)
    config = read_json(run_dir / "config.json")["config"]
    assert config["learning_rate_schedule"] == "linear"
    for step, rate in rates.items():  # step g trains at progress (g - 1) / total
        _assert_close(rate, config["learning_rate"] * (1 - (step - 1) / total))
    _assert_close(rates[total], float(result.model.optimizer.learning_rate))


# -- a resumed run continues the step axis -----------------------------------------------------------


def _event_steps(path: Path, tag: str) -> list[int]:
    from tensorboard.backend.event_processing import event_file_loader

    return [
        event.step for event in event_file_loader.EventFileLoader(str(path)).Load()
        if any(value.tag == tag for value in event.summary.value)
    ]


def _session_ends(path: Path) -> list[tuple[int, int]]:
    """``[(step, status)]`` of the HParams session ends in one event file."""
    from tensorboard.backend.event_processing import event_file_loader
    from tensorboard.plugins.hparams import plugin_data_pb2

    return [
        (event.step, plugin_data_pb2.HParamsPluginData.FromString(value.metadata.plugin_data.content).session_end_info.status)
        for event in event_file_loader.EventFileLoader(str(path)).Load()
        for value in event.summary.value if value.tag == "_hparams_/session_end_info"
    ]


def test_a_resumed_run_continues_the_step_axis(tmp_path, tiny_npz):
    from tensorboard.plugins.hparams import api_pb2

    run_dir = tmp_path / "run"
    arguments = ["train", "dcgan", "--dataset", f"npz:{tiny_npz}", "--epochs", 2, "--batch-size", 64,
                 "--out", run_dir, "--quiet", *tiny_set_flags(["train.log_every_steps=1", "train.num_sample_images=4"])]
    # A time budget spent after the first step stops the run there; --resume trains the other 7 steps.
    run_cli(*arguments, "--time-limit", "0.00001")
    assert read_json(run_dir / "genkit.json")["training"]["global_steps"] == 1
    first_session = set((run_dir / "logs" / "train").glob("events.out.tfevents.*"))
    assert len(first_session) == 1
    assert _event_steps(next(iter(first_session)), "step/d_loss") == [1]
    assert _event_steps(next(iter(first_session)), "epoch/d_loss") == []

    run_cli(*arguments, "--resume")
    second_session = set((run_dir / "logs" / "train").glob("events.out.tfevents.*")) - first_session
    assert len(second_session) == 1
    (resumed_file,) = second_session
    assert _event_steps(resumed_file, "step/d_loss") == list(range(2, 2 * STEPS_PER_EPOCH + 1))
    assert _event_steps(resumed_file, "epoch/d_loss") == [1, 2]

    logs = _read_logs(run_dir)
    assert sorted(_scalars(logs, "step/d_loss")) == list(range(1, 2 * STEPS_PER_EPOCH + 1))
    # The stopped session ends without success (it can be resumed), the finished one in success.
    assert _session_ends(next(iter(first_session))) == [(1, api_pb2.STATUS_UNKNOWN)]
    assert _session_ends(resumed_file) == [(8, api_pb2.STATUS_SUCCESS)]
    # What TensorBoard itself shows (orphaned data purged): the whole step axis, once.
    from tensorboard.backend.event_processing import event_accumulator

    shown = event_accumulator.EventAccumulator(
        str(run_dir / "logs" / "train"), size_guidance={kind: 0 for kind in event_accumulator.DEFAULT_SIZE_GUIDANCE}
    )
    shown.Reload()
    assert sorted(_scalars(shown, "step/d_loss")) == list(range(1, 2 * STEPS_PER_EPOCH + 1))
    assert json.loads((run_dir / "history.json").read_text())[-1]["epoch"] == 2

"""The shared harness: every registered model trains, changes every network, reloads with identical outputs (in
this process; in a fresh one in the slow tier), trains through the CLI on two mirrored devices, and serves every signature."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from conftest import run_genkit, run_python
from genkit.config import TrainConfig, parse_overrides
from genkit.registry import get_model_entry, registered_models
from genkit.tasks.paired_task import PairedDataTask

MODEL_NAMES = [entry.name for entry in registered_models()]
BATCH_SIZE = 32


def tiny_overrides(name: str) -> list[str]:
    """The model's own ``tiny_overrides`` (register_model): the harness runs no model at full size."""
    overrides = get_model_entry(name).tiny_overrides
    if overrides is None:
        pytest.fail(f"model '{name}' gives no tiny_overrides in its @register_model: the harness needs them")
    return list(overrides)


def _dataset_spec(request, name: str) -> str:
    """A tiny dataset of the fields the model needs: text, 72 paired examples of three modalities, or 256
    labelled Fashion-MNIST images."""
    model_class = get_model_entry(name).model_class
    kind = "text" if "corpus" in model_class.data_fields else "manifest" if issubclass(model_class, PairedDataTask) else "npz"
    return f"{kind}:{request.getfixturevalue(f'tiny_{kind}')}"


def _set_flags(name: str) -> list[str]:
    return [flag for item in tiny_overrides(name) for flag in ("--set", item)]


def _build(request, name: str):
    entry = get_model_entry(name)
    train_config = TrainConfig.from_dict({"dataset": _dataset_spec(request, name), "batch_size": BATCH_SIZE})
    model_config = entry.config_class.from_dict(parse_overrides(tiny_overrides(name)))
    data, model_config = entry.model_class.prepare_data(model_config, train_config)
    keras.utils.set_random_seed(0)
    model = entry.model_class.from_hyperparameters(model_config)
    model.compile_for_training(model_config, seed=0)
    return model, data


def _networks(model):
    return {
        key: network for key, network in model.checkpoint_objects().items()
        if isinstance(network, keras.Model) and network.trainable_variables
    }


def _endpoint_outputs(model, inputs_by_endpoint):
    outputs = {}
    for endpoint, (function, signature) in model.serving_endpoints().items():
        result = function(*[tf.constant(inputs_by_endpoint[endpoint][spec.name]) for spec in signature])
        outputs.update({f"{endpoint}/{key}": np.asarray(value) for key, value in result.items()})
    return outputs


def _all_endpoint_inputs(model, data):
    return {name: model.endpoint_inputs(name, 3, seed=1, data=data) for name in model.serving_endpoints()}


def _save_inputs(path, inputs_by_endpoint):
    np.savez(path, **{f"{e}/{k}": v for e, inputs in inputs_by_endpoint.items() for k, v in inputs.items()})


def _step_and_save(request, tmp_path, name):
    """One train step changes every trainable network; the model is saved with endpoint inputs drawn for it.
    Returns the endpoint inputs and the outputs the saved model must reproduce."""
    model, data = _build(request, name)
    networks = _networks(model)
    assert networks, f"{name}: no trainable network in checkpoint_objects()"
    before = {key: [v.numpy() for v in network.trainable_variables] for key, network in networks.items()}
    batch = next(iter(model.training_dataset(data, BATCH_SIZE, shuffle_seed=0)))
    logs = model.train_step(batch)
    assert logs and all(np.isfinite(float(value)) for value in logs.values()), logs
    for key, network in networks.items():
        unchanged = [
            variable.path for old, variable in zip(before[key], network.trainable_variables)
            if np.array_equal(old, variable.numpy())
        ]
        assert not unchanged, f"{name}: one train step left {key} variables unchanged: {unchanged}"

    model.save(tmp_path / "model.keras")
    inputs = _all_endpoint_inputs(model, data)
    return inputs, _endpoint_outputs(model, inputs)


def _assert_same_outputs(name, reloaded, expected):
    assert sorted(reloaded) == sorted(expected)
    for key, value in expected.items():
        if value.dtype.kind in "fc":
            np.testing.assert_allclose(reloaded[key], value, atol=1e-5, err_msg=f"{name} {key}")
        else:
            np.testing.assert_array_equal(reloaded[key], value, err_msg=f"{name} {key}")


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_one_step_changes_every_network_and_model_keras_reloads_with_identical_outputs(request, tmp_path, name):
    import genkit.models  # noqa: F401  (registers genkit's serialisable classes)

    inputs, expected = _step_and_save(request, tmp_path, name)
    model = keras.saving.load_model(tmp_path / "model.keras")
    _assert_same_outputs(name, _endpoint_outputs(model, inputs), expected)


@pytest.mark.slow
@pytest.mark.parametrize("name", MODEL_NAMES)
def test_one_step_changes_every_network_and_model_keras_reloads_in_a_fresh_process(request, tmp_path, name):
    inputs, expected = _step_and_save(request, tmp_path, name)
    _save_inputs(tmp_path / "inputs.npz", inputs)
    run_python(
        "import keras, numpy as np, tensorflow as tf, genkit.models\n"
        f"model = keras.saving.load_model({str(tmp_path / 'model.keras')!r})\n"
        f"saved = np.load({str(tmp_path / 'inputs.npz')!r}, allow_pickle=True)\n"
        "outputs = {}\n"
        "for endpoint, (function, signature) in model.serving_endpoints().items():\n"
        "    result = function(*[tf.constant(saved[f'{endpoint}/{spec.name}']) for spec in signature])\n"
        "    outputs.update({f'{endpoint}/{k}': np.asarray(v) for k, v in result.items()})\n"
        f"np.savez({str(tmp_path / 'outputs.npz')!r}, **outputs)\n"
    )
    reloaded = np.load(tmp_path / "outputs.npz", allow_pickle=True)  # string outputs are object arrays
    _assert_same_outputs(name, {key: reloaded[key] for key in reloaded.files}, expected)


@pytest.mark.slow
@pytest.mark.parametrize("name", MODEL_NAMES)
def test_trains_on_two_mirrored_devices_and_every_serving_signature_runs(request, tmp_path, name):
    run_dir = tmp_path / "run"
    run_genkit(
        "train", name, "--dataset", _dataset_spec(request, name), "--epochs", 1, "--batch-size", BATCH_SIZE,
        "--devices", 2, "--out", run_dir, "--quiet", *_set_flags(name),
    )
    import genkit.models  # noqa: F401

    model = keras.saving.load_model(run_dir / "model.keras")
    data = type(model).prepare_data(
        get_model_entry(name).config_class.from_dict(parse_overrides(tiny_overrides(name))),
        TrainConfig.from_dict({"dataset": _dataset_spec(request, name)}),
    )[0]
    inputs = _all_endpoint_inputs(model, data)
    expected = _endpoint_outputs(model, inputs)
    serving = tf.saved_model.load(str(run_dir / "serving" / "1"))
    assert sorted(serving.signatures) == sorted(model.serving_endpoints())
    for endpoint, signature in serving.signatures.items():
        result = signature(**{key: tf.constant(value) for key, value in inputs[endpoint].items()})
        for key, value in result.items():
            reference = expected[f"{endpoint}/{key}"]
            if reference.dtype.kind in "fc":
                np.testing.assert_allclose(np.asarray(value), reference, atol=1e-5, err_msg=f"{name} {endpoint}/{key}")
            else:
                np.testing.assert_array_equal(np.asarray(value), reference, err_msg=f"{name} {endpoint}/{key}")


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_every_endpoint_gives_what_it_declares(request, name):
    """Declared outputs are what the endpoints really return (name, dtype, shape, value range), and every input
    the model does not get from data has example values; exporters and apps rely on these declarations."""
    model, data = _build(request, name)
    endpoints = model.endpoints()
    assert "serving_default" in endpoints and endpoints["serving_default"].serving
    for endpoint_name, endpoint in endpoints.items():
        assert endpoint.name == endpoint_name
        inputs = model.endpoint_inputs(endpoint_name, 5, seed=3, data=data)
        assert list(inputs) == endpoint.input_names, f"{name} {endpoint_name}"
        for declaration in endpoint.inputs:
            value = np.asarray(inputs[declaration.name])
            assert value.shape[1:] == tuple(d for d in declaration.shape), (name, endpoint_name, declaration.name)
        outputs = endpoint.call(inputs)
        assert sorted(outputs) == sorted(d.name for d in endpoint.outputs), f"{name} {endpoint_name}"
        for declaration in endpoint.outputs:
            value = outputs[declaration.name]
            expected_kind = {"string": "O", "float32": "f", "int32": "i"}[declaration.dtype]
            assert value.dtype.kind == expected_kind or (expected_kind == "O" and value.dtype.kind == "S"), declaration
            assert len(value) == 5 and all(
                declared is None or declared == actual for declared, actual in zip(declaration.shape, value.shape[1:])
            ) and len(declaration.shape) == value.ndim - 1, (name, endpoint_name, declaration.name, value.shape)
            if declaration.value_range is not None:
                low, high = declaration.value_range
                assert low <= value.min() and value.max() <= high, (name, endpoint_name, declaration.name)
    # Sample inputs come from the declared distributions of the generation endpoint.
    generation = endpoints[model.generation_endpoint]
    if all(d.distribution is not None for d in generation.inputs):
        drawn = model.sample_inputs(4, seed=7)
        for declaration in generation.inputs:
            np.testing.assert_array_equal(drawn[declaration.name], declaration.draw(4, 7))

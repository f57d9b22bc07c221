"""DCGAN: the train step, plain fit(), mixed precision, XLA, serialisation in a fresh process."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from conftest import run_python
from genkit.models import DCGAN, DCGANConfig

TINY = {
    "image_shape": [28, 28, 1], "latent_dim": 8, "projection_filters": 16,
    "generator_filters": [8], "discriminator_filters": [8, 16],
}


def _model(**changes):
    config = DCGANConfig.from_dict({**TINY, **changes})
    keras.utils.set_random_seed(0)
    model = DCGAN.from_hyperparameters(config)
    model.compile_for_training(config, seed=1)
    return model, config


def _images(count=32, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, (count, 28, 28, 1)).astype("float32")


def _snapshot(network):
    return [np.array(w) for w in network.trainable_weights]


def _all_changed(before, network):
    return all(not np.allclose(a, np.array(b)) for a, b in zip(before, network.trainable_weights))


def test_train_step_updates_both_networks_and_reports_metrics():
    model, _ = _model()
    generator, discriminator = _snapshot(model.generator), _snapshot(model.discriminator)
    logs = model.train_step(tf.constant(_images()))
    assert set(logs) == {"d_loss", "g_loss", "real_score", "fake_score"}
    assert all(np.isfinite(float(v)) for v in logs.values())
    assert _all_changed(generator, model.generator)
    assert _all_changed(discriminator, model.discriminator)
    assert int(model.generator_optimizer.iterations) == int(model.discriminator_optimizer.iterations) == 1


def test_noise_depends_on_the_step_so_steps_differ_but_replay_exactly():
    first, _ = _model()
    second, _ = _model()
    batch = tf.constant(_images())
    assert float(first.train_step(batch)["g_loss"]) == float(second.train_step(batch)["g_loss"])
    z_step_1 = first._latent(4)
    first.train_step(batch)
    assert not np.allclose(z_step_1, first._latent(4))


def test_plain_keras_fit_trains_on_one_device():
    model, _ = _model()
    before = _snapshot(model.generator)
    history = model.fit(_images(64), batch_size=32, epochs=2, verbose=0)
    assert len(history.history["d_loss"]) == 2
    assert _all_changed(before, model.generator)


def test_generate_is_in_unit_range_with_the_data_shape():
    model, config = _model()
    images = np.asarray(model.generate(**model.sample_inputs(5, seed=3)))
    assert images.shape == (5, 28, 28, 1) and images.dtype == np.float32
    assert images.min() >= 0.0 and images.max() <= 1.0
    np.testing.assert_array_equal(model.sample_inputs(5, 3)["z"], model.sample_inputs(5, 3)["z"])


def test_mixed_float16_uses_loss_scaling_and_keeps_float32_outputs():
    keras.mixed_precision.set_dtype_policy("mixed_float16")
    try:
        model, _ = _model()
        assert isinstance(model.generator_optimizer, keras.optimizers.LossScaleOptimizer)
        before = _snapshot(model.generator)
        logs = model.train_step(tf.constant(_images()))
        assert np.isfinite(float(logs["d_loss"]))
        assert model.generator.output.dtype == "float32"
        # The first steps may be skipped while the loss scale settles; a few must update.
        for _ in range(3):
            model.train_step(tf.constant(_images()))
        assert _all_changed(before, model.generator)
    finally:
        keras.mixed_precision.set_dtype_policy("float32")


def test_xla_compiled_step_matches_the_plain_step():
    plain, _ = _model(dropout_rate=0.0)
    compiled, _ = _model(dropout_rate=0.0)
    batch = tf.constant(_images())
    plain_logs = plain.train_step(batch)
    compiled_logs = tf.function(compiled.train_step, jit_compile=True)(batch)
    # XLA and oneDNN order float32 sums differently; the generator loss comes after
    # one Adam update of the discriminator, whose first step amplifies tiny differences.
    for name in ("d_loss", "real_score", "fake_score"):
        np.testing.assert_allclose(float(plain_logs[name]), float(compiled_logs[name]), rtol=1e-3)
    np.testing.assert_allclose(float(plain_logs["g_loss"]), float(compiled_logs["g_loss"]), rtol=2e-2)


@pytest.mark.slow
def test_model_keras_reloads_in_a_fresh_process_with_identical_outputs(tmp_path):
    model, config = _model()
    model.train_step(tf.constant(_images()))
    path = tmp_path / "model.keras"
    model.save(path)
    z = model.sample_inputs(4, seed=9)["z"]
    np.save(tmp_path / "z.npy", z)
    expected = np.asarray(model.generate(z=z))
    output = run_python(
        "import keras, numpy as np, genkit.models\n"
        f"m = keras.saving.load_model({str(path)!r})\n"
        f"np.save({str(tmp_path / 'out.npy')!r}, np.asarray(m.generate(z=np.load({str(tmp_path / 'z.npy')!r}))))\n"
        "print(type(m).__name__, m.latent_dim)\n"
    )
    assert output.split() == ["DCGAN", "8"]
    np.testing.assert_allclose(np.load(tmp_path / "out.npy"), expected, atol=1e-6)


def test_config_architecture_of_the_tensorflow_tutorial():
    config = DCGANConfig.from_dict(
        {
            "image_shape": [28, 28, 1], "latent_dim": 100, "projection_filters": 256,
            "generator_filters": [128, 64], "kernel_size": 5, "generator_activation": "leaky_relu",
            "leaky_relu_slope": 0.3,
        }
    )
    generator = DCGAN.from_hyperparameters(config).generator
    shapes = [layer.output.shape for layer in generator.layers if "deconv" in layer.name and "norm" not in layer.name and "activation" not in layer.name]
    assert shapes == [(None, 7, 7, 128), (None, 14, 14, 64)]
    assert generator.count_params() == 2_330_944  # the tutorial generator's parameter count

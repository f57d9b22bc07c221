"""The GAN families: losses, gradient penalty, spectral normalisation, the moving average of the generator,
the n-critic schedule, conditional sampling and its errors."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from conftest import read_json, run_cli, run_genkit, run_python
from genkit.errors import UserError
from genkit.layers import SpectralNormalization
from genkit.models import CGAN, DCGAN, WGANGP, CGANConfig, DCGANConfig, WGANGPConfig
from genkit.models.gan.gan_losses import discriminator_loss, generator_loss
from genkit.models.gan.gradient_penalty import gradient_penalty
from genkit.training.noise import replica_uniform

TINY = {
    "image_shape": [28, 28, 1], "latent_dim": 8, "projection_filters": 16,
    "generator_filters": [8], "discriminator_filters": [8, 16],
}
TINY_SET = [f"{key}={value}".replace(" ", "") for key, value in TINY.items() if key != "image_shape"]


def _model(model_class, config_class, **changes):
    config = config_class.from_dict({**TINY, **changes})
    keras.utils.set_random_seed(0)
    model = model_class.from_hyperparameters(config)
    model.compile_for_training(config, seed=1)
    return model, config


def _images(shape=(32,), seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, (*shape, 28, 28, 1)).astype("float32")


def _labels(count=32):
    return (np.arange(count) % 10).astype("int32")


# -- losses ------------------------------------------------------------------------------------


def _logits(*values):
    return tf.constant(np.array(values, np.float32).reshape(-1, 1))


def test_non_saturating_loss_values_and_signs():
    log2 = np.log(2.0)
    np.testing.assert_allclose(discriminator_loss("non_saturating", _logits(0.0), _logits(0.0)), [2 * log2], rtol=1e-6)
    np.testing.assert_allclose(generator_loss("non_saturating", _logits(0.0)), [log2], rtol=1e-6)
    # A discriminator that is right (real high, fake low) has a lower loss than one that is wrong.
    right = discriminator_loss("non_saturating", _logits(4.0), _logits(-4.0))
    wrong = discriminator_loss("non_saturating", _logits(-4.0), _logits(4.0))
    assert float(right[0]) < 0.04 < 8.0 < float(wrong[0])
    # Non-saturating: a generator the discriminator sees through (logit -10) still gets a large loss.
    np.testing.assert_allclose(generator_loss("non_saturating", _logits(-10.0)), [10.0], rtol=1e-4)
    # One-sided label smoothing: real images' target 0.9.
    smoothed = discriminator_loss("non_saturating", _logits(0.0), _logits(-100.0), real_target=0.9)
    np.testing.assert_allclose(smoothed, [log2], rtol=1e-5)


def test_hinge_loss_values_and_signs():
    np.testing.assert_allclose(discriminator_loss("hinge", _logits(0.0, 2.0, -1.0), _logits(0.0, -2.0, 1.0)), [2.0, 0.0, 4.0])
    np.testing.assert_allclose(generator_loss("hinge", _logits(1.5, -0.5)), [-1.5, 0.5])


def test_wasserstein_loss_values_and_signs():
    np.testing.assert_allclose(discriminator_loss("wasserstein", _logits(3.0, -1.0), _logits(1.0, 2.0)), [-2.0, 3.0])
    np.testing.assert_allclose(generator_loss("wasserstein", _logits(1.5, -0.5)), [-1.5, 0.5])


def test_unknown_loss_is_an_error():
    with pytest.raises(ValueError, match="non_saturating, hinge, wasserstein"):
        generator_loss("least_squares", _logits(0.0))


# -- gradient penalty --------------------------------------------------------------------------


def test_interpolation_weights_are_uniform_one_per_example_and_split_across_replicas():
    weights = replica_uniform(7, 3, 1000, 20000, 1).numpy()
    assert weights.shape == (20000, 1) and weights.min() >= 0.0 and weights.max() < 1.0
    # Uniform on [0, 1): mean 1/2, variance 1/12, every decile holds a tenth.
    assert abs(weights.mean() - 0.5) < 0.01 and abs(weights.var() - 1 / 12) < 0.003
    np.testing.assert_allclose(np.histogram(weights, bins=10, range=(0, 1))[0] / len(weights), 0.1, atol=0.01)
    np.testing.assert_array_equal(replica_uniform(7, 3, 1000, 20000, 1).numpy(), weights)  # stateless
    assert not np.allclose(replica_uniform(7, 4, 1000, 8, 1), weights[:8])  # another step, other weights


def test_gradient_penalty_interpolates_with_each_examples_own_weight():
    # critic(x) = ||x||^2 / 2 has gradient x, so at x_hat = w * real + (1 - w) * 0 the norm is w * ||real||.
    real = np.full((6, 4, 4, 1), 0.25, np.float32)  # ||real|| = 1
    fake = np.zeros_like(real)
    weights = np.array([[0.0], [0.1], [0.3], [0.5], [0.9], [0.99]], np.float32)

    def critic(x):
        return 0.5 * tf.reduce_sum(tf.square(x), axis=[1, 2, 3])[:, None]

    penalty = gradient_penalty(critic, real, fake, weights).numpy()
    np.testing.assert_allclose(penalty, (weights[:, 0] - 1.0) ** 2, atol=1e-5)


def test_gradient_penalty_is_zero_for_a_unit_gradient_critic_and_finite_for_a_flat_one():
    rng = np.random.default_rng(0)
    direction = rng.standard_normal((1, 8, 8, 1)).astype("float32")
    direction /= np.linalg.norm(direction)
    real, fake = rng.standard_normal((2, 5, 8, 8, 1)).astype("float32")
    weights = rng.uniform(size=(5, 1)).astype("float32")

    def linear_critic(x):
        return tf.reduce_sum(x * direction, axis=[1, 2, 3])[:, None]

    np.testing.assert_allclose(gradient_penalty(linear_critic, real, fake, weights), 0.0, atol=1e-6)

    # A critic with zero gradient: the epsilon inside the norm keeps the penalty's own gradient finite.
    scale = tf.Variable(0.0)
    with tf.GradientTape() as tape:
        penalty = gradient_penalty(lambda x: scale * linear_critic(x), real, fake, weights)
        total = tf.reduce_sum(penalty)
    gradient = tape.gradient(total, scale)
    np.testing.assert_allclose(penalty, 1.0, atol=1e-5)
    assert np.isfinite(float(gradient))


def test_gradient_penalty_with_a_loss_scale_matches_the_unscaled_one():
    rng = np.random.default_rng(1)
    real, fake = rng.standard_normal((2, 4, 6, 6, 1)).astype("float32")
    weights = rng.uniform(size=(4, 1)).astype("float32")
    kernel = tf.constant(rng.standard_normal((36, 1)).astype("float32") * 0.1)

    def critic(x):
        return tf.matmul(tf.tanh(tf.reshape(x, [-1, 36])), kernel)

    plain = gradient_penalty(critic, real, fake, weights)
    scaled = gradient_penalty(critic, real, fake, weights, loss_scale=lambda value: value * 1024.0)
    np.testing.assert_allclose(scaled, plain, rtol=1e-5)


# -- spectral normalisation --------------------------------------------------------------------


@pytest.mark.parametrize(
    "make_layer, input_shape",
    [(lambda: keras.layers.Dense(12), (3, 20)), (lambda: keras.layers.Conv2D(6, 3, padding="same"), (2, 8, 8, 4))],
    ids=["dense", "conv"],
)
def test_spectral_normalization_bounds_the_largest_singular_value(make_layer, input_shape):
    keras.utils.set_random_seed(3)
    # Made after the seed: a Keras initializer draws its own seed from Python's random when it is made, so a
    # layer made at collection time would start from whatever the modules collected before left there.
    layer = make_layer()
    wrapped = SpectralNormalization(layer)
    inputs = np.random.default_rng(0).standard_normal(input_shape).astype("float32")
    wrapped(inputs)
    layer.kernel.assign(layer.kernel * 7.0)  # far from unit norm
    for _ in range(100):  # power iteration converges while training (error ~ (sigma_2 / sigma_1) ** steps)
        wrapped(inputs, training=True)
    kernel = np.asarray(wrapped.normalized_kernel())
    largest = np.linalg.svd(kernel.reshape(-1, kernel.shape[-1]), compute_uv=False)[0]
    np.testing.assert_allclose(largest, 1.0, rtol=1e-3)
    # The stored kernel is not rescaled; the layer computes with W / sigma.
    assert np.linalg.svd(np.asarray(layer.kernel).reshape(-1, kernel.shape[-1]), compute_uv=False)[0] > 2
    expected = SpectralNormalization(layer.__class__.from_config(layer.get_config()))
    expected.build(input_shape)
    expected.layer.kernel.assign(kernel)
    expected.layer.bias.assign(layer.bias)
    expected.vector_u.assign(wrapped.vector_u)
    unnormalized_output = expected.layer(inputs)
    np.testing.assert_allclose(wrapped(inputs), unnormalized_output, atol=1e-4)


def test_spectral_normalization_gradient_reaches_the_kernel():
    wrapped = SpectralNormalization(keras.layers.Dense(4))
    inputs = np.ones((2, 3), np.float32)
    wrapped(inputs)
    with tf.GradientTape() as tape:
        output = tf.reduce_sum(wrapped(inputs, training=True))
    gradients = tape.gradient(output, wrapped.trainable_variables)
    assert len(gradients) == 2 and all(g is not None and np.isfinite(g).all() for g in gradients)


# -- the moving average of the generator -------------------------------------------------------


def test_moving_average_equals_the_expected_average_and_makes_the_samples():
    model, _ = _model(DCGAN, DCGANConfig, ema_decay=0.9)
    expected = [np.array(w) for w in model.generator.weights]
    for average, weight in zip(model.generator_average.weights, model.generator.weights):
        np.testing.assert_array_equal(average, weight)  # starts as a copy
    for step in range(1, 5):
        model.train_step(tf.constant(_images(seed=step)))
        decay = min(0.9, (1 + step) / (10 + step))
        expected = [decay * a + (1 - decay) * np.array(w) for a, w in zip(expected, model.generator.weights)]
    for average, value in zip(model.generator_average.weights, expected):
        np.testing.assert_allclose(np.array(average), value, rtol=1e-5, atol=1e-6)
    assert not model.generator_average.trainable_weights

    z = model.sample_inputs(4, seed=2)["z"]
    np.testing.assert_allclose(model.generate(z=z), (model.generator_average(z) + 1) / 2, atol=1e-6)
    assert np.abs(model.generate(z=z) - (model.generator(z) + 1) / 2).max() > 1e-5
    assert "generator_average" in model.checkpoint_objects()


def test_without_moving_average_the_trained_generator_samples():
    model, _ = _model(DCGAN, DCGANConfig, ema_decay=0.0)
    model.train_step(tf.constant(_images()))
    assert model.generator_average is None and "generator_average" not in model.checkpoint_objects()
    z = model.sample_inputs(3, seed=0)["z"]
    np.testing.assert_allclose(model.generate(z=z), (model.generator(z) + 1) / 2, atol=1e-6)


MIRRORED_MOVING_AVERAGE = """
import numpy as np, tensorflow as tf
from genkit.runtime.strategy import make_strategy
strategy = make_strategy("mirrored", 2)
import keras
from genkit.models import DCGAN, DCGANConfig
config = DCGANConfig.from_dict({tiny!r} | {{"ema_decay": 0.5, "dropout_rate": 0.0}})
keras.utils.set_random_seed(0)
with strategy.scope():
    model = DCGAN.from_hyperparameters(config)
    model.compile_for_training(config, seed=1)
images = np.random.default_rng(0).uniform(-1, 1, (32, 28, 28, 1)).astype("float32")
dataset = strategy.experimental_distribute_dataset(tf.data.Dataset.from_tensor_slices(images).batch(32))
step = tf.function(lambda batch: strategy.run(model.train_step, args=(batch,)))
expected = [np.array(w) for w in model.generator_average.weights]
for t, batch in enumerate(list(dataset) * 3, start=1):
    step(batch)
    decay = min(0.5, (1 + t) / (10 + t))
    expected = [decay * a + (1 - decay) * np.array(w) for a, w in zip(expected, model.generator.weights)]
for average, value in zip(model.generator_average.weights, expected):
    replicas = average.value.values
    assert len(replicas) == 2
    np.testing.assert_array_equal(replicas[0].numpy(), replicas[1].numpy())
    np.testing.assert_allclose(replicas[0].numpy(), value, rtol=1e-5, atol=1e-6)
print("ok", str(replicas[0].aggregation).split(".")[-1])
"""


@pytest.mark.slow
def test_moving_average_updates_in_replica_context_on_two_mirrored_devices():
    output = run_python(MIRRORED_MOVING_AVERAGE.format(tiny=TINY))
    assert output.split()[-2:] == ["ok", "ONLY_FIRST_REPLICA"]


# -- the n-critic schedule ---------------------------------------------------------------------


def test_each_step_makes_n_critic_updates_then_one_generator_update():
    model, _ = _model(WGANGP, WGANGPConfig, n_critic=3)
    batch = tf.constant(_images((16, 3)))
    logs = model.train_step(batch)
    assert set(logs) == {"d_loss", "g_loss", "real_score", "fake_score", "gradient_penalty"}
    assert all(np.isfinite(float(value)) for value in logs.values())
    assert (int(model.discriminator_optimizer.iterations), int(model.generator_optimizer.iterations)) == (3, 1)
    model.train_step(batch)
    assert (int(model.discriminator_optimizer.iterations), int(model.generator_optimizer.iterations)) == (6, 2)


def test_wgan_gp_dataset_holds_one_real_batch_per_critic_update(tiny_npz):
    config, train_config = WGANGPConfig.from_dict({**TINY, "image_shape": None, "n_critic": 3}), None
    from genkit.config import TrainConfig

    train_config = TrainConfig.from_dict({"dataset": f"npz:{tiny_npz}"})
    data, config = WGANGP.prepare_data(config, train_config)
    model = WGANGP.from_hyperparameters(config)
    dataset = model.training_dataset(data, 16, shuffle_seed=0)
    assert int(dataset.cardinality()) == 256 // (16 * 3)
    batch = next(iter(dataset))["images"]
    assert batch.shape == (16, 3, 28, 28, 1)
    assert len({float(np.abs(batch[:, k]).sum()) for k in range(3)}) == 3  # three different real batches


def test_wgan_gp_step_compiles_with_xla_and_under_mixed_precision():
    model, _ = _model(WGANGP, WGANGPConfig, n_critic=2)
    logs = tf.function(model.train_step, jit_compile=True)(tf.constant(_images((16, 2))))
    assert all(np.isfinite(float(value)) for value in logs.values())

    keras.mixed_precision.set_dtype_policy("mixed_float16")
    try:
        model, _ = _model(WGANGP, WGANGPConfig, n_critic=2)
        assert isinstance(model.discriminator_optimizer, keras.optimizers.LossScaleOptimizer)
        before = [np.array(w) for w in model.generator.trainable_weights]
        for seed in range(3):
            logs = model.train_step(tf.constant(_images((16, 2), seed=seed)))
            assert all(np.isfinite(float(value)) for value in logs.values()), logs
        assert float(logs["gradient_penalty"]) > 0
        assert model.generator.output.dtype == "float32"
        assert all(not np.allclose(a, np.array(b)) for a, b in zip(before, model.generator.trainable_weights))
    finally:
        keras.mixed_precision.set_dtype_policy("float32")


def test_spectral_norm_and_hinge_loss_train_under_mixed_precision():
    keras.mixed_precision.set_dtype_policy("mixed_float16")
    try:
        model, _ = _model(CGAN, CGANConfig, num_classes=10, spectral_norm=True, loss="hinge")
        before = [np.array(w) for w in model.discriminator.trainable_weights]
        for seed in range(3):
            logs = model.train_step({"images": tf.constant(_images(seed=seed)), "labels": tf.constant(_labels())})
            assert all(np.isfinite(float(value)) for value in logs.values()), logs
        changed = [not np.allclose(a, np.array(b)) for a, b in zip(before, model.discriminator.trainable_weights)]
        assert all(changed)
        vectors = [w for w in model.discriminator.weights if "vector_u" in w.path]
        assert len(vectors) == 4  # two convolutions, the logit, the label projection
        assert np.asarray(model.generate(**model.sample_inputs(2, 0))).dtype == np.float32
    finally:
        keras.mixed_precision.set_dtype_policy("float32")


def test_config_errors_name_the_field():
    with pytest.raises(UserError, match="'discriminator_batch_norm'.*gradient penalty"):
        WGANGPConfig.from_dict({"discriminator_batch_norm": True})
    with pytest.raises(UserError, match="'loss' must be one of non_saturating, hinge, wasserstein"):
        DCGANConfig.from_dict({"loss": "least_squares"})
    with pytest.raises(UserError, match="'ema_decay'"):
        CGANConfig.from_dict({"ema_decay": 1.0})
    with pytest.raises(UserError, match="'n_critic' must be >= 1"):
        WGANGPConfig.from_dict({"n_critic": 0})


# -- conditional generation --------------------------------------------------------------------


def test_cgan_generates_the_requested_classes():
    model, _ = _model(CGAN, CGANConfig, num_classes=10)
    model.train_step({"images": tf.constant(_images()), "labels": tf.constant(_labels())})
    inputs = model.sample_inputs(12, seed=5)
    np.testing.assert_array_equal(inputs["label"], np.arange(12) % 10)  # the classes in turn

    samples = model.generate_samples(6, seed=5, label=3)
    z = model.sample_inputs(6, seed=5)["z"]
    np.testing.assert_allclose(samples, model.generate(z=z, label=np.full(6, 3, np.int32)), atol=1e-6)
    # The label reaches the generator: other classes, other images from the same z.
    assert not np.allclose(samples, model.generate_samples(6, seed=5, label=4), atol=1e-4)
    np.testing.assert_allclose(
        model.generator_average([z, np.full(6, 3, np.int32)]), samples * 2 - 1, atol=1e-5
    )


def test_cgan_label_errors_are_one_line():
    model, _ = _model(CGAN, CGANConfig, num_classes=10)
    with pytest.raises(UserError, match=r"--label 10: out of range; this model has classes 0 to 9"):
        model.generate_samples(4, label=10)
    with pytest.raises(UserError, match=r"--label -1: out of range"):
        model.generate_samples(4, label=-1)
    with pytest.raises(UserError, match="--reconstruct"):
        model.generate_samples(4, reconstruct="x.npy")
    dcgan, _ = _model(DCGAN, DCGANConfig)
    with pytest.raises(UserError, match=r"--label: not an option of 'dcgan' models \(genkit sample options it takes: none\)"):
        dcgan.generate_samples(4, label=1)


@pytest.fixture(scope="module")
def cgan_run(tmp_path_factory, tiny_npz):
    run_dir = tmp_path_factory.mktemp("runs") / "cgan"
    run_cli(
        "train", "cgan", "--dataset", f"npz:{tiny_npz}", "--epochs", 1, "--batch-size", 64, "--out", run_dir,
        "--quiet", *[flag for item in [*TINY_SET, "train.num_sample_images=20"] for flag in ("--set", item)],
    )
    return run_dir


@pytest.mark.slow
def test_cgan_run_serves_z_and_label_and_samples_a_chosen_class(cgan_run, tmp_path):
    metadata = read_json(cgan_run / "genkit.json")
    assert metadata["config"]["num_classes"] == 10  # filled from the data
    inputs = metadata["serving"]["signatures"]["serving_default"]["inputs"]
    assert {name: (value["dtype"], value["shape"], value["modality"]) for name, value in inputs.items()} == {
        "z": ("float32", [None, 8], "latent"), "label": ("int32", [None], "label"),
    }
    run_cli("sample", cgan_run, "-n", 5, "--label", 7, "--out", tmp_path / "seven.npy", "--seed", 2)
    images = np.load(tmp_path / "seven.npy")
    assert images.shape == (5, 28, 28, 1) and 0 <= images.min() and images.max() <= 1

    z = np.random.default_rng(2).standard_normal((5, 8)).astype("float32")
    np.save(tmp_path / "z.npy", z)
    run_python(
        "import numpy as np, tensorflow as tf\n"
        f"serve = tf.saved_model.load({str(cgan_run / 'serving' / '1')!r}).signatures['serving_default']\n"
        f"out = serve(z=tf.constant(np.load({str(tmp_path / 'z.npy')!r})), label=tf.fill([5], 7))['images']\n"
        f"np.save({str(tmp_path / 'served.npy')!r}, out.numpy())\n"
    )
    np.testing.assert_allclose(np.load(tmp_path / "served.npy"), images, atol=1e-5)


def test_cgan_sampling_errors_through_the_cli(cgan_run, tmp_path):
    process = run_cli("sample", cgan_run, "--label", 10, "--out", tmp_path / "x.npy", check=False)
    assert process.returncode == 2 and "Traceback" not in process.stderr
    assert process.stderr.strip().splitlines() == [
        "genkit sample: error: --label 10: out of range; this model has classes 0 to 9"
    ]
    assert not (tmp_path / "x.npy").exists()


def test_cgan_evaluation_adds_conditioning_accuracy(cgan_run):
    process = run_cli("evaluate", cgan_run, "-n", 100)
    metrics = read_json(cgan_run / "metrics.json")
    assert {"fid", "kid", "precision", "recall", "conditioning_accuracy"} <= set(metrics)
    assert 0.0 <= metrics["conditioning_accuracy"] <= 1.0
    assert sorted(k for k in metrics if k.startswith("conditioning_accuracy_class_")) == sorted(
        f"conditioning_accuracy_class_{k}" for k in range(10)
    )
    assert "conditioning_accuracy" in process.stdout


def test_cgan_needs_labelled_data(tmp_path, tiny_npz):
    unlabelled = tmp_path / "unlabelled.npz"
    np.savez(unlabelled, x_train=np.load(tiny_npz)["x_train"])
    process = run_cli(
        "train", "cgan", "--dataset", f"npz:{unlabelled}", "--out", tmp_path / "run", check=False,
    )
    assert process.returncode == 2 and len(process.stderr.strip().splitlines()) == 1
    assert "cgan is a conditional model and needs labelled images" in process.stderr
    assert not (tmp_path / "run").exists()


# -- resume ------------------------------------------------------------------------------------


@pytest.mark.slow
def test_wgan_gp_resumes_its_critic_schedule_and_moving_average_exactly(tmp_path, tiny_npz):
    """End to end, across processes: the critic schedule exactly, the weights within RESUME_TOLERANCE.

    (Measured: see conftest.py. The restored state, moving average included, the next batch and
    the next step are checked bit for bit in one process by tests/runtime/test_training_checkpoint.py.)
    """
    from conftest import assert_resumed_like_straight, checkpoint_iterations, run_genkit_sessions, without_step_race

    def train(out, *extra):
        return [
            "train", "wgan-gp", "--dataset", f"npz:{tiny_npz}", "--batch-size", 32, "--epochs", 2, "--out", out,
            "--quiet", *[flag for item in [*TINY_SET, "n_critic=2"] for flag in ("--set", item)], *extra,
        ]

    straight, stopped = tmp_path / "straight", tmp_path / "stopped"
    with without_step_race():  # this process: the straight run, and a run stopped after its first step
        run_cli(*train(straight))
        run_cli(*train(stopped, "--time-limit", "0.00001"))  # 2 critic updates, 1 generator update
    assert read_json(stopped / "genkit.json")["training"]["global_steps"] == 1
    assert checkpoint_iterations(stopped) == {"generator_optimizer": 1, "discriminator_optimizer": 2}
    run_genkit_sessions(train(stopped, "--resume"))  # resumed in a fresh process
    steps = read_json(stopped / "genkit.json")["training"]["global_steps"]
    assert steps == read_json(straight / "genkit.json")["training"]["global_steps"] == 2 * (256 // 64)
    for run in (stopped, straight):
        assert checkpoint_iterations(run) == {"generator_optimizer": steps, "discriminator_optimizer": 2 * steps}

    import genkit.models  # noqa: F401

    assert keras.saving.load_model(stopped / "model.keras").generator_average is not None
    assert_resumed_like_straight(stopped, straight)

"""DCGAN train-step throughput: genkit's runtime against a plain Keras GradientTape loop.

    python benchmarks/dcgan_throughput.py [--steps 100] [--rounds 3] [--batch-size 256] [--json out.json]
    python benchmarks/dcgan_throughput.py --quick

Both sides train the architecture of TensorFlow's DCGAN tutorial (generator
Dense(7*7*256) -> ConvT(128) -> ConvT(64) -> ConvT(1), discriminator Conv(64) ->
Conv(128) -> Dense(1), 5x5 kernels, Adam(1e-4), batch 256, z of 100) on
Fashion-MNIST (Debian's package, else the embedded subset):

- tutorial: the tutorial's own loop, ``@tf.function train_step(images)`` with two
  GradientTapes, called for each batch of a tf.data pipeline;
- plain loop: the same plain ``@tf.function`` loop, calling genkit's
  ``DCGAN.train_step`` (the identical algorithm as genkit, without genkit's runtime);
- genkit: that ``DCGAN`` driven by genkit's ``Trainer.fit`` (the loop ``genkit
  train`` runs: ``strategy.run`` + ``strategy.reduce``, metrics to the host every
  step, the non-finite check, a checkpoint at the end of every round as at the
  end of every epoch).

genkit / plain loop is what the toolkit costs (target >= 0.95). genkit /
tutorial also counts the algorithm: genkit's step updates the discriminator
first, then the generator against the updated discriminator (one more
discriminator pass per image than the tutorial's simultaneous update), which
the FLOPs columns show.

Warm-up (tracing) is outside the timing; rounds alternate the three sides so
that the noise of a shared machine falls on all. Printed: median images/s, the
ratios, training FLOPs per image (TF's profiler on each step's graph, and an
analytic count), the measured float32 matmul peak and the model FLOPs
utilisation (MFU).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import layers  # noqa: E402

from genkit.data import load_image_dataset  # noqa: E402
from genkit.data.image_pipeline import image_pipeline  # noqa: E402
from genkit.models import DCGAN, DCGANConfig  # noqa: E402
from genkit.runtime.trainer import Trainer  # noqa: E402
from genkit.runtime.training_checkpoint import TrainingCheckpoint  # noqa: E402

NOISE_DIM = 100
TUTORIAL_CONFIG = {
    "image_shape": [28, 28, 1], "latent_dim": NOISE_DIM, "projection_filters": 256,
    "generator_filters": [128, 64], "discriminator_filters": [64, 128], "kernel_size": 5,
    "leaky_relu_slope": 0.3, "dropout_rate": 0.3, "generator_learning_rate": 1e-4,
    "discriminator_learning_rate": 1e-4, "beta_1": 0.9, "generator_activation": "leaky_relu",
    "discriminator_batch_norm": False, "label_smoothing": 0.0,
}


# --- the peer baseline: TensorFlow's DCGAN tutorial, written out -------------------------------
def tutorial_generator():
    return keras.Sequential([
        keras.Input((NOISE_DIM,)),
        layers.Dense(7 * 7 * 256, use_bias=False), layers.BatchNormalization(), layers.LeakyReLU(),
        layers.Reshape((7, 7, 256)),
        layers.Conv2DTranspose(128, 5, strides=1, padding="same", use_bias=False),
        layers.BatchNormalization(), layers.LeakyReLU(),
        layers.Conv2DTranspose(64, 5, strides=2, padding="same", use_bias=False),
        layers.BatchNormalization(), layers.LeakyReLU(),
        layers.Conv2DTranspose(1, 5, strides=2, padding="same", use_bias=False, activation="tanh"),
    ])


def tutorial_discriminator():
    return keras.Sequential([
        keras.Input((28, 28, 1)),
        layers.Conv2D(64, 5, strides=2, padding="same"), layers.LeakyReLU(), layers.Dropout(0.3),
        layers.Conv2D(128, 5, strides=2, padding="same"), layers.LeakyReLU(), layers.Dropout(0.3),
        layers.Flatten(), layers.Dense(1),
    ])


def tutorial_train_step(batch_size):
    generator, discriminator = tutorial_generator(), tutorial_discriminator()
    cross_entropy = keras.losses.BinaryCrossentropy(from_logits=True)
    generator_optimizer, discriminator_optimizer = keras.optimizers.Adam(1e-4), keras.optimizers.Adam(1e-4)

    @tf.function
    def train_step(images):
        noise = tf.random.normal([batch_size, NOISE_DIM])
        with tf.GradientTape() as gen_tape, tf.GradientTape() as disc_tape:
            generated_images = generator(noise, training=True)
            real_output = discriminator(images, training=True)
            fake_output = discriminator(generated_images, training=True)
            gen_loss = cross_entropy(tf.ones_like(fake_output), fake_output)
            disc_loss = cross_entropy(tf.ones_like(real_output), real_output) + cross_entropy(
                tf.zeros_like(fake_output), fake_output
            )
        gradients_of_generator = gen_tape.gradient(gen_loss, generator.trainable_variables)
        gradients_of_discriminator = disc_tape.gradient(disc_loss, discriminator.trainable_variables)
        generator_optimizer.apply_gradients(zip(gradients_of_generator, generator.trainable_variables))
        discriminator_optimizer.apply_gradients(zip(gradients_of_discriminator, discriminator.trainable_variables))

    return train_step, generator, discriminator


# --- FLOPs -------------------------------------------------------------------------------------
def profiler_flops(concrete_function) -> int:
    """Float operations TF's profiler counts in a traced function's graph."""
    from tensorflow.python.profiler import model_analyzer, option_builder

    options = option_builder.ProfileOptionBuilder(option_builder.ProfileOptionBuilder.float_operation())
    options = options.with_empty_output().build()
    return int(model_analyzer.profile(concrete_function.graph, options=options).total_float_ops)


def forward_macs(model: keras.Model) -> int:
    """Multiply-accumulates of one image's forward pass through Dense and (transposed) conv layers."""
    total = 0
    for layer in model.layers:
        if isinstance(layer, layers.Dense):
            total += int(layer.kernel.shape[0]) * int(layer.kernel.shape[1])
        elif isinstance(layer, (layers.Conv2D, layers.Conv2DTranspose)):
            kh, kw, a, b = (int(d) for d in layer.kernel.shape)
            if isinstance(layer, layers.Conv2DTranspose):  # kernel [kh, kw, out, in]; work per input pixel
                _, height, width, _ = layer.input.shape
            else:  # kernel [kh, kw, in, out]; work per output pixel
                _, height, width, _ = layer.output.shape
            total += int(height) * int(width) * kh * kw * a * b
    return total


# --- timing ------------------------------------------------------------------------------------
def matmul_peak_gflops(size=2048, repeats=20) -> float:
    a = tf.random.normal([size, size])
    b = tf.random.normal([size, size])
    matmul = tf.function(lambda x, y: tf.linalg.matmul(x, y))
    matmul(a, b).numpy()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        matmul(a, b).numpy()
        times.append(time.perf_counter() - start)
    return 2 * size**3 / statistics.median(times) / 1e9


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=100, help="train steps per round and side")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--quick", action="store_true", help="a ~1 minute smoke run (30 steps, 2 rounds)")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = parser.parse_args(argv)
    if args.quick:
        args.steps, args.rounds = 30, 2
    batch = args.batch_size

    try:
        data = load_image_dataset("fashion_mnist")
    except Exception:  # noqa: BLE001 - the benchmark runs on the embedded subset too
        data = load_image_dataset("embedded")
    dataset = image_pipeline(data.train_images, batch_size=batch, shuffle_seed=0).repeat()

    # Baseline.
    keras.utils.set_random_seed(0)
    baseline_step, tutorial_g, tutorial_d = tutorial_train_step(batch)

    def run_baseline(steps):
        # As in the tutorial's epoch loop, each round iterates the dataset afresh (like genkit's epochs).
        start = time.perf_counter()
        for batch_dict in dataset.take(steps):
            baseline_step(batch_dict["images"])
        # Wait for the last update: read one weight back.
        tutorial_g.trainable_variables[0].numpy()
        return steps * batch / (time.perf_counter() - start)

    # genkit.
    keras.utils.set_random_seed(0)
    config = DCGANConfig.from_dict(TUTORIAL_CONFIG)
    gan = DCGAN.from_hyperparameters(config)
    gan.compile_for_training(config, seed=0)
    for mine, theirs in ((gan.generator, tutorial_g), (gan.discriminator, tutorial_d)):
        assert mine.count_params() == theirs.count_params(), (mine.name, mine.count_params(), theirs.count_params())
    checkpoint_dir = tempfile.mkdtemp(prefix="genkit-bench-")
    trainer = Trainer(gan, tf.distribute.get_strategy(), TrainingCheckpoint(gan, checkpoint_dir, max_to_keep=1))

    plain_step = tf.function(gan.train_step)

    def run_plain(steps):
        start = time.perf_counter()
        for batch_dict in dataset.take(steps):
            plain_step(batch_dict)
        gan.generator.trainable_variables[0].numpy()
        return steps * batch / (time.perf_counter() - start)

    def run_genkit(steps):
        start = time.perf_counter()
        trainer.fit(lambda epoch: dataset.take(steps), epochs=1, steps_per_epoch=steps, callbacks=[], verbose=0)
        return steps * batch / (time.perf_counter() - start)

    print(f"data: {data.name} ({len(data.train_images)} images), batch {batch}, {args.rounds} rounds x {args.steps} steps")
    run_baseline(5), run_plain(5), run_genkit(5)  # warm-up: tracing and first-call costs
    baseline_rates, plain_rates, genkit_rates = [], [], []
    for round_index in range(args.rounds):
        baseline_rates.append(run_baseline(args.steps))
        plain_rates.append(run_plain(args.steps))
        genkit_rates.append(run_genkit(args.steps))
        print(
            f"  round {round_index + 1}: tutorial {baseline_rates[-1]:.0f}, plain loop {plain_rates[-1]:.0f}, "
            f"genkit {genkit_rates[-1]:.0f} img/s"
        )

    baseline_median, genkit_median = statistics.median(baseline_rates), statistics.median(genkit_rates)
    plain_median = statistics.median(plain_rates)
    example = next(iter(dataset))
    baseline_flops = profiler_flops(baseline_step.get_concrete_function(example["images"])) / batch
    genkit_flops = profiler_flops(tf.function(gan.train_step).get_concrete_function(example)) / batch
    g_macs, d_macs = forward_macs(gan.generator), forward_macs(gan.discriminator)
    # Forward + backward ~ 3x forward. Tutorial: one G pass and two D passes, all back-propagated.
    # genkit: the same, plus one more back-propagated D pass (the generator's loss after the D update).
    baseline_analytic = 2 * (3 * g_macs + 3 * 2 * d_macs)
    genkit_analytic = 2 * (3 * g_macs + 3 * 3 * d_macs)
    peak = matmul_peak_gflops()
    results = {
        "command": " ".join([os.path.basename(sys.executable), *sys.argv]),
        "data": data.name, "batch_size": batch, "steps_per_round": args.steps, "rounds": args.rounds,
        "tutorial_images_per_second": round(baseline_median, 1),
        "plain_loop_images_per_second": round(plain_median, 1),
        "genkit_images_per_second": round(genkit_median, 1),
        "ratio_genkit_over_plain_loop": round(genkit_median / plain_median, 3),
        "ratio_genkit_over_tutorial": round(genkit_median / baseline_median, 3),
        "tutorial_rounds": [round(r, 1) for r in baseline_rates],
        "plain_loop_rounds": [round(r, 1) for r in plain_rates],
        "genkit_rounds": [round(r, 1) for r in genkit_rates],
        "generator_forward_mflops": round(2 * g_macs / 1e6, 2),
        "discriminator_forward_mflops": round(2 * d_macs / 1e6, 2),
        "tutorial_train_mflops_per_image_profiler": round(baseline_flops / 1e6, 1),
        "genkit_train_mflops_per_image_profiler": round(genkit_flops / 1e6, 1),
        "tutorial_train_mflops_per_image_analytic": round(baseline_analytic / 1e6, 1),
        "genkit_train_mflops_per_image_analytic": round(genkit_analytic / 1e6, 1),
        "matmul_2048_gflops": round(peak, 1),
        "tutorial_mfu": round(baseline_median * baseline_analytic / (peak * 1e9), 4),
        "genkit_mfu": round(genkit_median * genkit_analytic / (peak * 1e9), 4),
        "versions": {"tensorflow": tf.__version__, "keras": keras.__version__, "cpus": os.cpu_count(),
                     "platform": platform.platform()},
    }
    print()
    print(f"{'':34}{'tutorial':>12}{'plain loop':>12}{'genkit':>12}")
    print(f"{'images/s (median)':34}{baseline_median:12.0f}{plain_median:12.0f}{genkit_median:12.0f}")
    print(f"{'train MFLOPs/image (profiler)':34}{baseline_flops / 1e6:12.1f}{genkit_flops / 1e6:12.1f}{genkit_flops / 1e6:12.1f}")
    print(f"{'train MFLOPs/image (analytic)':34}{baseline_analytic / 1e6:12.1f}{genkit_analytic / 1e6:12.1f}{genkit_analytic / 1e6:12.1f}")
    plain_mfu = plain_median * genkit_analytic / (peak * 1e9)
    print(f"{'MFU (analytic FLOPs / matmul peak)':34}{results['tutorial_mfu']:12.1%}{plain_mfu:12.1%}{results['genkit_mfu']:12.1%}")
    print(f"genkit / plain loop (the toolkit's cost): {results['ratio_genkit_over_plain_loop']:.3f} (target >= 0.95)")
    print(f"genkit / tutorial (toolkit and algorithm): {results['ratio_genkit_over_tutorial']:.3f}")
    print(f"float32 2048x2048 matmul peak: {peak:.0f} GFLOP/s; G forward {2 * g_macs / 1e6:.1f} MFLOPs, "
          f"D forward {2 * d_macs / 1e6:.1f} MFLOPs per image")
    if args.json:
        with open(args.json, "w") as file:
            json.dump(results, file, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""DCGAN: the trainable model, with two optimizers and an alternating train step."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from genkit.models.dcgan.dcgan_config import DCGANConfig
from genkit.models.dcgan.dcgan_discriminator import build_dcgan_discriminator
from genkit.models.dcgan.dcgan_generator import build_dcgan_generator
from genkit.models.generative_task import GenerativeTask
from genkit.models.noise import replica_normal
from genkit.registry import register_model


def _adam(learning_rate: float, config: DCGANConfig):
    optimizer = keras.optimizers.Adam(learning_rate, beta_1=config.beta_1, beta_2=config.beta_2)
    if keras.mixed_precision.dtype_policy().name == "mixed_float16":
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer


@keras.saving.register_keras_serializable(package="genkit")
@register_model(
    "dcgan",
    config=DCGANConfig,
    family="gan",
    description="Deep convolutional GAN (Radford et al. 2016), non-saturating loss",
    train_defaults={"epochs": 50, "batch_size": 64},
)
class DCGAN(GenerativeTask):
    """A GAN whose ``train_step`` updates the discriminator, then the generator.

    Args:
        generator: functional model ``z -> images`` in [-1, 1].
        discriminator: functional model ``images -> logit``.
        latent_dim: size of ``z``.
        label_smoothing: target for real images is ``1 - label_smoothing``.

    ``call(z)`` and ``generate(z=...)`` return images in [0, 1]. Plain
    ``model.compile(generator_optimizer=..., discriminator_optimizer=...)``
    then ``model.fit(images)`` works on one device; the genkit runtime drives
    the same ``train_step`` under any ``tf.distribute`` strategy.
    """

    def __init__(self, generator, discriminator, latent_dim, label_smoothing=0.0, **kwargs):
        super().__init__(**kwargs)
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = latent_dim
        self.label_smoothing = label_smoothing
        self.noise_seed = 0
        self.discriminator_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.generator_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.real_score_tracker = keras.metrics.Mean(name="real_score")
        self.fake_score_tracker = keras.metrics.Mean(name="fake_score")
        # Both sub-networks are built functional models; nothing is left to build lazily.
        self.built = True

    @classmethod
    def from_hyperparameters(cls, config: DCGANConfig):
        return cls(
            generator=build_dcgan_generator(config),
            discriminator=build_dcgan_discriminator(config),
            latent_dim=config.latent_dim,
            label_smoothing=config.label_smoothing,
            name="dcgan",
        )

    @property
    def metrics(self):
        return [
            self.discriminator_loss_tracker,
            self.generator_loss_tracker,
            self.real_score_tracker,
            self.fake_score_tracker,
        ]

    def compile(self, generator_optimizer, discriminator_optimizer, **kwargs):
        super().compile(**kwargs)
        self.generator_optimizer = generator_optimizer
        self.discriminator_optimizer = discriminator_optimizer
        # Build both optimizers now, inside whatever strategy scope is active:
        # two lazily built optimizers can fail under MirroredStrategy.
        generator_optimizer.build(self.generator.trainable_variables)
        discriminator_optimizer.build(self.discriminator.trainable_variables)

    def compile_for_training(self, config: DCGANConfig, seed: int = 0):
        self.noise_seed = int(seed)
        self.compile(
            generator_optimizer=_adam(config.generator_learning_rate, config),
            discriminator_optimizer=_adam(config.discriminator_learning_rate, config),
        )

    def checkpoint_objects(self):
        return {
            "generator": self.generator,
            "discriminator": self.discriminator,
            "generator_optimizer": self.generator_optimizer,
            "discriminator_optimizer": self.discriminator_optimizer,
        }

    def call(self, z, training=False):
        return (self.generator(z, training=training) + 1.0) / 2.0

    def _latent(self, batch_size):
        step = self.discriminator_optimizer.iterations
        return replica_normal(self.noise_seed, step, 0, batch_size, self.latent_dim)

    @staticmethod
    def _apply(optimizer, scaled_loss, variables, tape):
        # scaled_loss = optimizer.scale_loss(loss), computed inside the tape; a
        # LossScaleOptimizer unscales the gradients (and skips non-finite steps).
        gradients = tape.gradient(scaled_loss, variables)
        optimizer.apply_gradients(zip(gradients, variables))

    def train_step(self, data):
        real_images = data[0] if isinstance(data, (tuple, list)) else data
        batch_size = ops.shape(real_images)[0]
        real_target = 1.0 - self.label_smoothing

        z = self._latent(batch_size)
        # One generator pass serves both updates (as in PyTorch's DCGAN example): the outer
        # tape follows G(z) into the generator's loss, computed after the discriminator's update.
        with tf.GradientTape() as generator_tape:
            fake_images = self.generator(z, training=True)

            # Discriminator: real images toward 1 (or 1 - label_smoothing), generated toward 0.
            with tf.GradientTape() as discriminator_tape:
                real_logits = self.discriminator(real_images, training=True)
                fake_logits = self.discriminator(tf.stop_gradient(fake_images), training=True)
                per_example = tf.nn.sigmoid_cross_entropy_with_logits(
                    labels=tf.fill(tf.shape(real_logits), real_target), logits=real_logits
                ) + tf.nn.sigmoid_cross_entropy_with_logits(labels=tf.zeros_like(fake_logits), logits=fake_logits)
                # Averaged over the global batch: the optimizer sums gradients across replicas.
                discriminator_loss = tf.nn.compute_average_loss(per_example[:, 0])
                scaled_loss = self.discriminator_optimizer.scale_loss(discriminator_loss)
            self._apply(
                self.discriminator_optimizer, scaled_loss, self.discriminator.trainable_variables, discriminator_tape
            )

            # Generator: the non-saturating loss -log D(G(z)), against the updated discriminator.
            generated_logits = self.discriminator(fake_images, training=True)
            per_example = tf.nn.sigmoid_cross_entropy_with_logits(
                labels=tf.ones_like(generated_logits), logits=generated_logits
            )
            generator_loss = tf.nn.compute_average_loss(per_example[:, 0])
            scaled_loss = self.generator_optimizer.scale_loss(generator_loss)
        self._apply(self.generator_optimizer, scaled_loss, self.generator.trainable_variables, generator_tape)

        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        self.discriminator_loss_tracker.update_state(discriminator_loss * replicas)
        self.generator_loss_tracker.update_state(generator_loss * replicas)
        self.real_score_tracker.update_state(ops.sigmoid(real_logits))
        self.fake_score_tracker.update_state(ops.sigmoid(fake_logits))
        return {metric.name: metric.result() for metric in self.metrics}

    def sample_inputs(self, num_samples, seed):
        return {"z": np.random.default_rng(seed).standard_normal((num_samples, self.latent_dim)).astype("float32")}

    def generate(self, z):
        return ops.clip(self(z, training=False), 0.0, 1.0)

    def serving_endpoints(self):
        def serve(z):
            return {"images": self.generate(z)}

        return {"serving_default": (serve, [tf.TensorSpec([None, self.latent_dim], tf.float32, name="z")])}

    def get_compile_config(self):
        # model.keras holds the networks; optimizer state lives in the run's checkpoints.
        return None

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "generator": keras.saving.serialize_keras_object(self.generator),
                "discriminator": keras.saving.serialize_keras_object(self.discriminator),
                "latent_dim": self.latent_dim,
                "label_smoothing": self.label_smoothing,
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["generator"] = keras.saving.deserialize_keras_object(config["generator"])
        config["discriminator"] = keras.saving.deserialize_keras_object(config["discriminator"])
        return cls(**config)

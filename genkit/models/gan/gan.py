"""The GAN task every GAN family shares: its networks, two optimizers, the alternating train step (its parts in
:mod:`~genkit.models.gan.gan_step`: the adversarial losses, the gradient penalty, the moving average of the generator,
the metrics), sampling, and serialisation; what it serves is in :mod:`~genkit.models.gan.gan_serving`, what
``genkit explain`` shows of it in :mod:`~genkit.models.gan.gan_explanations`."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from genkit.errors import UserError
from genkit.models.gan.conv_discriminator import build_conv_discriminator
from genkit.models.gan.conv_generator import build_conv_generator
from genkit.models.gan.gan_explanations import discriminator_explanation_methods
from genkit.models.gan.gan_losses import discriminator_loss
from genkit.models.gan.gan_serving import gan_endpoints
from genkit.models.gan.gan_step import (
    discriminator_update,
    generator_objective,
    record_step_metrics,
    update_generator_average,
)
from genkit.tasks.image_generation import ImageGenerationTask
from genkit.training.loss_scaling import with_loss_scaling
from genkit.training.moving_average import build_moving_average
from genkit.training.noise import replica_normal


def _adam(learning_rate: float, config):
    return with_loss_scaling(keras.optimizers.Adam(learning_rate, beta_1=config.beta_1, beta_2=config.beta_2))


class GAN(ImageGenerationTask):
    """A GAN whose ``train_step`` updates the discriminator (critic), then the generator.

    Args:
        generator: functional model ``z -> images`` in [-1, 1]
            (``[z, label] -> images`` for a conditional model).
        discriminator: functional model ``images -> logit``
            (``[images, label] -> logit``).
        latent_dim: size of ``z``.
        loss: ``non_saturating``, ``hinge`` or ``wasserstein`` (see :mod:`genkit.models.gan.gan_losses`).
        label_smoothing: non-saturating loss: the target of real images is ``1 - label_smoothing``.
        generator_average: a network like ``generator`` holding the exponential
            moving average of its weights, or None; when given it makes every
            sample (``call``, ``generate``, sample grids, serving, exports).
        ema_decay: the decay of the moving average (warmed up as
            ``min(ema_decay, (1 + t) / (10 + t))`` after ``t`` generator updates).
        discriminator_steps: discriminator updates per generator update
            (WGAN-GP's n_critic). With more than one, each batch holds one real
            batch per discriminator update: images ``[batch, steps, H, W, C]``.
        gradient_penalty_weight: weight of the WGAN-GP gradient penalty (0: none).
        num_classes: number of classes of a conditional model (one that mixes in ``ClassConditioning``).

    One train step: for each of the ``discriminator_steps`` real batches, a
    fresh latent batch, ``G(z)``, and one discriminator update; then one
    generator update against the updated discriminator on the last ``G(z)``
    (one generator pass serves both updates), then the moving average.
    Losses are averaged over the global batch; noise (latent batches,
    interpolation weights) is drawn statelessly from (seed, generator step,
    stream) with :mod:`genkit.training.noise`, so replicas draw distinct rows of
    one global batch and a resumed run draws exactly what it would have drawn.
    """

    # The metric of the losses the generator's layers add, for a family whose generator has them.
    generator_layer_loss_name = ""

    def __init__(self, generator, discriminator, latent_dim, loss="non_saturating", label_smoothing=0.0,
                 generator_average=None, ema_decay=0.0, discriminator_steps=1, gradient_penalty_weight=0.0,
                 num_classes=None, **kwargs):
        super().__init__(**kwargs)
        self.generator = generator
        self.discriminator = discriminator
        self.generator_average = generator_average
        self.latent_dim = latent_dim
        self.loss = loss
        self.label_smoothing = label_smoothing
        self.ema_decay = ema_decay
        self.discriminator_steps = discriminator_steps
        self.gradient_penalty_weight = gradient_penalty_weight
        self.num_classes = num_classes
        self.noise_seed = 0
        self.discriminator_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.generator_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.real_score_tracker = keras.metrics.Mean(name="real_score")
        self.fake_score_tracker = keras.metrics.Mean(name="fake_score")
        self.gradient_penalty_tracker = keras.metrics.Mean(name="gradient_penalty")
        self.generator_layer_loss_tracker = keras.metrics.Mean(name=self.generator_layer_loss_name or "generator_layer_losses")
        # The sub-networks are built functional models; nothing is left to build lazily.
        self.built = True

    # -- construction --------------------------------------------------------------------------

    @classmethod
    def build_generator(cls, config, name="generator"):
        """``z`` (``[z, label]``: the label's learned embedding concatenated to z) -> images in [-1, 1]."""
        return build_conv_generator(config, num_classes=config.num_classes if cls.conditional else None, name=name)

    @classmethod
    def build_discriminator(cls, config):
        """images (``[images, label]``: a projection discriminator) -> one logit (critic value) per image."""
        return build_conv_discriminator(config, num_classes=config.num_classes if cls.conditional else None)

    @classmethod
    def family_options(cls, config) -> dict:
        """Constructor arguments a family takes from its config beyond the shared ones."""
        return {}

    @classmethod
    def from_hyperparameters(cls, config):
        if cls.conditional and not config.num_classes:
            raise UserError(f"{cls.registered_name}: field 'num_classes' must be set (it is filled from the data)")
        generator = cls.build_generator(config)
        discriminator = cls.build_discriminator(config)
        average = None
        if config.ema_decay > 0:
            average = build_moving_average(lambda: cls.build_generator(config, name="generator_average"), generator)
        return cls(
            generator=generator,
            discriminator=discriminator,
            generator_average=average,
            latent_dim=config.latent_dim,
            loss=config.loss,
            label_smoothing=config.label_smoothing,
            ema_decay=config.ema_decay,
            num_classes=config.num_classes if cls.conditional else None,
            name=cls.registered_name.replace("-", "_"),
            **cls.family_options(config),
        )

    @property
    def metrics(self):
        trackers = [self.discriminator_loss_tracker, self.generator_loss_tracker, self.real_score_tracker,
                    self.fake_score_tracker]
        if self.gradient_penalty_weight:
            trackers.append(self.gradient_penalty_tracker)
        if self.generator_layer_loss_name:
            trackers.append(self.generator_layer_loss_tracker)
        return trackers

    def compile(self, generator_optimizer, discriminator_optimizer, **kwargs):
        super().compile(**kwargs)
        self.generator_optimizer = generator_optimizer
        self.discriminator_optimizer = discriminator_optimizer
        # Build both optimizers now, inside whatever strategy scope is active:
        # two lazily built optimizers can fail under MirroredStrategy.
        generator_optimizer.build(self.generator.trainable_variables)
        discriminator_optimizer.build(self.discriminator.trainable_variables)

    def compile_for_training(self, config, seed: int = 0):
        self.noise_seed = int(seed)
        self.compile(
            generator_optimizer=_adam(config.generator_learning_rate, config),
            discriminator_optimizer=_adam(config.discriminator_learning_rate, config),
        )

    def checkpoint_objects(self):
        objects = {
            "generator": self.generator, "discriminator": self.discriminator,
            "generator_optimizer": self.generator_optimizer, "discriminator_optimizer": self.discriminator_optimizer,
        }
        if self.generator_average is not None:
            objects["generator_average"] = self.generator_average
        return objects

    # -- the networks --------------------------------------------------------------------------

    @property
    def sampling_generator(self):
        """The network that makes samples: the moving average when there is one."""
        return self.generator_average if self.generator_average is not None else self.generator

    def _generator_inputs(self, z, conditions, stream: int):
        """What the generator takes in a train step: ``z`` (``[z, label]`` for a class-conditional model)."""
        return [z, conditions] if self.num_classes else z

    def _discriminator_inputs(self, images, conditions):
        """What the discriminator takes: ``images`` (``[images, label]`` for a class-conditional model)."""
        return [images, conditions] if self.num_classes else images

    def _discriminator_objective(self, real_images, conditions, real_logits, fake_logits):
        """The discriminator's loss per example (a family adds terms here: the matching-aware loss)."""
        return discriminator_loss(self.loss, real_logits, fake_logits, 1.0 - self.label_smoothing)

    def call(self, inputs, training=False):
        """``z`` (``[z, label]`` for a conditional model) -> images in [0, 1] from the sampling generator."""
        return (self.sampling_generator(inputs, training=training) + 1.0) / 2.0

    def _latent(self, batch_size, stream=0):
        step = self.generator_optimizer.iterations
        return replica_normal(self.noise_seed, step, stream, batch_size, self.latent_dim)

    # -- training ------------------------------------------------------------------------------

    def training_dataset(self, data, batch_size, shuffle_seed):
        """Global dict batches; with ``discriminator_steps`` k > 1, k real batches per step as ``[batch, k, ...]``."""
        steps = self.discriminator_steps
        dataset = super().training_dataset(data, batch_size * steps, shuffle_seed)
        if steps == 1:
            return dataset

        def group(batch):
            return {name: tf.reshape(t, [batch_size, steps, *t.shape[1:]]) for name, t in batch.items()}

        return dataset.map(group)

    def _unpack(self, batch):
        """(images, labels or None) of a dict batch (plain Keras ``fit(images)`` passes the images alone)."""
        if not isinstance(batch, dict):
            batch = {"images": batch[0] if isinstance(batch, (tuple, list)) else batch}
        labels = tf.cast(batch["labels"], tf.int32) if self.num_classes else None
        return batch["images"], labels

    def train_step(self, data):
        """One step (see the class): the discriminator updates, then the generator's, then the moving average
        (:mod:`genkit.models.gan.gan_step`)."""
        images, labels = self._unpack(data)
        batch_size = ops.shape(images)[0]
        steps = self.discriminator_steps
        results = []
        for index in range(steps):
            real_images = images[:, index] if steps > 1 else images
            real_labels = (labels[:, index] if steps > 1 else labels) if labels is not None else None
            z = self._latent(batch_size, stream=index)
            # The last discriminator update shares its G(z) with the generator update: the outer
            # tape follows G(z) into the generator's loss, computed after the discriminator's update.
            with tf.GradientTape() as generator_tape:
                fake_images = self.generator(self._generator_inputs(z, real_labels, index), training=True)
                with generator_tape.stop_recording():
                    results.append(discriminator_update(self, real_images, tf.stop_gradient(fake_images), real_labels, index))
                if index == steps - 1:
                    generator_loss_value, layer_losses, total = generator_objective(self, fake_images, real_labels)
        self.minimize(generator_tape, total, self.generator.trainable_variables, self.generator_optimizer)
        if self.generator_average is not None:
            update_generator_average(self)
        record_step_metrics(self, results, generator_loss_value, layer_losses)
        return {metric.name: metric.result() for metric in self.metrics}

    # -- sampling ------------------------------------------------------------------------------

    def generate(self, z, label=None):
        if self.num_classes and label is None:
            raise ValueError(f"{type(self).__name__} is conditional: generate(z, label) needs the class ids")
        if not self.num_classes and label is not None:
            raise ValueError(f"{type(self).__name__} is not conditional: generate(z) takes no label")
        inputs = [z, ops.cast(label, "int32")] if self.num_classes else z
        return ops.clip(self(inputs, training=False), 0.0, 1.0)

    def generate_samples(self, num_samples, seed=0, label=None, **options):
        """Images from ``num_samples`` latent draws of ``seed``; all of class ``label`` when given (conditional models)."""
        if not self.num_classes:
            return super().generate_samples(num_samples, seed, label=label, **options)
        self.check_options("sampling", options)
        inputs = self.sample_inputs(num_samples, seed)
        if label is not None:
            inputs["label"] = self.sample_labels(num_samples, label)
        return np.asarray(self.generate(**inputs), dtype=np.float32)

    # -- explanations --------------------------------------------------------------------------

    # Whether genkit explain shows the discriminator's maps (a family whose discriminator takes more than
    # images and class ids, such as text2image-gan's word ids, turns it off until it says which text to feed).
    explains_discriminator = True

    def explanation_methods(self):
        """Adds where the discriminator (critic) looks to call real and generated images fake: saliency and CAMs
        (:mod:`genkit.models.gan.gan_explanations`)."""
        methods = super().explanation_methods()
        if self.explains_discriminator:
            methods.update(discriminator_explanation_methods(self))
        return methods

    # -- serving -------------------------------------------------------------------------------

    @property
    def image_shape(self):
        return tuple(self.generator.outputs[0].shape[1:])

    def endpoints(self):
        """``serving_default(z[, label]) -> images`` in [0, 1] (:func:`genkit.models.gan.gan_serving.gan_endpoints`)."""
        return gan_endpoints(self)

    def export_metadata(self):
        return {"num_classes": self.num_classes} if self.num_classes else {}

    # -- serialisation -------------------------------------------------------------------------

    def get_config(self):
        config = super().get_config()
        config.update({
            **{name: keras.saving.serialize_keras_object(network) if network is not None else None
               for name, network in (("generator", self.generator), ("discriminator", self.discriminator),
                                     ("generator_average", self.generator_average))},
            "latent_dim": self.latent_dim, "loss": self.loss, "label_smoothing": self.label_smoothing,
            "ema_decay": self.ema_decay, "discriminator_steps": self.discriminator_steps,
            "gradient_penalty_weight": self.gradient_penalty_weight, "num_classes": self.num_classes,
        })
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for name in ("generator", "discriminator", "generator_average"):
            if config.get(name) is not None:
                config[name] = keras.saving.deserialize_keras_object(config[name])
        return cls(**config)

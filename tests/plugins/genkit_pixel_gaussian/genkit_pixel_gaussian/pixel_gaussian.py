"""pixel-gaussian: every pixel an independent Gaussian, fitted by maximum likelihood."""

from __future__ import annotations

import math

import keras
import tensorflow as tf

from genkit.registry import register_model
from genkit.signatures import Endpoint, StandardNormal, TensorDeclaration
from genkit.tasks.image_generation import ImageGenerationTask, image_declaration
from .pixel_gaussian_config import PixelGaussianConfig
from .pixel_gaussian_network import build_pixel_gaussian_network


@register_model(
    "pixel-gaussian",
    config=PixelGaussianConfig,
    family="pixel-gaussian",
    description="Every pixel an independent Gaussian: the simplest likelihood baseline",
    train_defaults={"epochs": 3, "batch_size": 64},
    tiny_overrides=[],  # already tiny: one weight pair per pixel
)
class PixelGaussian(ImageGenerationTask):
    """Images in [0, 1] as ``mean + std * z`` per pixel; ``train_step`` minimises the Gaussian NLL."""

    training_image_range = (0.0, 1.0)

    def __init__(self, network, **kwargs):
        super().__init__(**kwargs)
        self.network = network
        self.nll_tracker = keras.metrics.Mean(name="nll")
        self.built = True

    @classmethod
    def from_hyperparameters(cls, config):
        return cls(network=build_pixel_gaussian_network(config), name="pixel_gaussian")

    @property
    def metrics(self):
        return [self.nll_tracker]

    def compile_for_training(self, config, seed: int = 0):
        self.compile(optimizer=keras.optimizers.Adam(config.learning_rate))

    def _trainable_network_variables(self):
        return self.network.trainable_variables

    def checkpoint_objects(self):
        return {"network": self.network, "optimizer": self.optimizer}

    def train_step(self, batch):
        images = batch["images"]
        pixels = self.network.get_layer("pixels")
        variables = self._trainable_network_variables()
        with tf.GradientTape() as tape:
            standardized = (images - pixels.mean) * tf.exp(-pixels.log_std)
            per_pixel = 0.5 * tf.square(standardized) + pixels.log_std + 0.5 * math.log(2 * math.pi)
            nll = tf.reduce_sum(tf.reshape(per_pixel, [tf.shape(images)[0], -1]), axis=1)
            loss = tf.nn.compute_average_loss(nll)
        self.optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        self.nll_tracker.update_state(nll)
        return {"nll": self.nll_tracker.result()}

    @property
    def image_shape(self):
        return tuple(self.network.inputs[0].shape[1:])

    def generate(self, z):
        return tf.clip_by_value(self.network(z, training=False), 0.0, 1.0)

    def endpoints(self):
        z = TensorDeclaration("z", "latent", "float32", self.image_shape, distribution=StandardNormal())

        def serve(z):
            return {"images": self.generate(z)}

        return {"serving_default": Endpoint("serving_default", serve, (z,), (image_declaration("images", self.image_shape),))}

    def get_config(self):
        return {**super().get_config(), "network": keras.saving.serialize_keras_object(self.network)}

    @classmethod
    def from_config(cls, config):
        return cls(**{**config, "network": keras.saving.deserialize_keras_object(config["network"])})

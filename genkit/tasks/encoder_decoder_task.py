"""What the encoder-decoder families (vae, ae) share: the two networks, one Adam optimizer, checkpoints, serialisation."""

from __future__ import annotations

import keras

from genkit.tasks.image_generation import ImageGenerationTask
from genkit.tasks.loss_scaling import with_loss_scaling


class EncoderDecoderTask(ImageGenerationTask):
    """A task made of an ``encoder`` and a ``decoder`` network trained together by one optimizer.

    Args:
        encoder: functional model from images (and labels) to a code or a posterior.
        decoder: functional model from a code (and labels) to images.

    Subclasses add their own constructor arguments to ``get_config()``;
    ``model.keras`` holds the two networks, the optimizer state lives in the
    run's checkpoints.
    """

    def __init__(self, encoder, decoder, **kwargs):
        super().__init__(**kwargs)
        self.encoder = encoder
        self.decoder = decoder
        self.noise_seed = 0

    def compile_for_training(self, config, seed: int = 0):
        """Adam(``config.learning_rate``, ``beta_1``, ``beta_2``); ``seed`` seeds the train step's noise."""
        self.noise_seed = int(seed)
        optimizer = keras.optimizers.Adam(config.learning_rate, beta_1=config.beta_1, beta_2=config.beta_2)
        self.compile(optimizer=with_loss_scaling(optimizer))

    @property
    def image_shape(self):
        return tuple(self.encoder.inputs[0].shape[1:])

    def checkpoint_objects(self):
        return {"encoder": self.encoder, "decoder": self.decoder, "optimizer": self.optimizer}

    def _trainable_network_variables(self):
        return self.encoder.trainable_variables + self.decoder.trainable_variables

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "encoder": keras.saving.serialize_keras_object(self.encoder),
                "decoder": keras.saving.serialize_keras_object(self.decoder),
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["encoder"] = keras.saving.deserialize_keras_object(config["encoder"])
        config["decoder"] = keras.saving.deserialize_keras_object(config["decoder"])
        return cls(**config)

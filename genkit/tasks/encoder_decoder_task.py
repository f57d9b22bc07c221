"""What the encoder-decoder families (vae, ae) share: the two networks, one Adam optimizer, checkpoints, serialisation."""

from __future__ import annotations

import keras
import numpy as np

from genkit.tasks.image_generation import ImageGenerationTask
from genkit.training.loss_scaling import with_loss_scaling


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

    # -- explanations --------------------------------------------------------------------------

    def latent_code(self, images, labels=None):
        """The code of ``images`` that ``decode_code`` takes back (an autoencoder's code, a VAE's posterior mean)."""
        raise NotImplementedError(f"{type(self).__name__} must implement latent_code().")

    def decode_code(self, code, labels=None):
        """Images in [0, 1] from codes (and class ids, for a conditional model)."""
        raise NotImplementedError(f"{type(self).__name__} must implement decode_code().")

    def explanation_methods(self) -> dict:
        """Adds ``reconstructions`` and ``interpolations`` (between the codes of test images)."""
        from genkit.tasks.explanations import ExplanationMethod

        methods = super().explanation_methods()
        methods["reconstructions"] = ExplanationMethod(
            "reconstructions", "test images beside their reconstructions and the difference", self._explain_reconstructions,
        )
        methods["interpolations"] = ExplanationMethod(
            "interpolations", "decodes along straight lines between the codes of two test images", self._explain_interpolations,
        )
        return methods

    def explained_test_images(self, data, num_samples: int, seed: int):
        """(test images in [0, 1], their class ids for a conditional model, else None) to explain with."""
        from genkit.tasks.explanations import ExplanationSkipped, test_split_images

        num_classes = getattr(self, "num_classes", None)
        if getattr(self, "conditioned", False) and not num_classes:
            raise ExplanationSkipped("its codes are conditioned on a description: not explained with test images alone yet")
        images, labels = test_split_images(data, num_samples, seed, "reconstructions")
        if num_classes and labels is None:
            raise ExplanationSkipped(f"{data.name}: the test images have no labels for the conditional model")
        return images, (labels.astype(np.int32) if num_classes else None)

    def _explain_reconstructions(self, data, num_samples: int, seed: int) -> list:
        from genkit.tasks.explanations import Figure, image_table_figure

        images, labels = self.explained_test_images(data, num_samples, seed)
        rebuilt = np.asarray(self.decode_code(self.latent_code(images, labels), labels), np.float32)
        difference = np.abs(rebuilt - images)
        table = np.stack([images, rebuilt, difference / max(float(difference.max()), 1e-6)])
        errors = np.mean((rebuilt - images) ** 2, axis=(1, 2, 3))
        return [Figure(
            name="reconstructions", title="reconstructions", method="reconstructions",
            description=(f"Test images (top), their reconstructions from the code (middle) and the absolute difference, "
                         f"scaled to its maximum {float(difference.max()):.3f} (bottom). Columns: the per-image mean squared error."),
            png=image_table_figure("reconstructions", table, ["test image", "reconstruction", "|difference|"],
                                   [f"mse {error:.4f}" for error in errors]),
            arrays={"images": images, "reconstructions": rebuilt},
        )]

    def _explain_interpolations(self, data, num_samples: int, seed: int) -> list:
        from genkit.tasks.explanations import Figure, image_table_figure

        images, labels = self.explained_test_images(data, max(2, num_samples), seed)
        pairs = max(1, min(len(images) // 2, 6))
        codes = np.asarray(self.latent_code(images[: 2 * pairs], None if labels is None else labels[: 2 * pairs]), np.float32)
        weights = np.linspace(0.0, 1.0, 9, dtype=np.float32)
        starts, ends = codes[0::2], codes[1::2]
        path = starts[:, None] * (1.0 - weights[None, :, None]) + ends[:, None] * weights[None, :, None]
        path_labels = None if labels is None else np.repeat(labels[0 : 2 * pairs : 2], len(weights))
        decoded = np.asarray(self.decode_code(path.reshape(-1, codes.shape[-1]), path_labels), np.float32)
        decoded = decoded.reshape(pairs, len(weights), *decoded.shape[1:])
        table = np.concatenate([images[0 : 2 * pairs : 2][:, None], decoded, images[1 : 2 * pairs : 2][:, None]], axis=1)
        class_note = " (decoded with the first image's class)" if labels is not None else ""
        return [Figure(
            name="interpolations", title="interpolations between test images", method="interpolations",
            description=(f"Each row: a test image, the decodes of 9 evenly spaced points on the straight line between its code "
                         f"and the next image's{class_note}, then that image. Smooth rows: a continuous code space."),
            png=image_table_figure("interpolations", table, [f"pair {index + 1}" for index in range(pairs)],
                                   ["start", *[f"{w:.2f}" for w in weights], "end"]),
            arrays={"images": table},
        )]

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

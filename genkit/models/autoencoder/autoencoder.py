"""The autoencoder task: ae, and dae (which corrupts its inputs), are configurations of this one class."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from genkit.models.autoencoder.autoencoder_config import AutoencoderConfig
from genkit.models.autoencoder.autoencoder_decoder import build_autoencoder_decoder
from genkit.models.autoencoder.autoencoder_encoder import build_autoencoder_encoder
from genkit.models.autoencoder.autoencoder_evaluation import reconstruction_metrics
from genkit.models.autoencoder.corruption import corrupt_images
from genkit.models.autoencoder.reconstruction_grid import COLUMNS, ReconstructionGrid
from genkit.registry import register_model
from genkit.tasks.encoder_decoder_config import TINY_ENCODER_DECODER
from genkit.signatures import Endpoint, StandardNormal, TensorDeclaration
from genkit.tasks.encoder_decoder_task import EncoderDecoderTask
from genkit.tasks.image_generation import image_declaration
from genkit.tasks.reconstruction_images import RECONSTRUCT_OPTION, read_reconstruction_images

NOISE_LEVEL_FIELDS = {"gaussian": "noise_std", "masking": "masking_fraction", "salt_and_pepper": "salt_and_pepper_fraction"}


@register_model(
    "ae",
    config=AutoencoderConfig,
    family="autoencoder",
    description="Convolutional autoencoder: encode, decode, reconstruct",
    train_defaults={"epochs": 20, "batch_size": 64},
    tiny_overrides=TINY_ENCODER_DECODER,
)
class Autoencoder(EncoderDecoderTask):
    """An autoencoder whose ``train_step`` minimises the reconstruction loss.

    Args:
        encoder: functional model ``images -> code``.
        decoder: functional model ``code -> logits`` (images = sigmoid(logits)).
        reconstruction_loss: ``"bce"`` or ``"mse"``, summed over pixels.
        noise: None (plain autoencoder) or the corruption a denoising
            autoencoder trains on: ``"gaussian"``, ``"masking"``, ``"salt_and_pepper"``.
        noise_levels: ``{noise type: level}`` (std or fraction) of each corruption.

    ``call(images)`` and ``reconstruct(images)`` give reconstructions in [0, 1];
    ``generate(code=...)`` decodes codes (N(0, I) draws give rough samples,
    since the codes are batch-normalised).
    """

    training_image_range = (0.0, 1.0)
    generation_endpoint = "decode"
    sampling_options = (RECONSTRUCT_OPTION,)
    evaluation_options = ()

    def __init__(self, encoder, decoder, reconstruction_loss="bce", noise=None, noise_levels=None, **kwargs):
        super().__init__(encoder, decoder, **kwargs)
        self.reconstruction_loss = reconstruction_loss
        self.noise = noise
        self.noise_levels = dict(noise_levels or {})
        self.preview_images = None
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.error_tracker = keras.metrics.Mean(name="mse")
        self.built = True

    @classmethod
    def from_hyperparameters(cls, config: AutoencoderConfig):
        noise = getattr(config, "noise", None)
        levels = {kind: getattr(config, field) for kind, field in NOISE_LEVEL_FIELDS.items()} if noise else None
        return cls(
            encoder=build_autoencoder_encoder(config),
            decoder=build_autoencoder_decoder(config),
            reconstruction_loss=config.reconstruction_loss,
            noise=noise,
            noise_levels=levels,
            name=cls.registered_name,
        )

    @property
    def metrics(self):
        return [self.loss_tracker, self.error_tracker]

    # -- the networks --------------------------------------------------------------------------

    def encode(self, images, training=False):
        return self.encoder(images, training=training)

    def decode(self, code):
        return ops.clip(ops.sigmoid(self.decoder(code, training=False)), 0.0, 1.0)

    def latent_code(self, images, labels=None):
        return self.encode(images)

    def decode_code(self, code, labels=None):
        return self.decode(code)

    def reconstruct(self, images):
        return self.decode(self.encode(images))

    def call(self, images, training=False):
        return self.reconstruct(images)

    def corrupt(self, images, noise, step, seed=None):
        """``images`` corrupted by ``noise`` at this model's level for it (seeded by seed and step)."""
        seed = self.noise_seed if seed is None else seed
        return corrupt_images(images, noise, self.noise_levels[noise], seed, step)

    # -- training ------------------------------------------------------------------------------

    def train_step(self, batch):
        images = batch["images"] if isinstance(batch, dict) else batch  # plain Keras fit(images) too
        inputs = self.corrupt(images, self.noise, self.optimizer.iterations) if self.noise else images
        with tf.GradientTape() as tape:
            logits = self.decoder(self.encoder(inputs, training=True), training=True)
            flat_images = tf.reshape(images, [tf.shape(images)[0], -1])
            flat_logits = tf.reshape(logits, [tf.shape(logits)[0], -1])
            if self.reconstruction_loss == "mse":
                per_example = tf.reduce_sum(tf.square(flat_images - tf.sigmoid(flat_logits)), axis=1)
            else:
                per_example = tf.reduce_sum(
                    tf.nn.sigmoid_cross_entropy_with_logits(labels=flat_images, logits=flat_logits), axis=1
                )
            # Averaged over the global batch: the optimizer sums gradients across replicas.
            loss = tf.nn.compute_average_loss(per_example)
        self.loss_tracker.update_state(self.minimize(tape, loss))
        self.error_tracker.update_state(tf.reduce_mean(tf.square(flat_images - tf.sigmoid(flat_logits)), axis=1))
        return {metric.name: metric.result() for metric in self.metrics}

    def training_dataset(self, data, batch_size, shuffle_seed):
        # The first training images, fixed for the run, are what the per-epoch grids reconstruct.
        self.preview_images = data.train_images[:512].astype(np.float32) / 255.0
        return super().training_dataset(data, batch_size, shuffle_seed)

    def training_callbacks(self, run, num_samples, seed):
        if self.preview_images is None:
            return super().training_callbacks(run, num_samples, seed)
        count = max(COLUMNS, num_samples // 2 // COLUMNS * COLUMNS)
        images = self.preview_images[:count]
        if self.noise:
            images = np.asarray(self.corrupt(tf.constant(images), self.noise, 0, seed=seed))
        return [ReconstructionGrid(images, run.samples_dir)]

    # -- samples -------------------------------------------------------------------------------

    @property
    def latent_dim(self):
        return int(self.decoder.inputs[0].shape[-1])

    def generate(self, code):
        return self.decode(code)

    def generate_samples(self, num_samples, seed=0, reconstruct=None, **options):
        """Reconstructions of the first ``num_samples`` images of ``reconstruct`` (a .npy file);
        without it, decodes of N(0, I) codes (rough samples: an autoencoder has no prior)."""
        self.check_options("sampling", options)
        if reconstruct is not None:
            images = read_reconstruction_images(reconstruct, self.image_shape)[:num_samples]
            return np.asarray(self.reconstruct(images), dtype=np.float32)
        return super().generate_samples(num_samples, seed)

    # -- evaluation ----------------------------------------------------------------------------

    def evaluation_metrics(self, data, num_samples=None, seed=0, **options):
        """``reconstruction_error`` (mean squared error per pixel) on the test split; for a denoising
        autoencoder also ``denoising_error_<noise>`` per noise type (and the noisy input's own error): see
        :func:`genkit.models.autoencoder.autoencoder_evaluation.reconstruction_metrics`."""
        self.check_options("evaluation", options)
        return reconstruction_metrics(self, data, seed)

    # -- serving and export --------------------------------------------------------------------

    def endpoints(self):
        """``serving_default`` / ``reconstruct(images) -> reconstructions``, ``encode(images) -> code``,
        ``decode(code) -> images``; images in [0, 1]."""
        images = image_declaration("images", self.image_shape)
        code = TensorDeclaration(
            "code", "latent", "float32", (self.latent_dim,), distribution=StandardNormal(),
            description="a code; N(0, I) draws decode to rough samples (an autoencoder has no prior)",
        )
        reconstructions = (image_declaration("reconstructions", self.image_shape),)

        def encode(images):
            return {"code": self.encode(images)}

        def decode(code):
            return {"images": self.decode(code)}

        def reconstruct(images):
            return {"reconstructions": self.reconstruct(images)}

        return {
            "serving_default": Endpoint("serving_default", reconstruct, (images,), reconstructions),
            "reconstruct": Endpoint("reconstruct", reconstruct, (images,), reconstructions),
            "encode": Endpoint("encode", encode, (images,), (TensorDeclaration("code", "latent", "float32", (self.latent_dim,)),)),
            "decode": Endpoint("decode", decode, (code,), (images,)),
        }

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "reconstruction_loss": self.reconstruction_loss,
                "noise": self.noise,
                "noise_levels": self.noise_levels,
            }
        )
        return config

"""The variational autoencoder task: vae, beta-vae and cvae are configurations of this one class."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from genkit.errors import UserError
from genkit.options import Option, positive_int
from genkit.signatures import Endpoint, StandardNormal, TensorDeclaration
from genkit.tasks.encoder_decoder_task import EncoderDecoderTask
from genkit.tasks.image_generation import FEATURES_OPTION, image_declaration
from genkit.tasks.reconstruction_images import RECONSTRUCT_OPTION, read_reconstruction_images
from genkit.training.noise import replica_normal
from genkit.models.vae.kl_warmup import kl_weight
from genkit.models.vae.vae_config import VAEConfig
from genkit.models.vae.vae_decoder import build_vae_decoder
from genkit.models.vae.vae_encoder import build_vae_encoder
from genkit.models.vae.vae_explanations import latent_explanation_methods
from genkit.models.vae.vae_losses import bernoulli_log_likelihood, gaussian_kl_between, gaussian_log_likelihood
from genkit.registry import register_model
from genkit.tasks.encoder_decoder_config import TINY_ENCODER_DECODER


@register_model(
    "vae",
    config=VAEConfig,
    family="vae",
    description="Convolutional VAE (Kingma & Welling 2014), Bernoulli or Gaussian decoder",
    train_defaults={"epochs": 30, "batch_size": 64},
    tiny_overrides=TINY_ENCODER_DECODER,
)
class VAE(EncoderDecoderTask):
    """A VAE whose ``train_step`` maximises the (beta-weighted) evidence lower bound.

    Args:
        encoder: functional model ``images[, label] -> [mean, log_var]`` of q(z|x).
        decoder: functional model ``z[, label] -> logits`` (Bernoulli) or
            ``-> [logits, log_var]`` (Gaussian with mean sigmoid(logits)).
        latent_dim: size of ``z``.
        decoder_distribution: ``"bernoulli"`` or ``"gaussian"``.
        beta: weight of the KL term once warmed up.
        kl_warmup_steps: optimizer steps over which the KL weight rises linearly from 0 to ``beta``.
        num_classes: classes of a conditional model (cvae), else None.

    The reparameterisation noise is drawn statelessly from (seed, optimizer
    step) with :func:`genkit.training.noise.replica_normal`: every replica draws
    its own rows, and a resumed run draws what it would have drawn.
    ``call(images)`` (``call([images, labels])`` for cvae) is the
    deterministic reconstruction (the decoder's mean at the posterior mean);
    ``generate(z=...)`` decodes latent codes to images in [0, 1].
    """

    training_image_range = (0.0, 1.0)
    sampling_options = (RECONSTRUCT_OPTION,)
    evaluation_options = (
        FEATURES_OPTION,
        Option("importance_samples", "VAEs: importance samples per image for the NLL", positive_int, "K"),
    )

    def __init__(
        self, encoder, decoder, latent_dim, decoder_distribution="bernoulli", beta=1.0, kl_warmup_steps=0,
        num_classes=None, **kwargs,
    ):
        super().__init__(encoder, decoder, **kwargs)
        self.latent_dim = latent_dim
        self.decoder_distribution = decoder_distribution
        self.beta = beta
        self.kl_warmup_steps = kl_warmup_steps
        self.num_classes = num_classes
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.reconstruction_tracker = keras.metrics.Mean(name="reconstruction")
        self.kl_tracker = keras.metrics.Mean(name="kl")
        self.built = True

    @classmethod
    def from_hyperparameters(cls, config: VAEConfig):
        if cls.conditional and not config.num_classes:
            raise UserError(f"{cls.registered_name}: field 'num_classes' must be set (it is filled from the data)")
        return cls(
            encoder=build_vae_encoder(config),
            decoder=build_vae_decoder(config),
            latent_dim=config.latent_dim,
            decoder_distribution=config.decoder,
            beta=config.beta,
            kl_warmup_steps=config.kl_warmup_steps,
            num_classes=config.num_classes,
            name=cls.registered_name.replace("-", "_"),
        )

    @property
    def metrics(self):
        return [self.loss_tracker, self.reconstruction_tracker, self.kl_tracker]

    # -- the networks as distributions ---------------------------------------------------------

    def _conditioned(self, x, labels):
        if not self.num_classes:
            return x
        return [ops.convert_to_tensor(x, "float32"), ops.convert_to_tensor(labels, "int32")]

    @property
    def conditioned(self) -> bool:
        """Whether encoder and decoder take a second input (class ids here; word ids for a text-conditioned VAE)."""
        return bool(self.num_classes)

    def prior(self, conditions, like, training=False):
        """(mean, log_var) of p(z): a standard normal, shaped like ``like`` [batch, latent_dim]."""
        return tf.zeros_like(like), tf.zeros_like(like)

    def encode(self, images, labels=None, training=False):
        """(mean, log_var) of q(z|x[, y]), float32 [batch, latent_dim]."""
        mean, log_var = self.encoder(self._conditioned(images, labels), training=training)
        return mean, log_var

    def decode_distribution(self, z, labels=None, training=False):
        """(logits, log_var) of p(x|z[, y]); log_var is None for the Bernoulli decoder."""
        outputs = self.decoder(self._conditioned(z, labels), training=training)
        if self.decoder_distribution == "gaussian":
            return outputs[0], outputs[1]
        return outputs, None

    def log_likelihood(self, images, logits, log_var):
        """log p(x|z) per image, in nats (summed over pixels)."""
        if self.decoder_distribution == "gaussian":
            return gaussian_log_likelihood(images, logits, log_var)
        return bernoulli_log_likelihood(images, logits)

    def decode(self, z, labels=None):
        """Images in [0, 1]: the decoder's mean (sigmoid of the logits, for both decoders)."""
        logits, _ = self.decode_distribution(z, labels)
        return ops.clip(ops.sigmoid(logits), 0.0, 1.0)

    def latent_code(self, images, labels=None):
        """The posterior mean of ``images``."""
        return self.encode(images, labels)[0]

    def decode_code(self, code, labels=None):
        return self.decode(code, labels)

    def reconstruct(self, images, labels=None):
        """Deterministic reconstruction: the decoder's mean at the posterior mean."""
        mean, _ = self.encode(images, labels)
        return self.decode(mean, labels)

    def call(self, inputs, training=False):
        images, labels = (inputs[0], inputs[1]) if self.num_classes else (inputs, None)
        return self.reconstruct(images, labels)

    def current_kl_weight(self):
        return kl_weight(self.optimizer.iterations, self.beta, self.kl_warmup_steps)

    # -- training ------------------------------------------------------------------------------

    def _unpack(self, batch):
        """(images in [0, 1], labels or None) of a dict batch (plain Keras ``fit(images)`` passes the images alone)."""
        if not isinstance(batch, dict):
            batch = {"images": batch[0] if isinstance(batch, (tuple, list)) else batch}
        return batch["images"], (batch["labels"] if self.num_classes else None)

    def condition_of(self, labels, training=False):
        """What encoder and decoder take beside their input: the class ids themselves (a text-conditioned VAE
        encodes its word ids here)."""
        return labels

    def train_step(self, batch):
        images, labels = self._unpack(batch)
        batch_size = ops.shape(images)[0]
        weight = self.current_kl_weight()
        epsilon = replica_normal(self.noise_seed, self.optimizer.iterations, 0, batch_size, self.latent_dim)
        with tf.GradientTape() as tape:
            conditions = self.condition_of(labels, training=True) if self.conditioned else None
            mean, log_var = self.encode(images, conditions, training=True)
            z = mean + ops.exp(0.5 * log_var) * epsilon
            logits, pixel_log_var = self.decode_distribution(z, conditions, training=True)
            reconstruction = -self.log_likelihood(images, logits, pixel_log_var)
            prior_mean, prior_log_var = self.prior(conditions, mean, training=True)
            kl = gaussian_kl_between(mean, log_var, prior_mean, prior_log_var)
            # Averaged over the global batch: the optimizer sums gradients across replicas.
            loss = tf.nn.compute_average_loss(reconstruction + weight * kl)
        self.loss_tracker.update_state(self.minimize(tape, loss))
        self.reconstruction_tracker.update_state(reconstruction)
        self.kl_tracker.update_state(kl)
        return {**{metric.name: metric.result() for metric in self.metrics}, "kl_weight": weight}

    # -- samples -------------------------------------------------------------------------------

    def generate(self, z, label=None):
        return self.decode(z, label)

    def generate_samples(self, num_samples, seed=0, label=None, reconstruct=None, **options):
        """Prior samples (of class ``label`` for cvae), or reconstructions of the images in ``reconstruct``.

        With ``reconstruct``, the first ``num_samples`` images of the file are
        reconstructed (deterministically); cvae needs the images' ``label``.
        """
        self.check_options("sampling", {**options, "label": label})
        if reconstruct is not None:
            if self.num_classes and label is None:
                raise UserError(
                    f"--reconstruct: '{self.registered_name}' is a conditional model; pass --label K, "
                    f"the class of the images (0 to {self.num_classes - 1})"
                )
            images = read_reconstruction_images(reconstruct, self.image_shape)[:num_samples]
            labels = None
            if self.num_classes:
                labels = self.sample_labels(len(images), label)
            return np.asarray(self.reconstruct(images, labels), dtype=np.float32)
        inputs = self.sample_inputs(num_samples, seed)
        if self.num_classes and label is not None:
            inputs["label"] = self.sample_labels(num_samples, label)
        return np.asarray(self.generate(**inputs), dtype=np.float32)

    # -- explanations --------------------------------------------------------------------------

    def explanation_methods(self):
        """Adds the KL of each latent dimension and traversals of the dimensions that carry the most
        (:mod:`genkit.models.vae.vae_explanations`)."""
        return {**super().explanation_methods(), **latent_explanation_methods(self)}

    # -- evaluation ----------------------------------------------------------------------------

    def evaluation_metrics(self, data, num_samples=None, seed=0, importance_samples=None, **options):
        """Test ELBO, importance-weighted NLL (nats per image) and reconstruction error; then the
        sample-quality metrics every image generator gets."""
        from genkit.models.vae.vae_evaluation import likelihood_metrics

        metrics = likelihood_metrics(self, data, importance_samples=importance_samples, seed=seed)
        metrics.update(super().evaluation_metrics(data, num_samples=num_samples, seed=seed, **options))
        return metrics

    # -- serving and export --------------------------------------------------------------------

    def endpoints(self):
        """``serving_default`` / ``decode(z[, label]) -> images``, ``encode(images[, label]) -> mean, log_var``,
        ``reconstruct(images[, label]) -> reconstructions``; images in [0, 1]."""
        z = TensorDeclaration("z", "latent", "float32", (self.latent_dim,), distribution=StandardNormal(),
                              description="a latent code; the prior is a standard normal")
        images = image_declaration("images", self.image_shape)
        posterior = (
            TensorDeclaration("mean", "latent", "float32", (self.latent_dim,), description="mean of q(z|x)"),
            TensorDeclaration("log_var", "latent", "float32", (self.latent_dim,), description="log variance of q(z|x)"),
        )
        reconstructions = image_declaration("reconstructions", self.image_shape, "the decoder's mean at the posterior mean")
        label = (self.label_declaration(),) if self.num_classes else ()

        def decode(z, *label):
            return {"images": self.decode(z, *label)}

        def encode(images, *label):
            mean, log_var = self.encode(images, *label)
            return {"mean": mean, "log_var": log_var}

        def reconstruct(images, *label):
            return {"reconstructions": self.reconstruct(images, *label)}

        return {
            "serving_default": Endpoint("serving_default", decode, (z, *label), (images,)),
            "decode": Endpoint("decode", decode, (z, *label), (images,)),
            "encode": Endpoint("encode", encode, (images, *label), posterior),
            "reconstruct": Endpoint("reconstruct", reconstruct, (images, *label), (reconstructions,)),
        }

    def export_metadata(self):
        return {"num_classes": self.num_classes} if self.num_classes else {}

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "latent_dim": self.latent_dim,
                "decoder_distribution": self.decoder_distribution,
                "beta": self.beta,
                "kl_warmup_steps": self.kl_warmup_steps,
                "num_classes": self.num_classes,
            }
        )
        return config

"""Text-to-image VAE: a conditional VAE whose prior, encoder and decoder read a description."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from keras import layers, ops

from genkit.models.vae.text2image_vae_config import TextToImageVAEConfig
from genkit.models.vae.vae import VAE
from genkit.models.vae.vae_decoder import build_vae_decoder
from genkit.models.vae.vae_encoder import build_vae_encoder
from genkit.registry import register_model
from genkit.tasks.encoder_decoder_config import TINY_ENCODER_DECODER
from genkit.tasks.paired_preprocessor import PairedPreprocessor
from genkit.tasks.text_conditioning import TextConditioning, sentence_encoder
from genkit.tasks.text_conditioning_config import TINY_TEXT


def build_prior_network(config) -> keras.Model:
    """The sentence embedding [N, sentence_dim] -> ``[mean, log_var]`` of p(z|t), each float32 [N, latent_dim]."""
    sentence = keras.Input((config.sentence_dim,), name="sentence")
    x = layers.Dense(config.prior_units, activation="relu", name="hidden")(sentence)
    mean = layers.Dense(config.latent_dim, dtype="float32", name="mean")(x)
    log_var = layers.Dense(config.latent_dim, dtype="float32", name="log_var")(x)
    return keras.Model(sentence, [mean, log_var], name="prior")


@register_model(
    "text2image-vae",
    config=TextToImageVAEConfig,
    family="vae",
    description="Text-to-image VAE: learned prior p(z|text), encoder q(z|image, text), decoder p(image|z, text); "
    "reports an NLL",
    train_defaults={"epochs": 100, "batch_size": 64, "num_sample_images": 64},
    tiny_overrides=[*TINY_ENCODER_DECODER, *TINY_TEXT, "prior_units=8"],
)
class TextToImageVAE(TextConditioning, VAE):
    """:class:`VAE` with one text encoder whose sentence embedding ``t`` conditions p(z|t), q(z|x, t) and p(x|z, t).

    Trains on the ELBO log p(x|z, t) - KL(q(z|x, t) || p(z|t)). A sample of a
    description: ``z = mu(t) + sigma(t) * noise`` decoded with ``t``; ``noise``
    is the ``z`` input of ``serving_default(text, z)`` and
    ``generate_from_ids(text_ids, z)`` (a standard normal draw). ``genkit
    evaluate`` adds the test split's ELBO and importance-weighted NLL (nats per image).
    """

    evaluation_options = (*TextConditioning.evaluation_options, VAE.evaluation_options[1])

    def __init__(self, encoder, decoder, text_network, prior_network, latent_dim, preprocessor=None,
                 text_reference="random", sample_prompts=(), **kwargs):
        super().__init__(encoder, decoder, latent_dim, **kwargs)
        self.text_network = text_network
        self.prior_network = prior_network
        self.preprocessor = preprocessor
        self.text_reference = text_reference
        self.sample_prompts = tuple(sample_prompts)

    @classmethod
    def from_hyperparameters(cls, config):
        return cls(
            encoder=build_vae_encoder(config, condition_width=config.sentence_dim),
            decoder=build_vae_decoder(config, condition_width=config.sentence_dim),
            text_network=sentence_encoder(config),
            prior_network=build_prior_network(config),
            latent_dim=config.latent_dim,
            preprocessor=PairedPreprocessor.from_model_config(config),
            decoder_distribution=config.decoder, beta=config.beta, kl_warmup_steps=config.kl_warmup_steps,
            text_reference=config.text_reference, sample_prompts=config.sample_prompts,
            name="text2image_vae",
        )

    # -- the networks as distributions ---------------------------------------------------------

    @property
    def conditioned(self) -> bool:
        return True

    def condition_of(self, ids, training=False):
        """The sentence embedding of word ids."""
        return self.text_network(tf.cast(ids, tf.int32), training=training)

    def _conditioned(self, x, sentence):
        return [ops.convert_to_tensor(x, "float32"), sentence]

    def prior(self, sentence, like, training=False):
        mean, log_var = self.prior_network(sentence, training=training)
        return mean, log_var

    def _unpack(self, batch):
        return batch[self.image_input], batch[self.text_input]

    def _trainable_network_variables(self):
        return [*super()._trainable_network_variables(), *self.text_network.trainable_variables,
                *self.prior_network.trainable_variables]

    def checkpoint_objects(self):
        return {**super().checkpoint_objects(), "text_network": self.text_network, "prior_network": self.prior_network}

    def call(self, inputs, training=False):
        """``[images, text_ids]`` -> reconstructions: the decoder's mean at the posterior mean."""
        images, ids = inputs
        return self.reconstruct(images, self.condition_of(ids, training=training))

    # -- sampling and serving ------------------------------------------------------------------

    def _images(self, ids, noise):
        """Images in [0, 1] of word ids, decoded from z = mu(t) + sigma(t) * noise."""
        sentence = self.condition_of(ids)
        mean, log_var = self.prior(sentence, noise)
        return self.decode(mean + tf.exp(0.5 * log_var) * tf.cast(noise, tf.float32), sentence)

    # -- evaluation ----------------------------------------------------------------------------

    def evaluation_metrics(self, data, num_samples=None, seed: int = 0, importance_samples=None, **options) -> dict:
        """The text-to-image metrics, then the ELBO and importance-weighted NLL of the split's images given
        their first descriptions (nats per image)."""
        from genkit.evaluation.text_to_image import evaluation_split_arrays
        from genkit.models.vae.vae_evaluation import DEFAULT_IMPORTANCE_SAMPLES, importance_weighted_bounds, likelihood_description

        metrics = super().evaluation_metrics(data, num_samples=num_samples, seed=seed, **options)
        split, images, texts, _, _ = evaluation_split_arrays(data, self.image_input, self.text_input)
        samples = DEFAULT_IMPORTANCE_SAMPLES if importance_samples is None else int(importance_samples)
        ids = self.preprocessor.tokenize(list(texts)).numpy()
        elbo, log_likelihood = importance_weighted_bounds(self, images, ids, samples, seed)
        metrics.update({
            "elbo": float(np.mean(elbo)), "nll": float(-np.mean(log_likelihood)), "importance_samples": samples,
            "likelihood_split": split, "num_likelihood_images": int(len(images)),
            "likelihood": likelihood_description(self) + "; given each image's first description",
        })
        return metrics

    # -- serialisation -------------------------------------------------------------------------

    def get_config(self):
        return {
            **super().get_config(),
            "text_network": keras.saving.serialize_keras_object(self.text_network),
            "prior_network": keras.saving.serialize_keras_object(self.prior_network),
            "preprocessor": keras.saving.serialize_keras_object(self.preprocessor),
            "text_reference": self.text_reference, "sample_prompts": list(self.sample_prompts),
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for name in ("text_network", "prior_network", "preprocessor"):
            config[name] = keras.saving.deserialize_keras_object(config[name])
        return super().from_config(config)

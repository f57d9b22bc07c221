"""Text-to-image GAN: draw an image from a description (GAN-CLS with conditioning augmentation)."""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import layers, ops

from genkit.layers import ConditioningAugmentation
from genkit.models.gan.conv_discriminator import discriminator_features_and_logit, projected_logit, spectral_normalized
from genkit.models.gan.conv_generator import upsampling_network
from genkit.models.gan.gan import GAN
from genkit.models.gan.gan_config import TINY_GAN
from genkit.models.gan.gan_losses import matching_aware_discriminator_loss
from genkit.models.gan.text2image_gan_config import TextToImageGANConfig
from genkit.registry import register_model
from genkit.tasks.paired_preprocessor import PairedPreprocessor
from genkit.tasks.text_conditioning import TextConditioning, sentence_encoder
from genkit.tasks.text_conditioning_config import TINY_TEXT
from genkit.training.noise import replica_normal

# Noise streams of one train step: latent batch k is stream k (the GAN's), condition noise k is 2000 + k.
CONDITION_STREAM = 2000


@register_model(
    "text2image-gan",
    config=TextToImageGANConfig,
    family="gan",
    description="Text-to-image GAN: a description's embedding with conditioning augmentation conditions the generator; "
    "projection discriminator with the matching-aware loss",
    train_defaults={"epochs": 300, "batch_size": 64, "num_sample_images": 64},
    tiny_overrides=[*TINY_GAN, *TINY_TEXT, "condition_dim=4"],
)
class TextToImageGAN(TextConditioning, GAN):
    """A :class:`~genkit.models.gan.GAN` whose generator and discriminator each read the description.

    Generator: ``[z, text_ids, condition_noise] -> images``: its text encoder's
    sentence embedding, conditioning augmentation (``condition_noise`` is the
    Gaussian's standard normal draw; zeros give the mean condition, which
    every sample uses), concatenated to ``z``, upsampled. Discriminator:
    ``[images, text_ids] -> logit``, a projection of its own text encoder's
    embedding onto the image features. Matching-aware loss (Reed et al. 2016):
    the real images paired with the batch's descriptions shifted by one count as fake.
    Serving: ``serving_default(text, z)``, ``generate_from_ids(text_ids, z)``.
    """

    generator_layer_loss_name = "condition_kl"

    def __init__(self, generator, discriminator, latent_dim, preprocessor=None, mismatch_weight=0.5,
                 text_reference="random", sample_prompts=(), **kwargs):
        super().__init__(generator, discriminator, latent_dim, **kwargs)
        self.preprocessor = preprocessor
        self.mismatch_weight = float(mismatch_weight)
        self.text_reference = text_reference
        self.sample_prompts = tuple(sample_prompts)
        self.condition_dim = int(generator.inputs[2].shape[-1])

    # -- construction --------------------------------------------------------------------------

    @classmethod
    def build_generator(cls, config, name="generator"):
        z = keras.Input((config.latent_dim,), name="z")
        ids = keras.Input((config.max_text_length,), dtype="int32", name="text_ids")
        noise = keras.Input((config.condition_dim,), name="condition_noise")
        sentence = sentence_encoder(config)(ids)
        condition = ConditioningAugmentation(config.condition_dim, config.condition_kl_weight, name="conditioning")([sentence, noise])
        x = layers.Concatenate(name="conditioned")([z, condition])
        return keras.Model([z, ids, noise], upsampling_network(x, config), name=name)

    @classmethod
    def build_discriminator(cls, config):
        images = keras.Input(tuple(config.image_shape), name="images")
        ids = keras.Input((config.max_text_length,), dtype="int32", name="text_ids")
        features, logits = discriminator_features_and_logit(images, config)
        sentence = sentence_encoder(config)(ids)
        projection = spectral_normalized(
            layers.Dense(features.shape[-1], dtype="float32", name="text_projection"), config
        )(sentence)
        return keras.Model([images, ids], projected_logit(logits, projection, features), name="discriminator")

    @classmethod
    def family_options(cls, config) -> dict:
        return {
            "preprocessor": PairedPreprocessor.from_model_config(config), "mismatch_weight": config.mismatch_weight,
            "text_reference": config.text_reference, "sample_prompts": config.sample_prompts,
        }

    # -- training ------------------------------------------------------------------------------

    def _unpack(self, batch):
        """(images in [-1, 1], word ids) of an encoded paired batch."""
        return batch[self.image_input] * 2.0 - 1.0, tf.cast(batch[self.text_input], tf.int32)

    explains_discriminator = False  # it takes word ids beside the images: which description to explain is not settled yet

    def _generator_inputs(self, z, ids, stream: int):
        noise = replica_normal(
            self.noise_seed, self.generator_optimizer.iterations, CONDITION_STREAM + stream, ops.shape(z)[0], self.condition_dim,
        )
        return [z, ids, noise]

    def _discriminator_inputs(self, images, ids):
        return [images, ids]

    def _discriminator_objective(self, real_images, ids, real_logits, fake_logits):
        # Another example's description for each real image: the batch's descriptions shifted by one.
        mismatched = self.discriminator([real_images, tf.roll(ids, shift=1, axis=0)], training=True)
        return matching_aware_discriminator_loss(
            self.loss, real_logits, fake_logits, mismatched, 1.0 - self.label_smoothing, self.mismatch_weight,
        )

    # -- sampling and serving ------------------------------------------------------------------

    def _images(self, ids, z):
        """Images in [0, 1] of word ids and latent codes, at the mean condition."""
        noise = tf.zeros([tf.shape(z)[0], self.condition_dim], tf.float32)
        return ops.clip(self([z, tf.cast(ids, tf.int32), noise], training=False), 0.0, 1.0)

    # -- serialisation -------------------------------------------------------------------------

    def get_config(self):
        config = super().get_config()
        config.update({
            "preprocessor": keras.saving.serialize_keras_object(self.preprocessor),
            "mismatch_weight": self.mismatch_weight, "text_reference": self.text_reference,
            "sample_prompts": list(self.sample_prompts),
        })
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["preprocessor"] = keras.saving.deserialize_keras_object(config["preprocessor"])
        return super().from_config(config)

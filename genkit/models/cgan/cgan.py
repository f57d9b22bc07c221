"""Class-conditional GAN: generate a chosen class."""

from __future__ import annotations

import keras

from genkit.models.cgan.cgan_config import CGANConfig
from genkit.models.cgan.cgan_discriminator import build_cgan_discriminator
from genkit.models.cgan.cgan_generator import build_cgan_generator
from genkit.models.gan.gan import GAN
from genkit.registry import register_model


@keras.saving.register_keras_serializable(package="genkit")
@register_model(
    "cgan",
    config=CGANConfig,
    family="gan",
    description="Class-conditional GAN: label embedding in the generator, projection discriminator; sample a chosen class",
    train_defaults={"epochs": 50, "batch_size": 64, "num_sample_images": 100},
)
class CGAN(GAN):
    """A :class:`~genkit.models.gan.GAN` conditioned on class labels; trains on (images, labels) batches.

    Fake images are generated for the classes of the real batch, so the
    generator sees the data's class frequencies. ``generate(z=..., label=...)``;
    ``genkit sample RUN --label K`` draws class K; the serving signature is
    ``serving_default(z, label) -> images``.
    """

    uses_labels = True

    @classmethod
    def build_generator(cls, config, name="generator"):
        return build_cgan_generator(config, name=name)

    def evaluation_metrics(self, data, num_samples=None, seed=0, **options):
        """The image-generator metrics plus conditioning accuracy.

        ``conditioning_accuracy`` (and ``conditioning_accuracy_class_K``): the
        share of images asked for class K that the shipped Fashion-MNIST
        classifier labels K, over ``num_samples / num_classes`` images per class.
        """
        from genkit.evaluation.conditioning_accuracy import model_conditioning_accuracy

        metrics = super().evaluation_metrics(data, num_samples=num_samples, seed=seed, **options)
        per_class = max(1, int(metrics["num_samples"]) // self.num_classes)
        metrics.update(model_conditioning_accuracy(self, data.label_names, per_class, seed=seed))
        return metrics

    @classmethod
    def build_discriminator(cls, config):
        return build_cgan_discriminator(config)

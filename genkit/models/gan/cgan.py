"""Class-conditional GAN: generate a chosen class."""

from __future__ import annotations

from genkit.models.gan.cgan_config import CGANConfig
from genkit.models.gan.conv_discriminator import build_conv_discriminator
from genkit.models.gan.conv_generator import build_conv_generator
from genkit.models.gan.gan import GAN
from genkit.registry import register_model
from genkit.tasks.class_conditioning import LABEL_OPTION, ClassConditioning


@register_model(
    "cgan",
    config=CGANConfig,
    family="gan",
    description="Class-conditional GAN: label embedding in the generator, projection discriminator; sample a chosen class",
    train_defaults={"epochs": 50, "batch_size": 64, "num_sample_images": 100},
)
class CGAN(ClassConditioning, GAN):
    """A :class:`~genkit.models.gan.GAN` conditioned on class labels; trains on (images, labels) batches.

    Fake images are generated for the classes of the real batch, so the
    generator sees the data's class frequencies. ``generate(z=..., label=...)``;
    ``genkit sample RUN --label K`` draws class K; the serving signature is
    ``serving_default(z, label) -> images``.
    """

    sampling_options = (LABEL_OPTION,)

    @classmethod
    def build_generator(cls, config, name="generator"):
        # [z, label] -> images: the label's learned embedding is concatenated to z.
        return build_conv_generator(config, num_classes=config.num_classes, name=name)

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
        # [images, label] -> logit: a projection discriminator.
        return build_conv_discriminator(config, num_classes=config.num_classes)

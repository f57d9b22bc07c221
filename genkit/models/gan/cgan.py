"""Class-conditional GAN: generate a chosen class."""

from __future__ import annotations

from genkit.models.gan.cgan_config import CGANConfig
from genkit.models.gan.gan import GAN
from genkit.models.gan.gan_config import TINY_GAN
from genkit.registry import register_model
from genkit.tasks.class_conditioning import LABEL_OPTION, ClassConditioning


@register_model(
    "cgan",
    config=CGANConfig,
    family="gan",
    description="Class-conditional GAN: label embedding in the generator, projection discriminator; sample a chosen class",
    train_defaults={"epochs": 50, "batch_size": 64, "num_sample_images": 100},
    tiny_overrides=[*TINY_GAN, "label_embedding_dim=4", "spectral_norm=true", "loss=hinge"],
)
class CGAN(ClassConditioning, GAN):
    """A :class:`~genkit.models.gan.GAN` conditioned on class labels; trains on (images, labels) batches.

    Fake images are generated for the classes of the real batch, so the
    generator sees the data's class frequencies. ``generate(z=..., label=...)``;
    ``genkit sample RUN --label K`` draws class K; the serving signature is
    ``serving_default(z, label) -> images``.
    """

    sampling_options = (LABEL_OPTION,)

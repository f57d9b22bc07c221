"""DCGAN: the shared GAN task with DCGAN's networks and defaults."""

from __future__ import annotations

from genkit.models.gan.dcgan_config import DCGANConfig
from genkit.models.gan.gan import GAN
from genkit.models.gan.gan_config import TINY_GAN
from genkit.registry import register_model


@register_model(
    "dcgan",
    config=DCGANConfig,
    family="gan",
    description="Deep convolutional GAN (Radford et al. 2016), non-saturating loss, averaged generator",
    train_defaults={"epochs": 50, "batch_size": 64},
    tiny_overrides=TINY_GAN,
)
class DCGAN(GAN):
    """A :class:`~genkit.models.gan.GAN` with DCGAN's transposed-convolution generator and convolutional discriminator.

    ``call(z)`` and ``generate(z=...)`` return images in [0, 1]. Plain
    ``model.compile(generator_optimizer=..., discriminator_optimizer=...)``
    then ``model.fit(images)`` works on one device; the genkit runtime drives
    the same ``train_step`` under any ``tf.distribute`` strategy.
    """

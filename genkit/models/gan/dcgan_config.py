"""Hyper-parameters of the DCGAN."""

from __future__ import annotations

import dataclasses

from genkit.models.gan.gan_config import GANConfig


@dataclasses.dataclass
class DCGANConfig(GANConfig):
    """DCGAN hyper-parameters (Radford et al. 2016): the shared GAN fields with DCGAN's defaults.

    See :class:`~genkit.models.gan.GANConfig` for the networks and the GAN
    options (loss, spectral normalisation, moving average of the generator).

    Setting ``projection_filters=256, generator_filters=(128, 64),
    discriminator_filters=(64, 128), kernel_size=5, latent_dim=100,
    leaky_relu_slope=0.3, dropout_rate=0.3, *_learning_rate=1e-4,
    beta_1=0.9, generator_activation="leaky_relu", discriminator_batch_norm=False,
    label_smoothing=0, ema_decay=0`` gives the architecture and training of
    TensorFlow's DCGAN tutorial.
    """

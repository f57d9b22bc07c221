"""Denoising autoencoder: the autoencoder task trained on corrupted inputs."""

from __future__ import annotations

from genkit.models.autoencoder.autoencoder import Autoencoder
from genkit.models.autoencoder.denoising_autoencoder_config import DenoisingAutoencoderConfig
from genkit.registry import register_model
from genkit.tasks.encoder_decoder_config import TINY_ENCODER_DECODER


@register_model(
    "dae",
    config=DenoisingAutoencoderConfig,
    family="autoencoder",
    description="Denoising autoencoder (Vincent et al. 2008): Gaussian, masking or salt-and-pepper noise",
    train_defaults={"epochs": 20, "batch_size": 64},
    tiny_overrides=[*TINY_ENCODER_DECODER, "noise=salt_and_pepper"],
)
class DenoisingAutoencoder(Autoencoder):
    """:class:`Autoencoder` whose train step corrupts each batch (seeded by the optimizer step) and
    reconstructs the clean images; ``reconstruct`` denoises whatever it is given."""

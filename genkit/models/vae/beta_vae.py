"""beta-VAE: the VAE task with a KL weight above one, reached through a warm-up."""

from __future__ import annotations

from genkit.models.vae.beta_vae_config import BetaVAEConfig
from genkit.models.vae.vae import VAE
from genkit.registry import register_model
from genkit.tasks.encoder_decoder_config import TINY_ENCODER_DECODER


@register_model(
    "beta-vae",
    config=BetaVAEConfig,
    family="vae",
    description="beta-VAE (Higgins et al. 2017): KL weight beta with a linear warm-up",
    train_defaults={"epochs": 30, "batch_size": 64},
    tiny_overrides=[*TINY_ENCODER_DECODER, "kl_warmup_steps=10", "decoder=gaussian"],
)
class BetaVAE(VAE):
    """:class:`VAE` configured by :class:`BetaVAEConfig` (beta = 4, 1,000 warm-up steps by default)."""

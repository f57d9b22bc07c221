"""beta-VAE: the VAE task with a KL weight above one, reached through a warm-up."""

from __future__ import annotations

from genkit.models.vae.beta_vae_config import BetaVAEConfig
from genkit.models.vae.vae import VAE
from genkit.registry import register_model


@register_model(
    "beta-vae",
    config=BetaVAEConfig,
    family="vae",
    description="beta-VAE (Higgins et al. 2017): KL weight beta with a linear warm-up",
    train_defaults={"epochs": 30, "batch_size": 64},
)
class BetaVAE(VAE):
    """:class:`VAE` configured by :class:`BetaVAEConfig` (beta = 4, 1,000 warm-up steps by default)."""

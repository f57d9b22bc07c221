"""Hyper-parameters of the beta-VAE: the VAE's, with a KL weight above one reached by a warm-up."""

from __future__ import annotations

import dataclasses

from genkit.models.vae.vae_config import VAEConfig


@dataclasses.dataclass
class BetaVAEConfig(VAEConfig):
    """beta-VAE (Higgins et al. 2017): ``beta`` > 1 weighs the KL term, reached linearly over
    ``kl_warmup_steps`` optimizer steps (Bowman et al. 2016) so the decoder learns to use z first."""

    beta: float = 4.0
    kl_warmup_steps: int = 1000

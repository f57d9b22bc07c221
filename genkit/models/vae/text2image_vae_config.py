"""Hyper-parameters of the text-to-image VAE."""

from __future__ import annotations

import dataclasses

from genkit.config import require
from genkit.models.vae.vae_config import VAEConfig
from genkit.tasks.text_conditioning_config import TextConditioningConfig


@dataclasses.dataclass
class TextToImageVAEConfig(TextConditioningConfig, VAEConfig):
    """A conditional VAE whose prior, encoder and decoder read a description (Sohn et al. 2015, with a text condition).

    One text encoder gives the sentence embedding ``t`` (the text fields);
    the prior p(z|t) is a diagonal Gaussian from a ``prior_units`` ReLU layer;
    q(z|x, t) and p(x|z, t) are the VAE's networks with ``t`` concatenated.
    The loss is reconstruction + ``kl_weight`` * KL(q(z|x, t) || p(z|t))
    (``beta``, ``kl_warmup_steps`` as for the VAE). A sample is decoded from
    ``z = mu(t) + sigma(t) * noise``, with ``noise`` the standard normal input.
    """

    latent_dim: int = 32
    prior_units: int = 128

    def validate(self, source: str) -> None:
        TextConditioningConfig.validate(self, source)
        VAEConfig.validate(self, source)
        require(self.prior_units >= 1, source, "prior_units", "must be >= 1", self.prior_units)

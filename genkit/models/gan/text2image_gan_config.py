"""Hyper-parameters of the text-to-image GAN."""

from __future__ import annotations

import dataclasses

from genkit.config import require
from genkit.models.gan.gan_config import GANConfig
from genkit.tasks.text_conditioning_config import TextConditioningConfig


@dataclasses.dataclass
class TextToImageGANConfig(TextConditioningConfig, GANConfig):
    """A GAN conditioned on a description: the shared GAN fields, the text fields, the matching-aware loss.

    The generator reads the description with its own text encoder, samples
    a condition by conditioning augmentation and concatenates it to ``z``;
    the discriminator is a projection discriminator whose projection is its
    own text encoder's sentence embedding (Miyato and Koyama 2018).
    Conditioning augmentation (StackGAN) maps the generator's sentence
    embedding to a Gaussian of ``condition_dim`` dimensions, sampled while
    training (its KL term weighted by ``condition_kl_weight``) and taken at its
    mean when sampling. The discriminator's loss
    is matching-aware (Reed et al. 2016): a real image with another example's
    description counts as fake with weight ``mismatch_weight``, a generated
    image with ``1 - mismatch_weight``. Defaults: hinge loss, spectral
    normalisation (a stable pair for conditional GANs).
    """

    loss: str = "hinge"
    spectral_norm: bool = True
    condition_dim: int = 64
    condition_kl_weight: float = 1.0
    mismatch_weight: float = 0.5

    def validate(self, source: str) -> None:
        TextConditioningConfig.validate(self, source)
        GANConfig.validate(self, source)
        require(self.condition_dim >= 1, source, "condition_dim", "must be >= 1", self.condition_dim)
        require(self.condition_kl_weight >= 0, source, "condition_kl_weight", "must be >= 0", self.condition_kl_weight)
        require(0 <= self.mismatch_weight < 1, source, "mismatch_weight", "must be in [0, 1)", self.mismatch_weight)

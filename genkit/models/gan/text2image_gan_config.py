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
    own text encoder's sentence embedding (Miyato and Koyama 2018). Its loss
    is matching-aware (Reed et al. 2016): a real image with another example's
    description counts as fake with weight ``mismatch_weight``, a generated
    image with ``1 - mismatch_weight``. Defaults: hinge loss, spectral
    normalisation (a stable pair for conditional GANs).
    """

    loss: str = "hinge"
    spectral_norm: bool = True
    mismatch_weight: float = 0.5

    def validate(self, source: str) -> None:
        TextConditioningConfig.validate(self, source)
        GANConfig.validate(self, source)
        require(0 <= self.mismatch_weight < 1, source, "mismatch_weight", "must be in [0, 1)", self.mismatch_weight)

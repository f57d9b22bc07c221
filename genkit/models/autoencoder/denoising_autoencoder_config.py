"""Hyper-parameters of the denoising autoencoder: the autoencoder's, plus the training noise."""

from __future__ import annotations

import dataclasses

from genkit.config import require
from genkit.models.autoencoder.autoencoder_config import AutoencoderConfig

NOISE_TYPES = ("gaussian", "masking", "salt_and_pepper")


@dataclasses.dataclass
class DenoisingAutoencoderConfig(AutoencoderConfig):
    """Denoising autoencoder (Vincent et al. 2008): trained to recover clean images from corrupted ones.

    ``noise`` picks the corruption applied to every training batch:
    ``gaussian`` adds N(0, ``noise_std``^2) per pixel and clips to [0, 1];
    ``masking`` sets each pixel to 0 with probability ``masking_fraction``;
    ``salt_and_pepper`` replaces each pixel with probability
    ``salt_and_pepper_fraction`` by 0 or 1 (equally likely). The levels of
    all three are also those ``genkit evaluate`` reports denoising errors at.
    """

    noise: str = "gaussian"
    noise_std: float = 0.3
    masking_fraction: float = 0.3
    salt_and_pepper_fraction: float = 0.2

    def validate(self, source: str) -> None:
        super().validate(source)
        require(self.noise in NOISE_TYPES, source, "noise", f"must be one of {', '.join(NOISE_TYPES)}", self.noise)
        require(self.noise_std > 0, source, "noise_std", "must be > 0", self.noise_std)
        for name in ("masking_fraction", "salt_and_pepper_fraction"):
            require(0 < getattr(self, name) < 1, source, name, "must be in (0, 1)", getattr(self, name))

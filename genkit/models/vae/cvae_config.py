"""Hyper-parameters of the class-conditional VAE."""

from __future__ import annotations

import dataclasses

from genkit.models.vae.vae_config import VAEConfig


@dataclasses.dataclass
class CVAEConfig(VAEConfig):
    """Conditional VAE (Sohn et al. 2015): q(z|x, y) and p(x|z, y) for a class label y.

    ``num_classes`` is filled from the training data's labels (an error when it has none).
    """

    conditional = True

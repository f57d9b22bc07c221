"""Hyper-parameters of the Wasserstein GAN with gradient penalty."""

from __future__ import annotations

import dataclasses

from genkit.config import require
from genkit.models.gan.gan_config import GANConfig


@dataclasses.dataclass
class WGANGPConfig(GANConfig):
    """WGAN-GP (Gulrajani et al. 2017): the shared GAN fields with a critic trained ``n_critic`` times per generator step.

    The critic's loss is ``D(G(z)) - D(x) + gradient_penalty_weight *
    (||grad D(x_hat)|| - 1)^2`` with ``x_hat`` a per-example uniform
    interpolation of real and generated images. The critic has no batch
    normalisation (the penalty is per example) and, by default, no dropout.

    Defaults chosen for quality per wall-clock second on a CPU: a light
    critic (32 and 64 filters: the penalty's double back-propagation through
    the critic is most of a step's cost, and 64-128 filters made steps 2.6x
    slower), Adam(5e-4, beta_1 = 0.5, beta_2 = 0.9) for both networks (2e-4
    learnt visibly slower in equal time) and batches of 32.
    """

    discriminator_filters: tuple[int, ...] = (32, 64)
    dropout_rate: float = 0.0
    generator_learning_rate: float = 5e-4
    discriminator_learning_rate: float = 5e-4
    label_smoothing: float = 0.0
    beta_1: float = 0.5
    beta_2: float = 0.9
    loss: str = "wasserstein"
    n_critic: int = 5
    gradient_penalty_weight: float = 10.0

    def validate(self, source: str) -> None:
        super().validate(source)
        require(self.n_critic >= 1, source, "n_critic", "must be >= 1", self.n_critic)
        require(
            self.gradient_penalty_weight >= 0, source, "gradient_penalty_weight", "must be >= 0",
            self.gradient_penalty_weight,
        )
        require(
            not (self.discriminator_batch_norm and self.gradient_penalty_weight > 0), source,
            "discriminator_batch_norm", "must be false with a gradient penalty (the penalty is per example)",
            self.discriminator_batch_norm,
        )

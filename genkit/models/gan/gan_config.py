"""Hyper-parameters the GAN families share: the convolutional networks, the optimizers, and the GAN options."""

from __future__ import annotations

import dataclasses

from genkit.config import ModelConfig, require
from genkit.models.gan.gan_losses import LOSSES


# Images double in size this many times at most (2**30 pixels a side).
MAX_UPSAMPLINGS = 30
# --set items that make a GAN family model tiny (the shared test harness).
TINY_GAN = ["latent_dim=8", "projection_filters=16", "generator_filters=[8]", "discriminator_filters=[8,16]"]


@dataclasses.dataclass
class GANConfig(ModelConfig):
    """Fields of every GAN family (dcgan, cgan, wgan-gp).

    Networks: the generator projects ``z`` to a ``H/2^k x W/2^k x
    projection_filters`` map and upsamples it with transposed convolutions;
    ``k`` is ``num_upsamplings``. ``generator_filters`` lists the filters of
    the hidden transposed convolutions: the last ``num_upsamplings - 1`` of
    them have stride 2, the rest stride 1; a final stride-2 transposed
    convolution with tanh gives the image. The discriminator (critic) is a
    stack of stride-2 convolutions (``discriminator_filters``) with LeakyReLU
    and dropout, then one logit.

    ``synchronized_batch_norm`` computes batch statistics over the global
    batch under ``tf.distribute`` (one device: no difference), so training on
    N replicas matches training on one device.

    GAN options:

    - ``loss``: ``non_saturating`` (-log D(G(z)) for the generator; one-sided
      ``label_smoothing`` of the real target applies to this loss only),
      ``hinge`` or ``wasserstein``.
    - ``spectral_norm``: spectral normalisation of every convolution and dense
      layer of the discriminator (and its label projection).
    - ``ema_decay``: an exponential moving average of the generator's weights,
      used for sample grids, ``genkit sample``, model.keras' outputs and the
      exports; 0 turns it off. The decay warms up as ``min(ema_decay,
      (1 + t) / (10 + t))`` after ``t`` generator updates, so short runs
      average over their own steps rather than the initial weights.
    """

    image_shape: tuple[int, ...] | None = None
    latent_dim: int = 64
    projection_filters: int = 128
    generator_filters: tuple[int, ...] = (64,)
    num_upsamplings: int = 2
    kernel_size: int = 4
    generator_activation: str = "relu"
    discriminator_filters: tuple[int, ...] = (64, 128)
    discriminator_batch_norm: bool = False
    synchronized_batch_norm: bool = True
    leaky_relu_slope: float = 0.2
    dropout_rate: float = 0.3
    generator_learning_rate: float = 2e-4
    discriminator_learning_rate: float = 2e-4
    beta_1: float = 0.5
    beta_2: float = 0.999
    label_smoothing: float = 0.1
    loss: str = "non_saturating"
    spectral_norm: bool = False
    ema_decay: float = 0.999

    def validate(self, source: str) -> None:
        if self.image_shape is not None:
            require(
                len(self.image_shape) == 3 and all(d >= 1 for d in self.image_shape), source,
                "image_shape", "must be [height, width, channels]", self.image_shape,
            )
            height, width, _ = self.image_shape
            # Checked before 2**num_upsamplings is computed: 2**100000000000 takes hours.
            require(
                self.num_upsamplings <= MAX_UPSAMPLINGS, source, "num_upsamplings",
                f"must be <= {MAX_UPSAMPLINGS}", self.num_upsamplings,
            )
            factor = 2 ** self.num_upsamplings
            require(
                height % factor == 0 and width % factor == 0, source, "image_shape",
                f"height and width must be divisible by 2**num_upsamplings = {factor}",
                self.image_shape,
            )
        require(self.latent_dim >= 1, source, "latent_dim", "must be >= 1", self.latent_dim)
        require(self.projection_filters >= 1, source, "projection_filters", "must be >= 1", self.projection_filters)
        require(self.num_upsamplings >= 1, source, "num_upsamplings", "must be >= 1", self.num_upsamplings)
        require(
            len(self.generator_filters) >= self.num_upsamplings - 1
            and all(f >= 1 for f in self.generator_filters),
            source, "generator_filters",
            "needs at least num_upsamplings - 1 positive entries", self.generator_filters,
        )
        require(self.kernel_size >= 1, source, "kernel_size", "must be >= 1", self.kernel_size)
        require(
            self.generator_activation in ("relu", "leaky_relu"), source, "generator_activation",
            "must be one of relu, leaky_relu", self.generator_activation,
        )
        require(
            len(self.discriminator_filters) >= 1 and all(f >= 1 for f in self.discriminator_filters),
            source, "discriminator_filters", "must be a non-empty list of positive integers",
            self.discriminator_filters,
        )
        require(0 <= self.leaky_relu_slope < 1, source, "leaky_relu_slope", "must be in [0, 1)", self.leaky_relu_slope)
        require(0 <= self.dropout_rate < 1, source, "dropout_rate", "must be in [0, 1)", self.dropout_rate)
        for name in ("generator_learning_rate", "discriminator_learning_rate"):
            require(getattr(self, name) > 0, source, name, "must be > 0", getattr(self, name))
        for name in ("beta_1", "beta_2"):
            require(0 <= getattr(self, name) < 1, source, name, "must be in [0, 1)", getattr(self, name))
        require(0 <= self.label_smoothing < 0.5, source, "label_smoothing", "must be in [0, 0.5)", self.label_smoothing)
        require(self.loss in LOSSES, source, "loss", f"must be one of {', '.join(LOSSES)}", self.loss)
        require(0 <= self.ema_decay < 1, source, "ema_decay", "must be in [0, 1) (0 turns the average off)", self.ema_decay)

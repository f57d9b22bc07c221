"""Hyper-parameters of the autoencoders (ae, dae)."""

from __future__ import annotations

import dataclasses

from genkit.config import require
from genkit.tasks.encoder_decoder_config import EncoderDecoderConfig

RECONSTRUCTION_LOSSES = ("bce", "mse")


@dataclasses.dataclass
class AutoencoderConfig(EncoderDecoderConfig):
    """Convolutional autoencoder hyper-parameters.

    The encoder is a stack of stride-2 convolutions (``encoder_filters``), a
    dense layer of ``dense_units`` and a linear code of ``latent_dim``
    numbers, batch-normalised without scale or offset (so each code dimension
    is about N(0, 1) over the data, and decoding N(0, I) draws gives rough
    samples). The decoder mirrors the encoder (``decoder_filters``).
    ``reconstruction_loss``: ``bce`` (binary cross-entropy of pixel
    intensities in [0, 1]) or ``mse`` (squared error), summed over pixels.
    """

    latent_dim: int = 32
    reconstruction_loss: str = "bce"
    synchronized_batch_norm: bool = True

    def validate(self, source: str) -> None:
        super().validate(source)
        require(
            self.reconstruction_loss in RECONSTRUCTION_LOSSES, source, "reconstruction_loss",
            f"must be one of {', '.join(RECONSTRUCTION_LOSSES)}", self.reconstruction_loss,
        )

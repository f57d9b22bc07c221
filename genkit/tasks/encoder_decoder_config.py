"""Hyper-parameters the encoder-decoder families (vae, ae) share: the convolutional networks and Adam."""

from __future__ import annotations

import dataclasses

from genkit.config import ModelConfig, require


# --set items that make a model of this config tiny (the shared test harness).
TINY_ENCODER_DECODER = ["latent_dim=4", "encoder_filters=[4,8]", "decoder_filters=[8,4]", "dense_units=16"]


@dataclasses.dataclass
class EncoderDecoderConfig(ModelConfig):
    """A stack of stride-2 convolutions (``encoder_filters``) and a dense layer
    of ``dense_units`` encode an image to ``latent_dim`` numbers; the decoder
    mirrors it (``decoder_filters``, one per encoder stage). Trained with
    Adam(``learning_rate``, ``beta_1``, ``beta_2``).
    """

    image_shape: tuple[int, ...] | None = None
    latent_dim: int = 16
    encoder_filters: tuple[int, ...] = (32, 64)
    decoder_filters: tuple[int, ...] = (64, 32)
    dense_units: int = 256
    kernel_size: int = 3
    learning_rate: float = 1e-3
    beta_1: float = 0.9
    beta_2: float = 0.999

    def validate(self, source: str) -> None:
        require(self.latent_dim >= 1, source, "latent_dim", "must be >= 1", self.latent_dim)
        require(
            len(self.encoder_filters) >= 1 and all(f >= 1 for f in self.encoder_filters), source,
            "encoder_filters", "must be a non-empty list of positive integers", self.encoder_filters,
        )
        require(
            len(self.decoder_filters) == len(self.encoder_filters) and all(f >= 1 for f in self.decoder_filters),
            source, "decoder_filters",
            f"must be {len(self.encoder_filters)} positive integers (one per encoder stage)", self.decoder_filters,
        )
        if self.image_shape is not None:
            require(
                len(self.image_shape) == 3 and all(d >= 1 for d in self.image_shape), source,
                "image_shape", "must be [height, width, channels]", self.image_shape,
            )
            factor = 2 ** len(self.encoder_filters)
            require(
                self.image_shape[0] % factor == 0 and self.image_shape[1] % factor == 0, source, "image_shape",
                f"height and width must be divisible by 2**len(encoder_filters) = {factor}", self.image_shape,
            )
        require(self.dense_units >= 1, source, "dense_units", "must be >= 1", self.dense_units)
        require(self.kernel_size >= 1, source, "kernel_size", "must be >= 1", self.kernel_size)
        require(self.learning_rate > 0, source, "learning_rate", "must be > 0", self.learning_rate)
        for name in ("beta_1", "beta_2"):
            require(0 <= getattr(self, name) < 1, source, name, "must be in [0, 1)", getattr(self, name))

"""Hyper-parameters of the pixel-gaussian model."""

from __future__ import annotations

import dataclasses

from genkit.config import ModelConfig, require


@dataclasses.dataclass
class PixelGaussianConfig(ModelConfig):
    """``image_shape`` is filled from the data; Adam's ``learning_rate`` fits the means and deviations."""

    image_shape: tuple[int, ...] | None = None
    learning_rate: float = 0.05

    def validate(self, source: str) -> None:
        require(self.learning_rate > 0, source, "learning_rate", "must be > 0", self.learning_rate)

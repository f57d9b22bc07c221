"""Hyper-parameters of the class-conditional GAN."""

from __future__ import annotations

import dataclasses

from genkit.config import require
from genkit.models.gan.gan_config import GANConfig


@dataclasses.dataclass
class CGANConfig(GANConfig):
    """Class-conditional GAN: the shared GAN fields plus the conditioning.

    The generator concatenates a learned ``label_embedding_dim``-dimensional
    embedding of the class to ``z``; the discriminator is a projection
    discriminator (the inner product of a learned class embedding with its
    features is added to its logit). ``num_classes`` is filled from the
    training data (which must have labels); set it only to reserve room for
    more classes than the data has.
    """

    num_classes: int | None = None
    label_embedding_dim: int = 16

    def validate(self, source: str) -> None:
        super().validate(source)
        require(
            self.num_classes is None or self.num_classes >= 2, source, "num_classes", "must be >= 2",
            self.num_classes,
        )
        require(self.label_embedding_dim >= 1, source, "label_embedding_dim", "must be >= 1", self.label_embedding_dim)

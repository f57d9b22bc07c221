"""Hyper-parameters of the variational autoencoders (vae, beta-vae, cvae)."""

from __future__ import annotations

import dataclasses

from genkit.config import require
from genkit.tasks.encoder_decoder_config import EncoderDecoderConfig

DECODERS = ("bernoulli", "gaussian")
GAUSSIAN_VARIANCES = ("learned", "fixed")


@dataclasses.dataclass
class VAEConfig(EncoderDecoderConfig):
    """Convolutional VAE hyper-parameters (Kingma & Welling 2014).

    The encoder is a stack of stride-2 convolutions (``encoder_filters``), a
    dense layer of ``dense_units`` and two heads: the mean and the log-variance
    of a diagonal Gaussian q(z|x) over ``latent_dim`` dimensions. The decoder
    mirrors it: dense, reshape, stride-2 transposed convolutions
    (``decoder_filters``, the last one gives the image logits).

    ``decoder``: ``bernoulli`` treats each pixel intensity in [0, 1] as the
    probability of a Bernoulli variable (binary cross-entropy on grey levels);
    ``gaussian`` models pixels as continuous values with mean sigmoid(logits)
    and one variance for all pixels, ``learned`` (starting at
    ``gaussian_std``, never below ``min_gaussian_std``) or ``fixed`` at
    ``gaussian_std``.

    The loss is reconstruction + ``kl_weight`` * KL(q(z|x) || N(0, I)), with
    ``kl_weight = beta * min(1, step / kl_warmup_steps)`` (``beta`` from the
    first step when ``kl_warmup_steps`` is 0). ``beta=1`` without warm-up is
    the plain VAE. ``num_classes`` (filled from the data for ``cvae``)
    conditions encoder and decoder on a class label through an embedding of
    ``label_embedding_dim``.
    """

    decoder: str = "bernoulli"
    gaussian_variance: str = "learned"
    gaussian_std: float = 0.1
    min_gaussian_std: float = 0.01
    beta: float = 1.0
    kl_warmup_steps: int = 0
    num_classes: int | None = None
    label_embedding_dim: int = 16

    conditional = False  # class attribute: cvae sets it

    def validate(self, source: str) -> None:
        super().validate(source)
        require(self.decoder in DECODERS, source, "decoder", f"must be one of {', '.join(DECODERS)}", self.decoder)
        require(
            self.gaussian_variance in GAUSSIAN_VARIANCES, source, "gaussian_variance",
            f"must be one of {', '.join(GAUSSIAN_VARIANCES)}", self.gaussian_variance,
        )
        require(self.min_gaussian_std > 0, source, "min_gaussian_std", "must be > 0", self.min_gaussian_std)
        require(
            self.gaussian_std >= self.min_gaussian_std, source, "gaussian_std",
            f"must be >= min_gaussian_std = {self.min_gaussian_std}", self.gaussian_std,
        )
        require(self.beta >= 0, source, "beta", "must be >= 0", self.beta)
        require(self.kl_warmup_steps >= 0, source, "kl_warmup_steps", "must be >= 0", self.kl_warmup_steps)
        if self.conditional:
            require(
                self.num_classes is None or self.num_classes >= 2, source, "num_classes", "must be >= 2",
                self.num_classes,
            )
        else:
            require(
                self.num_classes is None, source, "num_classes",
                "applies to the conditional model (cvae) only; leave it unset", self.num_classes,
            )
        require(
            self.label_embedding_dim >= 1, source, "label_embedding_dim", "must be >= 1", self.label_embedding_dim
        )

"""Hyper-parameters of the variational autoencoders (vae, beta-vae, cvae)."""

from __future__ import annotations

import dataclasses

from genkit.config import ModelConfig, require

DECODERS = ("bernoulli", "gaussian")
GAUSSIAN_VARIANCES = ("learned", "fixed")


@dataclasses.dataclass
class VAEConfig(ModelConfig):
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

    image_shape: tuple[int, ...] | None = None
    latent_dim: int = 16
    encoder_filters: tuple[int, ...] = (32, 64)
    decoder_filters: tuple[int, ...] = (64, 32)
    dense_units: int = 256
    kernel_size: int = 3
    decoder: str = "bernoulli"
    gaussian_variance: str = "learned"
    gaussian_std: float = 0.1
    min_gaussian_std: float = 0.01
    beta: float = 1.0
    kl_warmup_steps: int = 0
    num_classes: int | None = None
    label_embedding_dim: int = 16
    learning_rate: float = 1e-3
    beta_1: float = 0.9
    beta_2: float = 0.999

    conditional = False  # class attribute: cvae sets it

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
        require(self.learning_rate > 0, source, "learning_rate", "must be > 0", self.learning_rate)
        for name in ("beta_1", "beta_2"):
            require(0 <= getattr(self, name) < 1, source, name, "must be in [0, 1)", getattr(self, name))

"""Conditional VAE: the VAE task with encoder and decoder conditioned on a class label."""

from __future__ import annotations

from genkit.models.vae.cvae_config import CVAEConfig
from genkit.models.vae.vae import VAE
from genkit.registry import register_model
from genkit.tasks.encoder_decoder_config import TINY_ENCODER_DECODER
from genkit.tasks.class_conditioning import LABEL_OPTION, ClassConditioning
from genkit.tasks.reconstruction_images import RECONSTRUCT_OPTION


@register_model(
    "cvae",
    config=CVAEConfig,
    family="vae",
    description="Class-conditional VAE (Sohn et al. 2015): sample a chosen class",
    train_defaults={"epochs": 30, "batch_size": 64, "num_sample_images": 100},
    tiny_overrides=[*TINY_ENCODER_DECODER, "label_embedding_dim=4"],
)
class CVAE(ClassConditioning, VAE):
    """:class:`VAE` with q(z|x, y) and p(x|z, y); trains on (images, labels) batches.

    ``generate(z=..., label=...)``; ``genkit sample --label K`` draws class K.
    """

    sampling_options = (LABEL_OPTION, RECONSTRUCT_OPTION)

"""Conditional VAE: the VAE task with encoder and decoder conditioned on a class label."""

from __future__ import annotations

import keras

from genkit.models.vae.cvae_config import CVAEConfig
from genkit.models.vae.vae import VAE
from genkit.registry import register_model


@keras.saving.register_keras_serializable(package="genkit")
@register_model(
    "cvae",
    config=CVAEConfig,
    family="vae",
    description="Class-conditional VAE (Sohn et al. 2015): sample a chosen class",
    train_defaults={"epochs": 30, "batch_size": 64, "num_sample_images": 100},
)
class CVAE(VAE):
    """:class:`VAE` with q(z|x, y) and p(x|z, y); trains on (images, labels) batches.

    ``generate(z=..., label=...)``; ``genkit sample --label K`` draws class K.
    """

    uses_labels = True

    def evaluation_metrics(self, data, num_samples=None, seed=0, **options):
        return super().evaluation_metrics(data, num_samples=num_samples, seed=seed, **options)

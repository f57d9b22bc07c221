"""Conditional VAE: the VAE task with encoder and decoder conditioned on a class label."""

from __future__ import annotations

from genkit.models.vae.cvae_config import CVAEConfig
from genkit.models.vae.vae import VAE
from genkit.registry import register_model
from genkit.tasks.class_conditioning import LABEL_OPTION, ClassConditioning
from genkit.tasks.reconstruction_images import RECONSTRUCT_OPTION


@register_model(
    "cvae",
    config=CVAEConfig,
    family="vae",
    description="Class-conditional VAE (Sohn et al. 2015): sample a chosen class",
    train_defaults={"epochs": 30, "batch_size": 64, "num_sample_images": 100},
)
class CVAE(ClassConditioning, VAE):
    """:class:`VAE` with q(z|x, y) and p(x|z, y); trains on (images, labels) batches.

    ``generate(z=..., label=...)``; ``genkit sample --label K`` draws class K.
    """

    sampling_options = (LABEL_OPTION, RECONSTRUCT_OPTION)

    def evaluation_metrics(self, data, num_samples=None, seed=0, **options):
        """The VAE metrics plus ``conditioning_accuracy`` (and per class): the share of samples asked
        for class K that the shipped Fashion-MNIST classifier labels K."""
        from genkit.evaluation.conditioning_accuracy import model_conditioning_accuracy

        metrics = super().evaluation_metrics(data, num_samples=num_samples, seed=seed, **options)
        per_class = max(1, int(metrics["num_samples"]) // self.num_classes)
        metrics.update(model_conditioning_accuracy(self, data.label_names, per_class, seed=seed))
        return metrics

"""WGAN-GP: Wasserstein critic with gradient penalty, n critic updates per generator update."""

from __future__ import annotations

from genkit.models.gan.gan import GAN
from genkit.models.gan.gan_config import TINY_GAN
from genkit.models.gan.wgan_gp_config import WGANGPConfig
from genkit.registry import register_model


@register_model(
    "wgan-gp",
    config=WGANGPConfig,
    family="gan",
    description="Wasserstein GAN with gradient penalty (Gulrajani et al. 2017), 5 critic steps per generator step",
    train_defaults={"epochs": 100, "batch_size": 32},
    tiny_overrides=[*TINY_GAN, "n_critic=2"],
)
class WGANGP(GAN):
    """A :class:`~genkit.models.gan.GAN` with a Wasserstein critic and the gradient penalty.

    Each train step takes ``n_critic`` real batches (``[batch, n_critic, H,
    W, C]``, from :meth:`training_dataset`), makes ``n_critic`` critic
    updates and one generator update, so the critic-step schedule is part of
    the step: a resumed run continues it exactly. An epoch is one pass of the
    data through the critic.
    """

    @classmethod
    def family_options(cls, config):
        return {"discriminator_steps": config.n_critic, "gradient_penalty_weight": config.gradient_penalty_weight}

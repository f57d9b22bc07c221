"""What ``genkit explain`` shows of a VAE: the KL of each latent dimension from the prior (which dimensions it
uses, which collapsed), and traversals of the dimensions that carry the most.

Plain functions of the model; :meth:`genkit.models.vae.vae.VAE.explanation_methods` adds
:func:`latent_explanation_methods` to what its capabilities explain (reconstructions, interpolations, ...).
"""

from __future__ import annotations

import functools

import numpy as np

from genkit.tasks.explanations import ExplanationMethod, Figure, bar_figure, image_table_figure


def latent_explanation_methods(model) -> dict:
    """``latent-kl`` and ``latent-traversals`` of ``model``."""
    return {
        "latent-kl": ExplanationMethod(
            "latent-kl", "the KL divergence of each latent dimension from the prior, over test images",
            functools.partial(explain_latent_kl, model),
        ),
        "latent-traversals": ExplanationMethod(
            "latent-traversals", "each of the most informative latent dimensions swept from -3 to 3, the others fixed",
            functools.partial(explain_latent_traversals, model),
        ),
    }


def kl_per_dimension(model, data, seed: int, count: int = 500):
    """(KL of q(z|x) from N(0, I) per dimension, averaged over up to ``count`` test images, the first test image's
    posterior mean and class)."""
    images, labels = model.explained_test_images(data, count, seed)
    mean, log_var = (np.asarray(t, np.float32) for t in model.encode(images, labels))
    kl = 0.5 * np.mean(mean**2 + np.exp(log_var) - 1.0 - log_var, axis=0)
    return kl, mean[0], None if labels is None else labels[:1]


def explain_latent_kl(model, data, num_samples: int, seed: int) -> list[Figure]:
    kl, _, _ = kl_per_dimension(model, data, seed)
    active = int((kl > 0.01).sum())
    return [Figure(
        name="latent_kl", title="KL per latent dimension", method="latent-kl",
        description=(f"The KL divergence of the posterior from N(0, I), per latent dimension (nats, averaged over test "
                     f"images): {active} of {len(kl)} dimensions carry more than 0.01 nats (beta {model.beta:g}); the rest "
                     "are unused (posterior collapse)."),
        png=bar_figure(f"KL per latent dimension ({active}/{len(kl)} active)", range(len(kl)), kl, "KL (nats)"),
        arrays={"kl": kl},
    )]


def explain_latent_traversals(model, data, num_samples: int, seed: int) -> list[Figure]:
    kl, base, label = kl_per_dimension(model, data, seed)
    dimensions = np.argsort(-kl)[: min(8, len(kl))]
    values = np.linspace(-3.0, 3.0, 9, dtype=np.float32)
    codes = np.repeat(base[None], len(dimensions) * len(values), axis=0).reshape(len(dimensions), len(values), -1)
    for row, dimension in enumerate(dimensions):
        codes[row, :, dimension] = values
    labels = None if label is None else np.repeat(label, codes.shape[0] * codes.shape[1])
    decoded = np.asarray(model.decode(codes.reshape(-1, codes.shape[-1]), labels), np.float32)
    table = decoded.reshape(len(dimensions), len(values), *decoded.shape[1:])
    return [Figure(
        name="latent_traversals", title="latent traversals", method="latent-traversals",
        description=("Starting from the posterior mean of one test image, each row sweeps one latent dimension from -3 to "
                     "3 with the others fixed; rows are the dimensions with the largest KL (most informative first)."),
        png=image_table_figure("latent traversals", table, [f"z{d} KL {kl[d]:.2f}" for d in dimensions],
                               [f"{v:+.1f}" for v in values]),
        arrays={"images": table, "dimensions": dimensions, "values": values},
    )]

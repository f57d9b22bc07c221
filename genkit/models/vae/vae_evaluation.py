"""Likelihood metrics of a VAE on test images: ELBO, importance-weighted NLL, reconstruction error."""

from __future__ import annotations

import math
import weakref

import numpy as np
import tensorflow as tf

from genkit.errors import UserError
from genkit.evaluation.reconstruction import reconstruction_error
from genkit.models.vae.vae_losses import diagonal_normal_log_density, gaussian_kl_between

DEFAULT_IMPORTANCE_SAMPLES = 100
# Decoder passes per traced call: bounds memory whatever k is.
DECODES_PER_CALL = 4096
_TRACED = weakref.WeakKeyDictionary()  # model -> its traced bounds function


def _bounds_function(model):
    @tf.function(reduce_retracing=True)
    def bounds(images, labels, epsilon):
        """For a batch of images and epsilon [B, k, D]: (mean over k of log p(x|z), KL, logsumexp of log w)."""
        conditions = model.condition_of(labels) if model.conditioned else None
        mean, log_var = model.encode(images, conditions)
        count, samples = tf.shape(epsilon)[0], tf.shape(epsilon)[1]
        z = mean[:, None, :] + tf.exp(0.5 * log_var)[:, None, :] * epsilon
        flat_z = tf.reshape(z, [count * samples, model.latent_dim])
        repeated_images = tf.repeat(images, samples, axis=0)
        repeated_labels = tf.repeat(conditions, samples, axis=0) if model.conditioned else None
        logits, pixel_log_var = model.decode_distribution(flat_z, repeated_labels)
        log_px = tf.reshape(model.log_likelihood(repeated_images, logits, pixel_log_var), [count, samples])
        prior_mean, prior_log_var = model.prior(conditions, mean)
        log_pz = diagonal_normal_log_density(z, prior_mean[:, None, :], prior_log_var[:, None, :])
        log_qz = diagonal_normal_log_density(z, mean[:, None, :], log_var[:, None, :])
        log_weights = log_px + log_pz - log_qz
        kl = gaussian_kl_between(mean, log_var, prior_mean, prior_log_var)
        return tf.reduce_sum(log_px, axis=1), kl, tf.reduce_logsumexp(log_weights, axis=1)

    return bounds


def importance_weighted_bounds(model, images, labels=None, importance_samples=DEFAULT_IMPORTANCE_SAMPLES, seed=0):
    """Per image: (ELBO, importance-weighted bound log p_k(x)), both float64 arrays in nats.

    ELBO = mean over k posterior samples of log p(x|z) - KL(q(z|x) || p(z)) (closed form; p(z) is the
    model's ``prior``: a standard normal, or p(z|t) of a text-conditioned model).
    The bound (Burda et al. 2016) is log (1/k) sum_i p(x|z_i) p(z_i) / q(z_i|x) with
    z_i ~ q(z|x); it is >= the ELBO in expectation and tightens towards log p(x) as k grows.
    Images are processed in batches and the noise is drawn statelessly from ``seed``,
    so the numbers are reproducible.
    """
    if importance_samples < 1:
        raise UserError(f"--importance-samples {importance_samples}: must be >= 1")
    images = np.asarray(images, np.float32)
    labels = np.zeros(len(images), np.int32) if labels is None else np.asarray(labels, np.int32)  # class or word ids
    chunk = min(importance_samples, DECODES_PER_CALL)
    num_chunks = math.ceil(importance_samples / chunk)
    per_call = max(1, DECODES_PER_CALL // chunk)
    if model not in _TRACED:
        _TRACED[model] = _bounds_function(model)
    bounds = _TRACED[model]
    elbo, log_likelihood = [], []
    call = 0
    for start in range(0, len(images), per_call):
        batch, batch_labels = images[start : start + per_call], labels[start : start + per_call]
        sum_log_px = np.zeros(len(batch))
        log_sum_weights = np.full(len(batch), -np.inf)
        for index in range(num_chunks):
            samples = min(chunk, importance_samples - index * chunk)
            epsilon = tf.random.stateless_normal((len(batch), samples, model.latent_dim), seed=(seed, call))
            call += 1
            part_log_px, kl, part_log_weights = bounds(tf.constant(batch), tf.constant(batch_labels), epsilon)
            sum_log_px += part_log_px.numpy()
            log_sum_weights = np.logaddexp(log_sum_weights, part_log_weights.numpy())
        elbo.append(sum_log_px / importance_samples - kl.numpy())
        log_likelihood.append(log_sum_weights - math.log(importance_samples))
    return np.concatenate(elbo), np.concatenate(log_likelihood)


def likelihood_description(model) -> str:
    """What density the NLL is of, in words (for metrics.json)."""
    if model.decoder_distribution == "gaussian":
        layer = model.decoder.get_layer("log_var")
        log_variance = max(float(layer.log_variance.numpy()), 2.0 * math.log(layer.min_std))
        kind = "learned" if layer.trainable else "fixed"
        return (
            "nats per image under a Gaussian decoder: a density of the pixel values as continuous numbers "
            f"(per pixel N(sigmoid(logits), sigma^2) on the real line, {kind} sigma = {math.exp(0.5 * log_variance):.4g}); "
            "a density, so it can be negative, and not comparable with likelihoods of discrete 8-bit pixels"
        )
    return (
        "nats per image under a Bernoulli decoder that treats each pixel intensity in [0, 1] as a probability "
        "(binary cross-entropy of grey levels): not a normalised likelihood of grey-level images; compare only "
        "with models evaluated the same way"
    )


def likelihood_metrics(model, data, importance_samples=None, seed=0) -> dict:
    """``elbo``, ``nll`` (nats per image, test split), ``reconstruction_error`` and what they are."""
    importance_samples = DEFAULT_IMPORTANCE_SAMPLES if importance_samples is None else int(importance_samples)
    split = "test" if data.test_images is not None else "train"
    images = (data.test_images if split == "test" else data.train_images).astype(np.float32) / 255.0
    labels = None
    if model.num_classes:
        labels = data.test_labels if split == "test" else data.train_labels
        if labels is None:
            raise UserError(f"--dataset {data.name}: '{model.registered_name}' is conditional and needs labelled images")
        if labels.max() >= model.num_classes:
            raise UserError(
                f"--dataset {data.name}: has class {int(labels.max())}; the model has classes 0 to {model.num_classes - 1}"
            )
    elbo, log_likelihood = importance_weighted_bounds(model, images, labels, importance_samples, seed)
    return {
        "elbo": float(np.mean(elbo)),
        "nll": float(-np.mean(log_likelihood)),
        "reconstruction_error": reconstruction_error(model.reconstruct, images, labels),
        "importance_samples": importance_samples,
        "likelihood_split": split,
        "num_likelihood_images": int(len(images)),
        "likelihood": likelihood_description(model),
        "reconstruction_metric": "mean squared error per pixel, images in [0, 1], decoder mean at the posterior mean",
    }

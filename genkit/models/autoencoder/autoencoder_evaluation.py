"""What ``genkit evaluate`` measures of an autoencoder: the reconstruction error on the test split and, for a
denoising autoencoder, the error of reconstructing clean images from each kind of corrupted one."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from genkit.evaluation.reconstruction import reconstruction_error

CORRUPTION_BATCH = 500


def reconstruction_metrics(model, data, seed: int = 0) -> dict:
    """``reconstruction_error`` (mean squared error per pixel) on the test split (the train split without one);
    per noise type of ``model.noise_levels`` also ``denoising_error_<noise>``, the noisy input's own error and the
    noise level. The corruptions are seeded by ``seed``."""
    split = "test" if data.test_images is not None else "train"
    images = (data.test_images if split == "test" else data.train_images).astype(np.float32) / 255.0
    metrics = {
        "reconstruction_error": reconstruction_error(model.reconstruct, images),
        "reconstruction_metric": "mean squared error per pixel, images in [0, 1]",
        "split": split,
        "num_images": int(len(images)),
    }
    for noise in model.noise_levels:
        corrupted = np.concatenate([
            np.asarray(model.corrupt(tf.constant(images[start : start + CORRUPTION_BATCH]), noise, start, seed=seed))
            for start in range(0, len(images), CORRUPTION_BATCH)
        ])
        metrics[f"denoising_error_{noise}"] = reconstruction_error(model.reconstruct, corrupted, targets=images)
        metrics[f"noisy_input_error_{noise}"] = float(np.mean(np.square(corrupted - images)))
        metrics[f"noise_level_{noise}"] = float(model.noise_levels[noise])
    return metrics

"""Reconstruction error of any model with an encoder: mean squared error per pixel, batch by batch."""

from __future__ import annotations

import numpy as np


def reconstruction_error(reconstruct, images, labels=None, targets=None, batch_size=500) -> float:
    """Mean squared error per pixel (images in [0, 1]) between ``reconstruct(images[, labels])`` and
    ``targets`` (default: the images themselves; the clean images when ``images`` are corrupted)."""
    targets = images if targets is None else targets
    total = 0.0
    for start in range(0, len(images), batch_size):
        batch = np.asarray(images[start : start + batch_size], np.float32)
        arguments = (batch,) if labels is None else (batch, np.asarray(labels[start : start + batch_size], np.int32))
        outputs = np.asarray(reconstruct(*arguments), np.float64)
        total += float(np.sum(np.square(outputs - targets[start : start + batch_size])))
    return total / targets.size

"""Classification metrics in NumPy: accuracy, macro-F1, top-k accuracy."""

from __future__ import annotations

import numpy as np


def accuracy(labels: np.ndarray, probabilities: np.ndarray) -> float:
    return float(np.mean(np.argmax(probabilities, axis=-1) == labels))


def top_k_accuracy(labels: np.ndarray, probabilities: np.ndarray, k: int) -> float:
    """The share of examples whose label is among the ``k`` highest scores (ties broken by index)."""
    top = np.argsort(-probabilities, axis=-1, kind="stable")[:, :k]
    return float(np.mean((top == labels[:, None]).any(axis=-1)))


def macro_f1(labels: np.ndarray, probabilities: np.ndarray, num_classes: int) -> float:
    """The unweighted mean of the per-class F1 over the classes that occur in ``labels`` or the predictions."""
    predictions = np.argmax(probabilities, axis=-1)
    scores = []
    for c in range(num_classes):
        true_positive = np.sum((predictions == c) & (labels == c))
        predicted, actual = np.sum(predictions == c), np.sum(labels == c)
        if predicted == 0 and actual == 0:
            continue
        scores.append(2 * true_positive / (predicted + actual))
    return float(np.mean(scores)) if scores else 0.0

"""Floors for captioning: what a caption score means next to captions that look at the picture barely or not at all.

- the constant caption: the most common caption of the training set (over every reference), given to every image;
- the nearest neighbour: the first reference of the training image nearest in pixel space (squared Euclidean
  distance on [0, 1] pixels).
"""

from __future__ import annotations

import collections

import numpy as np


def constant_caption(train_references) -> str:
    """The most common training caption (lowercased; ties: the alphabetically first)."""
    counts = collections.Counter(text.strip().lower() for references in train_references for text in references)
    if not counts:
        raise ValueError("constant_caption: the training split has no caption")
    return min(counts, key=lambda text: (-counts[text], text))


def nearest_neighbour_captions(train_images: np.ndarray, train_references, images: np.ndarray, batch: int = 512) -> list[str]:
    """The first reference of each image's nearest training image (pixels, squared Euclidean)."""
    train = train_images.reshape(len(train_images), -1).astype(np.float32) / 255.0
    squared_norms = (train**2).sum(axis=1)
    captions = []
    for start in range(0, len(images), batch):
        queries = images[start : start + batch].reshape(-1, train.shape[1]).astype(np.float32) / 255.0
        nearest = np.argmin(squared_norms[None, :] - 2.0 * queries @ train.T, axis=1)
        captions += [train_references[index][0] for index in nearest]
    return captions

"""Image grids as PNG files."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from genkit.atomic import write_bytes


def image_grid(images: np.ndarray, columns: int | None = None, padding: int = 2) -> np.ndarray:
    """[N, H, W, C] floats in [0, 1] -> one uint8 [rows*(H+p)+p, columns*(W+p)+p, C] image."""
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] not in (1, 3, 4):
        raise ValueError(f"Expected images of shape [N, H, W, 1|3|4]. Received: images.shape={images.shape}")
    count, height, width, channels = images.shape
    columns = columns or math.ceil(math.sqrt(count))
    rows = math.ceil(count / columns)
    grid = np.zeros(
        (rows * (height + padding) + padding, columns * (width + padding) + padding, channels), np.uint8
    )
    pixels = np.clip(np.round(images * 255.0), 0, 255).astype(np.uint8)
    for index in range(count):
        top = padding + (index // columns) * (height + padding)
        left = padding + (index % columns) * (width + padding)
        grid[top : top + height, left : left + width] = pixels[index]
    return grid


def write_png(path: str | Path, image: np.ndarray) -> None:
    """Writes one uint8 [H, W, C] image as PNG, atomically."""
    import tensorflow as tf

    write_bytes(path, tf.io.encode_png(image).numpy())

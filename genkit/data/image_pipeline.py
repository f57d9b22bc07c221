"""The tf.data pipeline from uint8 images to scaled float32 training batches."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from genkit.errors import UserError

SCALES = {
    "tanh": {"model_range": [-1.0, 1.0], "formula": "x / 127.5 - 1"},
    "unit": {"model_range": [0.0, 1.0], "formula": "x / 255"},
}


def scale_description(scale: str) -> dict:
    """How images are scaled for the model, for run metadata."""
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {', '.join(SCALES)}. Received: scale={scale!r}")
    return {"scale": scale, **SCALES[scale]}


def scale_images(images, scale: str):
    """uint8 images -> float32 in the model's range."""
    images = tf.cast(images, tf.float32)
    return images / 127.5 - 1.0 if scale == "tanh" else images / 255.0


def image_pipeline(
    images: np.ndarray,
    labels: np.ndarray | None = None,
    *,
    batch_size: int,
    shuffle_seed: int | None = None,
    scale: str = "tanh",
    drop_remainder: bool = True,
    cache: bool = True,
) -> tf.data.Dataset:
    """Batches of scaled float32 images (with int32 labels when given).

    normalise -> cache -> shuffle (seeded; one fixed order per seed) -> batch -> prefetch.
    """
    scale_description(scale)
    if drop_remainder and batch_size > len(images):
        raise UserError(f"--batch-size {batch_size}: exceeds the {len(images)} training images")
    if labels is None:
        dataset = tf.data.Dataset.from_tensor_slices(images)
        dataset = dataset.map(lambda x: scale_images(x, scale), num_parallel_calls=tf.data.AUTOTUNE)
    else:
        dataset = tf.data.Dataset.from_tensor_slices((images, labels.astype(np.int32)))
        dataset = dataset.map(lambda x, y: (scale_images(x, scale), y), num_parallel_calls=tf.data.AUTOTUNE)
    if cache:
        dataset = dataset.cache()
    if shuffle_seed is not None:
        dataset = dataset.shuffle(len(images), seed=shuffle_seed, reshuffle_each_iteration=False)
    return dataset.batch(batch_size, drop_remainder=drop_remainder).prefetch(tf.data.AUTOTUNE)

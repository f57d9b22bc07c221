"""The tf.data pipeline from uint8 images to scaled float32 training batches."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from genkit.errors import UserError

# How uint8 images are brought to the value range a model trains on, by that range.
IMAGE_RANGES = {
    (-1.0, 1.0): {"scale": "tanh", "formula": "x / 127.5 - 1"},
    (0.0, 1.0): {"scale": "unit", "formula": "x / 255"},
}


def _range_entry(value_range) -> dict:
    key = tuple(float(v) for v in value_range)
    if key not in IMAGE_RANGES:
        raise ValueError(f"value_range must be one of {list(IMAGE_RANGES)}. Received: value_range={value_range!r}")
    return IMAGE_RANGES[key]


def scale_description(value_range) -> dict:
    """How images are scaled for the model, for run metadata (``scale`` names the range as before: tanh, unit)."""
    return {**_range_entry(value_range), "model_range": [float(v) for v in value_range]}


def scale_images(images, value_range):
    """uint8 images -> float32 in ``value_range`` ((-1, 1) or (0, 1))."""
    _range_entry(value_range)
    images = tf.cast(images, tf.float32)
    return images / 127.5 - 1.0 if float(value_range[0]) == -1.0 else images / 255.0


def image_pipeline(
    images: np.ndarray,
    labels: np.ndarray | None = None,
    *,
    batch_size: int,
    shuffle_seed: int | None = None,
    value_range=(-1.0, 1.0),
    drop_remainder: bool = True,
    cache: bool = True,
) -> tf.data.Dataset:
    """Batches ``{"images": float32 in value_range[, "labels": int32]}``.

    normalise -> cache -> shuffle (seeded; one fixed order per seed) -> batch -> prefetch.
    """
    _range_entry(value_range)
    if drop_remainder and batch_size > len(images):
        raise UserError(f"--batch-size {batch_size}: exceeds the {len(images)} training images")
    columns = {"images": images} if labels is None else {"images": images, "labels": labels.astype(np.int32)}
    dataset = tf.data.Dataset.from_tensor_slices(columns)
    dataset = dataset.map(
        lambda batch: {**batch, "images": scale_images(batch["images"], value_range)},
        num_parallel_calls=tf.data.AUTOTUNE,
    )
    if cache:
        dataset = dataset.cache()
    if shuffle_seed is not None:
        dataset = dataset.shuffle(len(images), seed=shuffle_seed, reshuffle_each_iteration=False)
    return dataset.batch(batch_size, drop_remainder=drop_remainder).prefetch(tf.data.AUTOTUNE)

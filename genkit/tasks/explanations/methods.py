"""An explanation method, the figures it makes, the reason it may not apply, and the test images it explains."""

from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np


class ExplanationSkipped(Exception):
    """An explanation method that does not apply to this model (or its data); the message says why."""


@dataclasses.dataclass
class Figure:
    """One written figure: ``name`` is its file stem, ``png`` its bytes, ``arrays`` the values drawn (heat maps
    [N, H, W] in [0, 1], the images under them, ...), written beside it as ``<name>.npz`` for plotting anew."""

    name: str
    title: str
    method: str
    description: str
    png: bytes
    arrays: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class ExplanationMethod:
    """A way of explaining a model: ``make(data, num_samples, seed) -> [Figure]``.

    ``data`` is what ``genkit evaluate`` would compare against (the run's test
    split), or None when ``needs_data`` is false.
    """

    name: str
    description: str
    make: Callable
    needs_data: bool = True


def test_split_images(data, num_samples: int, seed: int, what: str):
    """(images float32 [n, H, W, C] in [0, 1], labels or None) of ``data``'s test split, ``num_samples`` drawn with ``seed``."""
    images = getattr(data, "test_images", None)
    if images is None:
        raise ExplanationSkipped(f"{getattr(data, 'name', 'the data')} has no test images for {what}")
    rng = np.random.default_rng(seed)
    picked = np.sort(rng.choice(len(images), min(num_samples, len(images)), replace=False))
    labels = getattr(data, "test_labels", None)
    return images[picked].astype(np.float32) / 255.0, None if labels is None else np.asarray(labels)[picked]

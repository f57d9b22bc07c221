"""ImageDataset: images (uint8) and labels of a train split and an optional test split."""

from __future__ import annotations

import dataclasses

import numpy as np


@dataclasses.dataclass
class ImageDataset:
    """A dataset of images held in memory as uint8 [N, H, W, C] arrays.

    Attributes:
        name: the canonical spec, e.g. ``"embedded"``, ``"folder:/abs/path"``.
        source: where it was read from.
        train_images, train_labels: the training split (labels int32 or None).
        test_images, test_labels: the test split, or None.
        label_names: class names indexed by label, or None.
    """

    name: str
    source: str
    train_images: np.ndarray
    train_labels: np.ndarray | None = None
    test_images: np.ndarray | None = None
    test_labels: np.ndarray | None = None
    label_names: list[str] | None = None
    evaluation_split: str = "test"  # what genkit evaluate compares with (see ImageGenerationTask.evaluation_data)
    in_memory = True  # small enough to hold: trained without tf.data autotuning

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(int(d) for d in self.train_images.shape[1:])

    @property
    def num_classes(self) -> int | None:
        if self.label_names is not None:
            return len(self.label_names)
        if self.train_labels is not None:
            return int(self.train_labels.max()) + 1
        return None

    def spec(self) -> dict:
        """A JSON-able description for run metadata."""
        return {
            "name": self.name,
            "source": self.source,
            "image_shape": list(self.image_shape),
            "num_train": int(len(self.train_images)),
            "num_test": int(len(self.test_images)) if self.test_images is not None else 0,
            "num_classes": self.num_classes,
            "label_names": self.label_names,
            "stored_dtype": "uint8",
            "stored_range": [0, 255],
        }

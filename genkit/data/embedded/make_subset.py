"""Regenerates the embedded Fashion-MNIST subset from Debian's dataset-fashion-mnist files.

    python genkit/data/embedded/make_subset.py [SOURCE_DIR]

A stratified sample with a fixed seed: 600 train images per class from the
train split and 100 test images per class from the t10k split, written as
gzip IDX files with mtime 0, so the output is byte-for-byte reproducible.
"""

import sys
from pathlib import Path

import numpy as np

from genkit.data.idx import IMAGES_MAGIC, LABELS_MAGIC, read_idx, write_idx

TRAIN_PER_CLASS, TEST_PER_CLASS, SEED = 600, 100, 20171004  # Fashion-MNIST's paper date as a seed


def stratified(labels: np.ndarray, per_class: int, rng: np.random.Generator) -> np.ndarray:
    chosen = [rng.choice(np.flatnonzero(labels == c), per_class, replace=False) for c in range(10)]
    return np.sort(np.concatenate(chosen))


def main(source: Path, destination: Path) -> None:
    rng = np.random.default_rng(SEED)
    destination.mkdir(parents=True, exist_ok=True)
    for split, prefix, per_class in (("train", "train", TRAIN_PER_CLASS), ("test", "t10k", TEST_PER_CLASS)):
        images = read_idx(source / f"{prefix}-images-idx3-ubyte.gz", IMAGES_MAGIC)
        labels = read_idx(source / f"{prefix}-labels-idx1-ubyte.gz", LABELS_MAGIC)
        index = stratified(labels, per_class, rng)
        write_idx(destination / f"{prefix}-images-idx3-ubyte.gz", images[index])
        write_idx(destination / f"{prefix}-labels-idx1-ubyte.gz", labels[index])
        print(f"{split}: {len(index)} images from {source}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "/usr/share/datasets/fashion-mnist"),
         Path(__file__).parent / "fashion-mnist-subset")

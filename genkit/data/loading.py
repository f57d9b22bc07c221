"""Loading image datasets by spec: embedded, fashion_mnist, tfds:NAME, folder:PATH, npz:PATH."""

from __future__ import annotations

import os
import shutil
import subprocess
import zipfile
import zlib
from pathlib import Path

import numpy as np

from genkit.data.idx import IMAGES_MAGIC, LABELS_MAGIC, read_idx
from genkit.data.image_dataset import ImageDataset
from genkit.data.paths import user_path
from genkit.data.dataset_registry import DatasetKind, register_dataset
from genkit.errors import UserError

DEFAULT_DATASET = "embedded"
MAX_CLASSES = 100_000  # class ids of labelled images: 0 to MAX_CLASSES - 1
FASHION_MNIST_LABELS = [
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
]
FASHION_MNIST_FILES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}
DEBIAN_FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
EMBEDDED_DIR = Path(__file__).parent / "embedded" / "fashion-mnist-subset"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


def _debian_fashion_mnist_dir() -> Path:
    """Where Debian's dataset-fashion-mnist package put its files (asks dpkg, else the usual folder)."""
    if shutil.which("dpkg"):
        try:
            listing = subprocess.run(
                ["dpkg", "-L", "dataset-fashion-mnist"], capture_output=True, text=True, timeout=10
            ).stdout
        except (OSError, subprocess.SubprocessError):
            listing = ""
        for line in listing.splitlines():
            if line.endswith(FASHION_MNIST_FILES["train_images"]):
                return Path(line).parent
    return DEBIAN_FASHION_MNIST_DIR


def find_fashion_mnist_dir(data_dir: str | Path | None = None) -> Path:
    """--data-dir when given; else the first of $GENKIT_DATA_DIR and Debian's package folder with the four files."""
    if data_dir:
        missing = [name for name in FASHION_MNIST_FILES.values() if not (Path(data_dir) / name).is_file()]
        if missing:
            raise UserError(f"--data-dir {data_dir}: Fashion-MNIST file {missing[0]} not found")
        return Path(data_dir)
    candidates = [Path(os.environ["GENKIT_DATA_DIR"])] if os.environ.get("GENKIT_DATA_DIR") else []
    candidates.append(_debian_fashion_mnist_dir())
    for candidate in candidates:
        if all((candidate / name).is_file() for name in FASHION_MNIST_FILES.values()):
            return candidate
    raise UserError(
        "fashion_mnist: the four IDX .gz files were not found in "
        + ", ".join(str(c) for c in candidates)
        + "; run 'apt-get install dataset-fashion-mnist' or pass --data-dir"
    )


def _read_idx_split(directory: Path, images_name: str, labels_name: str):
    images = read_idx(directory / images_name, IMAGES_MAGIC)
    labels = read_idx(directory / labels_name, LABELS_MAGIC)
    if len(images) != len(labels):
        raise UserError(
            f"{directory / images_name} holds {len(images)} images but {directory / labels_name} "
            f"holds {len(labels)} labels"
        )
    return images[..., np.newaxis], labels.astype(np.int32)


def _load_idx_fashion_mnist(directory: Path, name: str) -> ImageDataset:
    files = FASHION_MNIST_FILES
    train_images, train_labels = _read_idx_split(directory, files["train_images"], files["train_labels"])
    test_images, test_labels = _read_idx_split(directory, files["test_images"], files["test_labels"])
    return ImageDataset(
        name=name, source=str(directory), train_images=train_images, train_labels=train_labels,
        test_images=test_images, test_labels=test_labels, label_names=list(FASHION_MNIST_LABELS),
    )


def _to_uint8(array: np.ndarray, where: str) -> np.ndarray:
    """uint8 as it is; floats in [0, 1] scaled to [0, 255]; anything else is an error naming ``where``."""
    if array.dtype == np.uint8:
        return array
    if np.issubdtype(array.dtype, np.floating):
        if array.size and (not np.isfinite(array).all() or array.min() < 0 or array.max() > 1):
            raise UserError(f"{where}: float images must be finite and in [0, 1]")
        return np.round(array * 255).astype(np.uint8)
    if np.issubdtype(array.dtype, np.integer) and array.size and array.min() >= 0 and array.max() <= 255:
        return array.astype(np.uint8)
    raise UserError(f"{where}: images must be uint8, or floats in [0, 1]; got {array.dtype}")


def _as_nhwc(images: np.ndarray, where: str) -> np.ndarray:
    if images.ndim == 3:
        images = images[..., np.newaxis]
    if images.ndim != 4 or images.shape[-1] not in (1, 3, 4) or len(images) == 0:
        raise UserError(f"{where}: expected images of shape [N, H, W] or [N, H, W, 1|3|4], got {list(images.shape)}")
    return _to_uint8(images, where)


# What reading a damaged .npz raises besides UserError: a bad zip or a bad member (BadZipFile, zlib.error, EOFError),
# a bad array header (ValueError), a header declaring more than memory holds (MemoryError: numpy allocates first).
NPZ_READ_ERRORS = (OSError, ValueError, EOFError, MemoryError, zipfile.BadZipFile, zlib.error)


def _load_npz(path: Path) -> ImageDataset:
    try:
        archive = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise UserError(f"{path}: file not found") from None
    except NPZ_READ_ERRORS as error:
        raise UserError(f"{path}: not a readable .npz file ({_reason(error)})") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise UserError(f"{path}: a single .npy array, not an .npz archive of named arrays (numpy.savez(path, x_train=...))")
    with archive:
        try:
            return _npz_dataset(archive, path)
        except NPZ_READ_ERRORS as error:
            raise UserError(f"{path}: not a readable .npz file ({_reason(error)})") from None


def _reason(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0][:200]}" if lines else type(error).__name__


def _npz_dataset(archive, path: Path) -> ImageDataset:
    keys = set(archive.files)
    image_key = "x_train" if "x_train" in keys else "images" if "images" in keys else None
    if image_key is None:
        raise UserError(f"{path}: no 'x_train' (or 'images') array; keys found: {', '.join(sorted(keys)) or 'none'}")
    label_key = {"x_train": "y_train", "images": "labels"}[image_key]
    train_images = _as_nhwc(archive[image_key], f"{path} [{image_key}]")
    train_labels = _labels(archive, label_key, len(train_images), path)
    test_images = test_labels = None
    if "x_test" in keys:
        test_images = _as_nhwc(archive["x_test"], f"{path} [x_test]")
        if test_images.shape[1:] != train_images.shape[1:]:
            raise UserError(f"{path} [x_test]: images are {list(test_images.shape[1:])}, train images {list(train_images.shape[1:])}")
        test_labels = _labels(archive, "y_test", len(test_images), path)
    archive_label_names = archive["label_names"] if "label_names" in keys else None
    if archive_label_names is not None:
        if archive_label_names.ndim != 1:
            raise UserError(f"{path} [label_names]: expected a list of class names, got shape {list(archive_label_names.shape)}")
        for key, labels in ((label_key, train_labels), ("y_test", test_labels)):
            if labels is not None and labels.size and labels.max() >= len(archive_label_names):
                raise UserError(
                    f"{path} [{key}]: class id {labels.max()} has no name in label_names "
                    f"({len(archive_label_names)} names, for class ids 0 to {len(archive_label_names) - 1})"
                )
    return ImageDataset(
        name=f"npz:{path}", source=str(path), train_images=train_images, train_labels=train_labels,
        test_images=test_images, test_labels=test_labels,
        label_names=[str(name) for name in archive_label_names] if archive_label_names is not None else None,
    )


def _labels(archive, key: str, count: int, path: Path):
    if key not in archive.files:
        return None
    labels = archive[key]
    if labels.ndim != 1 or len(labels) != count or not np.issubdtype(labels.dtype, np.integer) or (labels < 0).any():
        raise UserError(f"{path} [{key}]: expected {count} non-negative integer labels, got shape {list(labels.shape)} {labels.dtype}")
    if labels.size and labels.max() >= MAX_CLASSES:  # also: int32 would wrap 2**32 around to 0
        raise UserError(
            f"{path} [{key}]: class id {labels.max()} is too large; class ids are 0 to {MAX_CLASSES - 1} "
            "(conditional models embed every id below the largest)"
        )
    return labels.astype(np.int32)


def _read_image(path: Path, image_size, channels):
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            image.load()
            mode = {1: "L", 3: "RGB"}.get(channels) or ("L" if image.mode in ("L", "1", "I;16", "I") else "RGB")
            image = image.convert(mode)
            if image_size is not None:
                image = image.resize((image_size[1], image_size[0]), Image.Resampling.BILINEAR)
            array = np.asarray(image, dtype=np.uint8)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise UserError(f"{path}: not a readable PNG/JPEG image ({type(error).__name__})") from None
    return array[..., np.newaxis] if array.ndim == 2 else array


def _load_folder(path: Path, image_size, channels) -> ImageDataset:
    if not path.is_dir():
        raise UserError(f"folder:{path}: no such folder")
    class_dirs = sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))
    groups = [(d.name, sorted(f for f in d.iterdir() if f.is_file() and not f.name.startswith("."))) for d in class_dirs]
    loose = sorted(f for f in path.iterdir() if f.is_file() and not f.name.startswith("."))
    if class_dirs and loose:
        raise UserError(f"folder:{path}: has both class sub-folders and loose files (e.g. {loose[0].name}); use one layout")
    if not class_dirs:
        groups = [(None, loose)]
    images, labels = [], []
    for label, (_, files) in enumerate(groups):
        for file in files:
            if file.suffix.lower() not in IMAGE_SUFFIXES:
                raise UserError(f"{file}: not an image file; allowed: {', '.join(IMAGE_SUFFIXES)}")
            image = _read_image(file, image_size, channels)
            if images and image.shape != images[0].shape:
                raise UserError(
                    f"{file}: image is {list(image.shape)} but the first image is {list(images[0].shape)}; "
                    "resize them all with an image size"
                )
            images.append(image)
            labels.append(label)
    if not images:
        raise UserError(f"folder:{path}: no PNG/JPEG images found")
    return ImageDataset(
        name=f"folder:{path}", source=str(path), train_images=np.stack(images),
        train_labels=np.asarray(labels, np.int32) if class_dirs else None,
        label_names=[name for name, _ in groups] if class_dirs else None,
    )


def _load_tfds(name: str, data_dir: str | None) -> ImageDataset:
    import tensorflow_datasets as tfds

    try:
        builder = tfds.builder(name, data_dir=data_dir)
    except Exception as error:  # TFDS raises many types for an unknown or unprepared name
        try:
            builder = tfds.builder_from_directory(str(Path(data_dir or tfds.core.constants.DATA_DIR) / name))
        except Exception:
            raise UserError(f"tfds:{name}: unknown or unreadable dataset ({type(error).__name__}: {str(error).splitlines()[0]})") from None
    if not builder.is_prepared():
        raise UserError(
            f"tfds:{name}: not prepared in {builder.data_dir}; downloading it needs internet "
            "(run tfds build, or pass --data-dir with a prepared copy)"
        )
    features = builder.info.features
    image_key = "image" if "image" in features else None
    if image_key is None:
        raise UserError(f"tfds:{name}: has no 'image' feature; features: {', '.join(features)}")
    has_label = "label" in features

    def split_arrays(split):
        images, labels = [], []
        for example in tfds.as_numpy(builder.as_dataset(split=split)):
            images.append(example[image_key])
            if has_label:
                labels.append(example["label"])
        return np.stack(images), (np.asarray(labels, np.int32) if has_label else None)

    splits = builder.info.splits
    train_split = "train" if "train" in splits else next(iter(splits))
    train_images, train_labels = split_arrays(train_split)
    test_images = test_labels = None
    if "test" in splits:
        test_images, test_labels = split_arrays("test")
    label_names = list(features["label"].names) if has_label and hasattr(features["label"], "names") else None
    return ImageDataset(
        name=f"tfds:{name}", source=str(builder.data_dir),
        train_images=_as_nhwc(train_images, f"tfds:{name}"), train_labels=train_labels,
        test_images=_as_nhwc(test_images, f"tfds:{name}") if test_images is not None else None,
        test_labels=test_labels, label_names=label_names,
    )


def load_image_dataset(
    spec: str | None = None,
    data_dir: str | Path | None = None,
    image_size: tuple[int, int] | None = None,
    channels: int | None = None,
) -> ImageDataset:
    """Loads the image dataset named by ``spec`` (default: the embedded Fashion-MNIST subset).

    ``image_size`` (height, width) and ``channels`` apply to ``folder:`` datasets.
    """
    from genkit.data.dataset_registry import load_dataset

    return load_dataset(spec, ("images",), "an image model", data_dir=data_dir, image_size=image_size, channels=channels)


def _path(argument: str) -> Path:
    return user_path(argument, resolve=True)


for _kind in (
    DatasetKind(
        "embedded", ("images", "labels"), lambda _, data_dir=None, **__: _load_idx_fashion_mnist(EMBEDDED_DIR, "embedded"),
        "the Fashion-MNIST subset inside genkit (6,000 train / 1,000 test images, 10 classes)",
    ),
    DatasetKind(
        "fashion_mnist", ("images", "labels"),
        lambda _, data_dir=None, **__: _load_idx_fashion_mnist(find_fashion_mnist_dir(data_dir), "fashion_mnist"),
        "the full Fashion-MNIST (Debian's dataset-fashion-mnist, $GENKIT_DATA_DIR or --data-dir)",
    ),
    DatasetKind(
        "tfds", ("images",), lambda name, data_dir=None, **__: _load_tfds(name, str(data_dir) if data_dir else None),
        "a prepared TensorFlow Datasets image dataset", takes_argument=True, optional_fields=("labels",),
        argument_name="NAME",
    ),
    DatasetKind(
        "folder", ("images",),
        lambda path, data_dir=None, image_size=None, channels=None, **__: _load_folder(_path(path), image_size, channels),
        "a folder of PNG/JPEG images (class sub-folders give labels)", takes_argument=True, optional_fields=("labels",),
    ),
    DatasetKind(
        "npz", ("images",), lambda path, data_dir=None, **__: _load_npz(_path(path)),
        "an .npz with x_train (y_train, x_test, y_test, label_names optional)", takes_argument=True,
        optional_fields=("labels",),
    ),
):
    register_dataset(_kind)

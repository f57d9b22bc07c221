"""The data layer: every source, every bad-data case, and the tf.data pipeline."""

import gzip
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from genkit.data import find_fashion_mnist_dir, load_image_dataset
from genkit.data.image_pipeline import image_pipeline, scale_description
from genkit.data.idx import IMAGES_MAGIC, LABELS_MAGIC, read_idx, write_idx
from genkit.data.loading import DEBIAN_FASHION_MNIST_DIR, FASHION_MNIST_FILES
from genkit.errors import UserError

HAS_DEBIAN_FASHION_MNIST = (DEBIAN_FASHION_MNIST_DIR / FASHION_MNIST_FILES["train_images"]).is_file()


def _fake_fashion_dir(directory: Path, train=20, test=10, labels_train=None) -> Path:
    rng = np.random.default_rng(0)
    directory.mkdir(parents=True, exist_ok=True)
    write_idx(directory / "train-images-idx3-ubyte.gz", rng.integers(0, 256, (train, 28, 28)))
    write_idx(directory / "train-labels-idx1-ubyte.gz", rng.integers(0, 10, labels_train or train))
    write_idx(directory / "t10k-images-idx3-ubyte.gz", rng.integers(0, 256, (test, 28, 28)))
    write_idx(directory / "t10k-labels-idx1-ubyte.gz", rng.integers(0, 10, test))
    return directory


def test_embedded_subset_is_real_stratified_fashion_mnist():
    data = load_image_dataset()
    assert data.name == "embedded"
    assert data.train_images.shape == (6000, 28, 28, 1) and data.train_images.dtype == np.uint8
    assert data.test_images.shape == (1000, 28, 28, 1)
    assert np.bincount(data.train_labels).tolist() == [600] * 10
    assert np.bincount(data.test_labels).tolist() == [100] * 10
    assert data.label_names[9] == "Ankle boot" and data.num_classes == 10
    spec = data.spec()
    assert spec["image_shape"] == [28, 28, 1] and spec["num_train"] == 6000 and spec["num_test"] == 1000


@pytest.mark.skipif(not HAS_DEBIAN_FASHION_MNIST, reason="Debian's dataset-fashion-mnist is not installed")
def test_full_fashion_mnist_from_the_debian_package():
    data = load_image_dataset("fashion_mnist")
    assert data.train_images.shape == (60000, 28, 28, 1) and data.test_images.shape == (10000, 28, 28, 1)
    assert np.bincount(data.train_labels).tolist() == [6000] * 10
    # The embedded subset is made of real Fashion-MNIST images.
    embedded = load_image_dataset("embedded")
    assert (data.train_images == embedded.train_images[0]).all(axis=(1, 2, 3)).any()


def test_fashion_mnist_search_order(tmp_path, monkeypatch):
    first = _fake_fashion_dir(tmp_path / "first")
    second = _fake_fashion_dir(tmp_path / "second", train=30)
    monkeypatch.setenv("GENKIT_DATA_DIR", str(second))
    assert find_fashion_mnist_dir(first) == first  # --data-dir wins
    assert find_fashion_mnist_dir() == second  # then $GENKIT_DATA_DIR
    assert len(load_image_dataset("fashion_mnist").train_images) == 30
    with pytest.raises(UserError, match="--data-dir .*empty: Fashion-MNIST file train-images-idx3-ubyte.gz not found"):
        find_fashion_mnist_dir(tmp_path / "empty")  # an explicit --data-dir is the only place looked
    monkeypatch.setenv("GENKIT_DATA_DIR", str(tmp_path / "empty"))
    if not HAS_DEBIAN_FASHION_MNIST:
        with pytest.raises(UserError, match="apt-get install dataset-fashion-mnist"):
            find_fashion_mnist_dir()


def test_idx_round_trip(tmp_path):
    array = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    write_idx(tmp_path / "a.gz", array)
    np.testing.assert_array_equal(read_idx(tmp_path / "a.gz", IMAGES_MAGIC), array)
    (tmp_path / "plain").write_bytes(gzip.decompress((tmp_path / "a.gz").read_bytes()))
    np.testing.assert_array_equal(read_idx(tmp_path / "plain"), array)


def _corrupt(directory: Path, how: str) -> Path:
    target = directory / "train-images-idx3-ubyte.gz"
    raw = target.read_bytes()
    if how == "missing":
        target.unlink()
    elif how == "truncated_gzip":
        target.write_bytes(raw[: len(raw) // 2])
    elif how == "corrupt_gzip":
        target.write_bytes(raw[:20] + bytes(b ^ 0xFF for b in raw[20:60]) + raw[60:])
    elif how == "wrong_magic":
        data = bytearray(gzip.decompress(raw))
        data[3] = 0x01
        target.write_bytes(gzip.compress(bytes(data)))
    elif how == "truncated_payload":
        target.write_bytes(gzip.compress(gzip.decompress(raw)[:-100]))
    return target


@pytest.mark.parametrize(
    "how, message",
    [
        ("missing", "file not found"),
        ("truncated_gzip", "truncated or corrupt gzip"),
        ("corrupt_gzip", "truncated or corrupt gzip"),
        ("wrong_magic", "wrong magic number"),
        ("truncated_payload", "truncated"),
    ],
)
def test_bad_idx_files_name_the_file(tmp_path, how, message):
    directory = _fake_fashion_dir(tmp_path / "d")
    target = _corrupt(directory, how)
    with pytest.raises(UserError, match=message) as error:
        load_image_dataset("fashion_mnist", data_dir=directory) if how != "missing" else read_idx(target)
    assert str(target) in str(error.value)


def test_image_and_label_counts_that_disagree(tmp_path):
    directory = _fake_fashion_dir(tmp_path / "d", train=20, labels_train=19)
    with pytest.raises(UserError, match="20 images but .*19 labels") as error:
        load_image_dataset("fashion_mnist", data_dir=directory)
    assert "train-images-idx3-ubyte.gz" in str(error.value) and "train-labels-idx1-ubyte.gz" in str(error.value)


def _write_png(path: Path, size=(12, 10), color=(10, 200, 30)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, color).save(path)


def test_folder_with_class_subfolders(tmp_path):
    for name, count in (("cats", 3), ("dogs", 2)):
        for index in range(count):
            _write_png(tmp_path / "pets" / name / f"{index}.png")
    data = load_image_dataset(f"folder:{tmp_path / 'pets'}")
    assert data.train_images.shape == (5, 10, 12, 3)
    assert data.label_names == ["cats", "dogs"] and data.train_labels.tolist() == [0, 0, 0, 1, 1]
    resized = load_image_dataset(f"folder:{tmp_path / 'pets'}", image_size=(8, 8), channels=1)
    assert resized.train_images.shape == (5, 8, 8, 1)


def test_folder_without_subfolders_is_unlabelled(tmp_path):
    _write_png(tmp_path / "flat" / "a.png")
    Image.new("L", (12, 10)).save(tmp_path / "flat" / "b.jpg")
    data = load_image_dataset(f"folder:{tmp_path / 'flat'}", channels=3)
    assert data.train_images.shape == (2, 10, 12, 3) and data.train_labels is None


@pytest.mark.parametrize(
    "setup, message",
    [
        (lambda d: d.mkdir(), "no PNG/JPEG images"),
        (lambda d: None, "no such folder"),
        (lambda d: (_write_png(d / "a.png"), (d / "notes.txt").write_text("x")), "notes.txt: not an image file"),
        (lambda d: (_write_png(d / "a.png"), (d / "b.png").write_bytes(b"not a png")), "b.png: not a readable"),
        (lambda d: (_write_png(d / "a.png"), _write_png(d / "b.png", size=(5, 5))), "b.png: image is"),
    ],
)
def test_bad_folders(tmp_path, setup, message):
    folder = tmp_path / "images"
    setup(folder)
    with pytest.raises(UserError, match=message):
        load_image_dataset(f"folder:{folder}")


def test_npz_variants(tmp_path):
    rng = np.random.default_rng(1)
    np.savez(tmp_path / "a.npz", x_train=rng.integers(0, 256, (6, 8, 8), dtype=np.uint8), y_train=np.arange(6))
    data = load_image_dataset(f"npz:{tmp_path / 'a.npz'}")
    assert data.train_images.shape == (6, 8, 8, 1) and data.train_labels.tolist() == list(range(6))
    np.savez(tmp_path / "b.npz", images=rng.random((4, 8, 8, 3)).astype(np.float32))
    data = load_image_dataset(str(tmp_path / "b.npz"))
    assert data.train_images.dtype == np.uint8 and data.train_images.shape == (4, 8, 8, 3)
    np.savez(tmp_path / "c.npz", x_train=rng.random((4, 8, 8)) * 5)
    with pytest.raises(UserError, match=r"c.npz \[x_train\]: float images must be finite and in \[0, 1\]"):
        load_image_dataset(f"npz:{tmp_path / 'c.npz'}")
    np.savez(tmp_path / "d.npz", pictures=np.zeros((2, 8, 8)))
    with pytest.raises(UserError, match="no 'x_train'.*pictures"):
        load_image_dataset(f"npz:{tmp_path / 'd.npz'}")
    np.savez(tmp_path / "e.npz", x_train=np.zeros((3, 8, 8), np.uint8), y_train=np.arange(2))
    with pytest.raises(UserError, match=r"\[y_train\]: expected 3"):
        load_image_dataset(f"npz:{tmp_path / 'e.npz'}")
    (tmp_path / "f.npz").write_bytes(b"garbage")
    with pytest.raises(UserError, match="f.npz: not a readable .npz"):
        load_image_dataset(f"npz:{tmp_path / 'f.npz'}")


def test_unknown_spec_lists_the_allowed_forms():
    with pytest.raises(UserError, match="unknown dataset; allowed: embedded, fashion_mnist, tfds:NAME"):
        load_image_dataset("cifar")


TFDS_BUILDER = '''
import numpy as np
import tensorflow_datasets as tfds

class GenkitTinyImages(tfds.core.GeneratorBasedBuilder):
    """A few images made from numpy: a real TFDS builder that needs no download."""
    VERSION = tfds.core.Version("1.0.0")

    def _info(self):
        return tfds.core.DatasetInfo(builder=self, features=tfds.features.FeaturesDict({
            "image": tfds.features.Image(shape=(16, 16, 1)),
            "label": tfds.features.ClassLabel(names=["dark", "light"]),
        }))

    def _split_generators(self, dl_manager):
        return {"train": self._generate_examples(24, 0), "test": self._generate_examples(8, 1)}

    def _generate_examples(self, count, seed):
        rng = np.random.default_rng(seed)
        for index in range(count):
            label = index % 2
            image = rng.integers(0, 128, (16, 16, 1), dtype=np.uint8) + 127 * label
            yield index, {"image": image.astype(np.uint8), "label": label}
'''


@pytest.mark.slow
def test_tfds_offline_from_a_prepared_builder(tmp_path):
    # Prepare the dataset in another process with TFDS's own builder, then load it by name
    # here, where that builder class was never defined: TFDS reads it from its files.
    builder_file = tmp_path / "genkit_tiny_images" / "genkit_tiny_images.py"  # TFDS wants a module file
    builder_file.parent.mkdir()
    builder_file.write_text(
        TFDS_BUILDER + f"\nGenkitTinyImages(data_dir={str(tmp_path / 'tfds')!r}).download_and_prepare()\n"
    )
    subprocess.run([sys.executable, str(builder_file)], check=True, capture_output=True, timeout=300)
    data = load_image_dataset("tfds:genkit_tiny_images", data_dir=tmp_path / "tfds")
    assert data.train_images.shape == (24, 16, 16, 1) and data.test_images.shape == (8, 16, 16, 1)
    assert data.label_names == ["dark", "light"]
    assert sorted(np.bincount(data.train_labels).tolist()) == [12, 12]
    assert data.name == "tfds:genkit_tiny_images"
    with pytest.raises(UserError, match="tfds:no_such_dataset_here"):
        load_image_dataset("tfds:no_such_dataset_here", data_dir=tmp_path / "tfds")


def test_pipeline_scaling_batches_and_seeded_order():
    images = np.arange(10, dtype=np.uint8).reshape(10, 1, 1, 1) * 25
    batches = [b["images"] for b in image_pipeline(images, batch_size=4, shuffle_seed=None, value_range=(-1, 1))]
    assert len(batches) == 2 and batches[0].shape == (4, 1, 1, 1)  # the remainder is dropped
    np.testing.assert_allclose(batches[0].numpy().ravel(), images[:4].ravel() / 127.5 - 1, rtol=1e-6)
    unit = next(iter(image_pipeline(images, batch_size=10, value_range=(0, 1))))["images"].numpy()
    assert unit.min() == 0.0 and unit.max() == pytest.approx(225 / 255)

    def order(seed):
        batches = image_pipeline(images, batch_size=2, shuffle_seed=seed)
        return np.concatenate([b["images"].numpy().ravel() for b in batches])

    np.testing.assert_array_equal(order(1), order(1))
    assert not np.array_equal(order(1), order(2))
    labelled = next(iter(image_pipeline(images, np.arange(10), batch_size=3)))
    assert sorted(labelled) == ["images", "labels"] and labelled["labels"].dtype == "int32"
    with pytest.raises(UserError, match="--batch-size 11: exceeds the 10 training images"):
        image_pipeline(images, batch_size=11)
    assert scale_description((-1, 1))["scale"] == "tanh" and scale_description((0, 1))["formula"] == "x / 255"
    with pytest.raises(ValueError, match=r"Received: value_range=\(0, 255\)"):
        scale_description((0, 255))

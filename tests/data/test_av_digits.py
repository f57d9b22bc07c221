"""AV-digits: the protocol (speakers, image pools, PCA degradation), the arrays, and finding the data."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from genkit.data import av_digits
from genkit.data.av_digits import PcaDegradation, find_av_digits_dir, load_av_digits, pair_images, speaker_split
from genkit.data.paired_dataset import PairedDataset, stratified_split
from genkit.errors import UserError

DATA_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "data"
HAS_DATA = (DATA_DIR / "fsdd" / "recordings").is_dir() and (DATA_DIR / "uci-digits" / "digits.csv.gz").is_file()
needs_data = pytest.mark.skipif(not HAS_DATA, reason=f"{DATA_DIR} has no fsdd/recordings and uci-digits/digits.csv.gz")
FSDD_SPEAKERS = ["george", "jackson", "lucas", "nicolas", "theo", "yweweler"]


@pytest.fixture(scope="module")
def dataset():
    if not HAS_DATA:
        pytest.skip(f"{DATA_DIR} has no fsdd/recordings and uci-digits/digits.csv.gz")
    return load_av_digits(data_dir=DATA_DIR)


# ---------------------------------------------------------------------------------------------------------------
# The protocol on its own


def test_speaker_split_holds_out_the_alphabetically_last_and_its_neighbour():
    assert speaker_split(FSDD_SPEAKERS) == {
        "train": ["george", "jackson", "lucas", "nicolas"], "validation": ["theo"], "test": ["yweweler"],
    }
    assert speaker_split(FSDD_SPEAKERS, "george") == {
        "train": ["jackson", "lucas", "nicolas", "theo"], "validation": ["yweweler"], "test": ["george"],
    }
    with pytest.raises(UserError, match="speaker 'alice' not found; speakers: george, jackson"):
        speaker_split(FSDD_SPEAKERS, "alice")


def test_pca_degradation_keeps_the_fewest_components_reaching_the_variance():
    rng = np.random.default_rng(0)
    # Independent coordinates with variances 40%, 30%, 20%, 10% of the total.
    data = rng.standard_normal((4000, 4)) * np.sqrt([4.0, 3.0, 2.0, 1.0]) + 5
    degradation = PcaDegradation.fit(data, variance_kept=0.25)
    assert degradation.num_components == 1 and degradation.explained_variance == pytest.approx(0.4, abs=0.02)
    assert PcaDegradation.fit(data, variance_kept=0.6).num_components == 2
    reconstructed = degradation.reconstruct(data)
    kept = np.sum((reconstructed - data.mean(0)) ** 2) / np.sum((data - data.mean(0)) ** 2)
    assert kept == pytest.approx(degradation.explained_variance)


def test_pair_images_uses_only_the_pool_and_every_image_evenly():
    image_digits = np.repeat(np.arange(10), 20)
    pool = np.flatnonzero(np.arange(200) % 20 < 7)  # 7 images of each digit
    recording_digits = np.repeat(np.arange(10), 50)
    chosen = pair_images(recording_digits, pool, image_digits, np.random.default_rng(1))
    assert set(chosen) == set(pool)
    assert (image_digits[chosen] == recording_digits).all()
    uses = np.bincount(chosen, minlength=200)[pool]
    assert uses.min() == 7 and uses.max() == 8  # 50 recordings per digit over 7 images
    again = pair_images(recording_digits, pool, image_digits, np.random.default_rng(1))
    np.testing.assert_array_equal(chosen, again)


# ---------------------------------------------------------------------------------------------------------------
# The loaded dataset


@needs_data
def test_counts_per_split_and_label_balance(dataset):
    assert isinstance(dataset, PairedDataset) and dataset.name == "av_digits"
    assert dataset.fields == ("image", "audio", "label")
    assert [feature.type for feature in dataset.features] == ["image", "audio", "label"]
    assert {split: dataset.num_examples(split) for split in dataset.splits} == {"train": 2000, "validation": 500, "test": 500}
    assert dataset.label_names == {"label": [str(digit) for digit in range(10)]}
    for split, per_digit in (("train", 200), ("validation", 50), ("test", 50)):
        labels = dataset.split(split)["label"]
        assert labels.dtype == np.int32 and np.bincount(labels).tolist() == [per_digit] * 10
    assert "test yweweler, validation theo, train george, jackson, lucas, nicolas" in dataset.split_protocol
    assert dataset.split_protocol.startswith(av_digits.PROTOCOL) and "\n" not in dataset.split_protocol
    assert "CC BY-SA 4.0" in dataset.licence and "CC BY 4.0" in dataset.licence
    assert dataset.spec()["image_shapes"] == {"image": [8, 8, 1]}


@needs_data
def test_test_split_is_the_held_out_speakers_recordings(dataset):
    recordings = [r for r in av_digits.list_recordings(DATA_DIR) if r[1] == "yweweler"]
    assert len(recordings) == 500
    test = dataset.split("test")
    np.testing.assert_array_equal(test["label"], [digit for digit, *_ in recordings])
    for row in (0, 123, 499):
        samples = av_digits.read_wav_int16(recordings[row][3])[:8000].astype(np.float32) / 32768
        np.testing.assert_array_equal(test["audio"][row, : len(samples)], samples)
        assert not test["audio"][row, len(samples) :].any()


@needs_data
def test_no_image_shared_across_splits_and_labels_match(dataset):
    images = {split: {image.tobytes() for image in arrays["image"]} for split, arrays in dataset.splits.items()}
    assert not images["train"] & images["validation"]
    assert not images["train"] & images["test"]
    assert not images["validation"] & images["test"]
    # Every pool image is used (1,797 digits split 80/10/10 per digit: 1,439 / 179 / 179).
    assert {split: len(found) for split, found in images.items()} == {"train": 1439, "validation": 179, "test": 179}
    counts, digits = av_digits.read_uci_digits(DATA_DIR)
    pools = stratified_split(digits, av_digits.IMAGE_POOL_FRACTIONS, 0)
    degraded = PcaDegradation.fit(counts[pools == "train"]).apply(counts)
    digit_of = {image.tobytes(): digit for image, digit in zip(degraded, digits)}
    for arrays in dataset.splits.values():
        assert [digit_of[image.tobytes()] for image in arrays["image"]] == arrays["label"].tolist()


@needs_data
def test_pca_degradation_keeps_a_quarter_of_the_variance(dataset):
    counts, digits = av_digits.read_uci_digits(DATA_DIR)
    train_pool = counts[stratified_split(digits, av_digits.IMAGE_POOL_FRACTIONS, 0) == "train"]
    degradation = PcaDegradation.fit(train_pool)
    assert degradation.num_components >= 1 and 0.25 <= degradation.explained_variance < 0.32
    images = dataset.split("train")["image"]
    assert images.dtype == np.uint8 and images.shape == (2000, 8, 8, 1)
    # After clipping and uint8 rounding, the images still hold about a quarter of the pool's variance.
    kept = degradation.apply(train_pool).reshape(len(train_pool), -1) / 255 * 16
    fraction = np.sum((kept - train_pool.mean(0)) ** 2) / np.sum((train_pool - train_pool.mean(0)) ** 2)
    assert 0.22 <= fraction <= 0.32
    assert f"PCA {degradation.num_components} components" in dataset.split_protocol


@needs_data
def test_audio_dtype_shape_and_range(dataset):
    for split in dataset.splits:
        audio = dataset.split(split)["audio"]
        assert audio.dtype == np.float32 and audio.shape == (dataset.num_examples(split), 8000)
        assert audio.min() >= -1.0 and audio.max() < 1.0
        assert (np.abs(audio).max(axis=1) > 0).all()
    assert dataset.sample_rate == 8000 and dataset.audio_seconds == 1.0
    assert "20 of 3000 clips cut to 1 s" in dataset.split_protocol


@needs_data
def test_options_image_size_speaker_and_audio_seconds():
    data = load_av_digits(data_dir=DATA_DIR, image_size=(16, 12), speaker="george", audio_seconds=0.5, seed=3)
    assert data.split("train")["image"].shape == (2000, 16, 12, 1)
    assert data.split("test")["audio"].shape == (500, 4000) and data.audio_seconds == 0.5
    assert "test george, validation yweweler" in data.split_protocol and "seed 3" in data.split_protocol


@needs_data
def test_bad_options():
    with pytest.raises(UserError, match="only sample_rate 8000"):
        load_av_digits(data_dir=DATA_DIR, sample_rate=16000)
    with pytest.raises(UserError, match="image_size must be"):
        load_av_digits(data_dir=DATA_DIR, image_size=4)
    with pytest.raises(UserError, match="audio_seconds must be > 0"):
        load_av_digits(data_dir=DATA_DIR, audio_seconds=0)
    with pytest.raises(UserError, match="speaker 'nobody' not found"):
        load_av_digits(data_dir=DATA_DIR, speaker="nobody")


# ---------------------------------------------------------------------------------------------------------------
# Finding the data, registration, no TensorFlow


def test_data_dir_error_names_what_is_missing(tmp_path):
    (tmp_path / "fsdd" / "recordings").mkdir(parents=True)
    with pytest.raises(UserError) as error:
        find_av_digits_dir(tmp_path)
    message = str(error.value)
    assert message.startswith(f"--data-dir {tmp_path}: av_digits needs fsdd/recordings/ and uci-digits/digits.csv.gz")
    assert message.endswith("missing: uci-digits/digits.csv.gz") and "\n" not in message


def test_searched_places_and_their_error(tmp_path, monkeypatch):
    monkeypatch.setenv("GENKIT_DATA_DIR", str(tmp_path / "env"))
    monkeypatch.chdir(tmp_path)
    candidates = av_digits.data_dir_candidates()
    assert candidates[:2] == [tmp_path / "env", tmp_path.parent / "shared" / "data"]
    assert candidates[-1] == Path(av_digits.__file__).resolve().parents[2].parent / "shared" / "data"
    monkeypatch.setattr(av_digits, "data_dir_candidates", lambda: candidates[:2])
    with pytest.raises(UserError) as error:
        find_av_digits_dir()
    message = str(error.value)
    assert message.startswith("av_digits: fsdd/recordings/ and uci-digits/digits.csv.gz were not found in ")
    assert str(tmp_path / "env") in message and "pass --data-dir" in message and "\n" not in message


def test_found_through_genkit_data_dir(tmp_path, monkeypatch):
    (tmp_path / "fsdd" / "recordings").mkdir(parents=True)
    (tmp_path / "uci-digits").mkdir()
    (tmp_path / "uci-digits" / "digits.csv.gz").write_bytes(b"")
    monkeypatch.setenv("GENKIT_DATA_DIR", str(tmp_path))
    assert find_av_digits_dir() == tmp_path


def test_registered_with_its_fields():
    from genkit.data.dataset_registry import _DATASETS

    (kind,) = _DATASETS["av_digits"]
    assert kind.fields == ("image", "audio", "label") and not kind.takes_argument
    assert "test speaker never heard" in kind.description


def test_importing_it_does_not_import_tensorflow():
    code = "import sys, genkit.data.av_digits; print('tensorflow' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=Path(__file__).resolve().parents[2])
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "False"

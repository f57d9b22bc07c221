"""AV-digits: spoken digits paired by digit with degraded handwritten digits, in the spirit of AV-MNIST.

AV-MNIST (Vielzeuf et al. 2018, "CentralNet"; used by MultiBench) pairs
spoken digits with MNIST images whose energy is cut by PCA, so that neither
modality alone is near perfect. AV-digits does the same with open data that
fits in a test suite:

- audio: the Free Spoken Digit Dataset (FSDD; 3,000 recordings, 8 kHz mono
  16-bit, 6 speakers x 10 digits x 50, ``fsdd/recordings/{digit}_{speaker}_{index}.wav``);
- images: the 1,797 handwritten 8x8 digits of UCI "Optical Recognition of
  Handwritten Digits" (``uci-digits/digits.csv.gz``: 64 counts 0..16 and the digit per row).

The protocol, fixed before any model results existed (:data:`PROTOCOL`):

- speakers: test = every recording of one held-out speaker (default
  :data:`DEFAULT_TEST_SPEAKER`, ``yweweler``, the alphabetically last),
  validation = the speaker alphabetically before it (cyclically: ``theo``
  by default; ``george``'s is ``yweweler``), train = the other four. The
  test speaker is never heard in training; ``speaker=`` picks another one
  for leave-one-speaker-out rounds;
- images: the 1,797 digits are split 80/10/10 per digit (seeded,
  :func:`~genkit.data.paired_dataset.stratified_split`) into disjoint
  train/validation/test pools; every recording is paired with an image of
  its digit from its own split's pool: per split and digit, seeded
  shuffles of the pool are concatenated until there are enough, so every
  image is used as evenly as possible and no image is shared across splits;
- image degradation (AV-MNIST's "75% of the energy removed"): a PCA fitted
  on the train pool; every image is reconstructed (mean + projection) from
  the fewest leading components that explain at least 25% of the train
  pool's variance (2 components, 28-29%, for seeds 0-4), clipped to the
  counts' range 0..16 and scaled to uint8 (x 255 / 16). A nearest-centroid
  classifier on these images gets about 61% of the test pool right (93% on
  the originals);
- audio: float32 in [-1, 1) (int16 / 32768) at 8 kHz, zero-padded or cut at
  the end to ``audio_seconds`` (default 1 s; 20 of FSDD's 3,000 clips, 0.7%,
  are longer). The validation and test speakers (theo, yweweler) speak
  5-10x more quietly (median RMS 0.006 and 0.012) than the train speakers
  (0.05-0.08): models should normalise loudness (log-mel features turn
  gain into an offset).

Images stay 8x8 by default (the native size: no invented pixels, and a
small conv net with two stride-2 steps still fits); ``image_size``
(an int or (height, width), at least 8) upsamples them with Pillow's
BILINEAR filter for models that need larger inputs.

This module does not import TensorFlow.
"""

from __future__ import annotations

import gzip
import os
import re
import wave
from pathlib import Path

import numpy as np

from genkit.data.paired_dataset import Feature, PairedDataset, stratified_split
from genkit.data.paths import user_path
from genkit.data.dataset_registry import DatasetKind, register_dataset
from genkit.errors import UserError

NAME = "av_digits"
SAMPLE_RATE = 8000
DEFAULT_AUDIO_SECONDS = 1.0
DEFAULT_TEST_SPEAKER = "yweweler"  # the alphabetically last of FSDD's six speakers
IMAGE_POOL_FRACTIONS = {"train": 0.8, "validation": 0.1, "test": 0.1}
PCA_VARIANCE_KEPT = 0.25
NATIVE_IMAGE_SIZE = (8, 8)
MAX_COUNT = 16  # UCI digits count pixels of a 32x32 bitmap in 4x4 blocks: 0..16
LABEL_NAMES = [str(digit) for digit in range(10)]
FSDD_DIR = Path("fsdd") / "recordings"
UCI_DIGITS_FILE = Path("uci-digits") / "digits.csv.gz"
RECORDING_NAME = re.compile(r"^(\d)_([A-Za-z]+)_(\d+)\.wav$")
DESCRIPTION = (
    "spoken digits (FSDD, CC BY-SA 4.0) paired with handwritten 8x8 digits (UCI, CC BY 4.0); test speaker never heard"
)
LICENCE = (
    "audio: Free Spoken Digit Dataset (Z. Jackson et al., github.com/Jakobovski/free-spoken-digit-dataset), "
    "CC BY-SA 4.0; images: UCI Optical Recognition of Handwritten Digits (E. Alpaydin, C. Kaynak, 1998), CC BY 4.0; "
    "the pairs and degraded images adapt both (share alike: CC BY-SA 4.0)"
)
PROTOCOL = (
    "AV-digits v1 (AV-MNIST style): test = every FSDD recording of one held-out speaker (default yweweler, "
    "the alphabetically last), validation = the speaker alphabetically before it (cyclic), train = the rest; "
    "UCI digits split 80/10/10 per digit (seeded) into disjoint image pools, each recording paired with an image "
    "of its digit from its split's pool (seeded shuffles, cycled evenly); images degraded by a PCA fitted on the "
    "train pool, reconstructed from the fewest leading components reaching 25% of its variance, clipped to 0..16, "
    "scaled to uint8; audio 8 kHz, zero-padded or cut at the end to audio_seconds"
)


# ---------------------------------------------------------------------------------------------------------------
# Finding and reading the data


def _has_data(directory: Path) -> bool:
    return (directory / FSDD_DIR).is_dir() and (directory / UCI_DIGITS_FILE).is_file()


def data_dir_candidates() -> list[Path]:
    """$GENKIT_DATA_DIR, then ``../shared/data`` from the current folder and from genkit's repository root."""
    candidates = [Path(os.environ["GENKIT_DATA_DIR"])] if os.environ.get("GENKIT_DATA_DIR") else []
    candidates.append(Path.cwd().parent / "shared" / "data")
    candidates.append(Path(__file__).resolve().parents[2].parent / "shared" / "data")
    return list(dict.fromkeys(user_path(candidate).absolute() for candidate in candidates))


def find_av_digits_dir(data_dir: str | Path | None = None) -> Path:
    """The folder holding ``fsdd/recordings/`` and ``uci-digits/digits.csv.gz``: --data-dir, else the first candidate."""
    if data_dir:
        directory = user_path(data_dir)
        missing = [str(part) for part in (FSDD_DIR, UCI_DIGITS_FILE) if not (directory / part).exists()]
        if missing:
            raise UserError(
                f"--data-dir {data_dir}: {NAME} needs {FSDD_DIR}/ and {UCI_DIGITS_FILE} there; missing: {', '.join(missing)}"
            )
        return directory
    candidates = data_dir_candidates()
    for candidate in candidates:
        if _has_data(candidate):
            return candidate
    raise UserError(
        f"{NAME}: {FSDD_DIR}/ and {UCI_DIGITS_FILE} were not found in {', '.join(map(str, candidates))}; "
        "pass --data-dir (a folder holding fsdd/ and uci-digits/) or set GENKIT_DATA_DIR"
    )


def read_wav_int16(path: Path) -> np.ndarray:
    """The int16 samples of an 8 kHz mono 16-bit PCM WAV (a one-line UserError for anything else)."""
    try:
        with wave.open(str(path), "rb") as file:
            shape = (file.getframerate(), file.getnchannels(), file.getsampwidth())
            if shape != (SAMPLE_RATE, 1, 2):
                raise UserError(
                    f"{path}: expected 8000 Hz mono 16-bit PCM, got {shape[0]} Hz, {shape[1]} channel(s), "
                    f"{8 * shape[2]}-bit"
                )
            return np.frombuffer(file.readframes(file.getnframes()), dtype="<i2")
    except (wave.Error, EOFError, OSError) as error:
        raise UserError(f"{path}: not a readable WAV file ({error})") from None


def list_recordings(directory: Path) -> list[tuple[int, str, int, Path]]:
    """(digit, speaker, index, path) of every ``{digit}_{speaker}_{index}.wav``, sorted by speaker, digit, index."""
    recordings = []
    for path in (directory / FSDD_DIR).iterdir():
        if path.suffix.lower() != ".wav":
            continue
        match = RECORDING_NAME.match(path.name)
        if not match:
            raise UserError(f"{path}: not named {{digit}}_{{speaker}}_{{index}}.wav")
        recordings.append((int(match[1]), match[2], int(match[3]), path))
    if not recordings:
        raise UserError(f"{directory / FSDD_DIR}: no .wav recordings")
    return sorted(recordings, key=lambda recording: (recording[1], recording[0], recording[2]))


def read_uci_digits(directory: Path) -> tuple[np.ndarray, np.ndarray]:
    """(counts float64 [N, 64] in 0..16, digits int32 [N]) from ``uci-digits/digits.csv.gz``."""
    path = directory / UCI_DIGITS_FILE
    try:
        with gzip.open(path, "rt") as file:
            table = np.loadtxt(file, delimiter=",", ndmin=2)
    except (OSError, EOFError, ValueError) as error:
        raise UserError(f"{path}: not a readable gzip CSV of numbers ({error})") from None
    if table.shape[1] != 65 or len(table) == 0:
        raise UserError(f"{path}: expected rows of 64 pixel counts and a digit, got shape {list(table.shape)}")
    counts, digits = table[:, :64], table[:, 64]
    if counts.min() < 0 or counts.max() > MAX_COUNT or not np.isin(digits, np.arange(10)).all():
        raise UserError(f"{path}: pixel counts must be in 0..{MAX_COUNT} and digits in 0..9")
    return counts, digits.astype(np.int32)


# ---------------------------------------------------------------------------------------------------------------
# The protocol


def speaker_split(speakers, test_speaker: str | None = None) -> dict[str, list[str]]:
    """``{"train": [...], "validation": [one], "test": [one]}``: validation is the speaker alphabetically before the test one (cyclic)."""
    speakers = sorted(set(speakers))
    test_speaker = test_speaker or DEFAULT_TEST_SPEAKER
    if test_speaker not in speakers:
        raise UserError(f"{NAME}: speaker '{test_speaker}' not found; speakers: {', '.join(speakers)}")
    if len(speakers) < 3:
        raise UserError(f"{NAME}: needs at least 3 speakers (train, validation, test); found {', '.join(speakers)}")
    validation_speaker = speakers[speakers.index(test_speaker) - 1]
    return {
        "train": [s for s in speakers if s not in (test_speaker, validation_speaker)],
        "validation": [validation_speaker],
        "test": [test_speaker],
    }


class PcaDegradation:
    """A PCA of flattened images keeping only the leading components (AV-MNIST's energy removal).

    ``fit(train_counts)`` keeps the fewest components whose explained
    variance reaches ``variance_kept``; ``apply`` reconstructs from them.
    """

    def __init__(self, mean: np.ndarray, components: np.ndarray, explained_variance: float):
        self.mean = mean
        self.components = components  # [k, pixels], orthonormal rows
        self.explained_variance = explained_variance  # fraction of the fitted data's variance

    @classmethod
    def fit(cls, train_counts: np.ndarray, variance_kept: float = PCA_VARIANCE_KEPT) -> PcaDegradation:
        data = np.asarray(train_counts, np.float64)
        mean = data.mean(axis=0)
        _, singular_values, directions = np.linalg.svd(data - mean, full_matrices=False)
        ratios = np.cumsum(singular_values**2) / np.sum(singular_values**2)
        count = int(np.argmax(ratios >= variance_kept - 1e-12)) + 1
        return cls(mean, directions[:count], float(ratios[count - 1]))

    @property
    def num_components(self) -> int:
        return len(self.components)

    def reconstruct(self, counts: np.ndarray) -> np.ndarray:
        centered = np.asarray(counts, np.float64) - self.mean
        return self.mean + (centered @ self.components.T) @ self.components

    def apply(self, counts: np.ndarray) -> np.ndarray:
        """uint8 [N, 8, 8, 1]: the reconstruction clipped to 0..16 and scaled by 255 / 16."""
        images = np.clip(self.reconstruct(counts), 0, MAX_COUNT) * (255 / MAX_COUNT)
        return np.round(images).astype(np.uint8).reshape(-1, *NATIVE_IMAGE_SIZE, 1)


def pair_images(recording_digits: np.ndarray, pool: np.ndarray, image_digits: np.ndarray, rng) -> np.ndarray:
    """For each recording, an image index from ``pool`` (indices into ``image_digits``) of its digit.

    Per digit, seeded shuffles of the pool's images of that digit, concatenated until there are enough.
    """
    chosen = np.empty(len(recording_digits), dtype=np.int64)
    for digit in np.unique(recording_digits):
        wanted = np.flatnonzero(recording_digits == digit)
        candidates = pool[image_digits[pool] == digit]
        if len(candidates) == 0:
            raise UserError(f"{NAME}: no image of digit {digit} in an image pool")
        rounds = -(-len(wanted) // len(candidates))
        chosen[wanted] = np.concatenate([rng.permutation(candidates) for _ in range(rounds)])[: len(wanted)]
    return chosen


def _image_size(image_size) -> tuple[int, int]:
    if image_size is None:
        return NATIVE_IMAGE_SIZE
    try:
        size = (image_size, image_size) if isinstance(image_size, (int, np.integer)) else tuple(image_size)
    except TypeError:
        size = ()
    if len(size) != 2 or not all(isinstance(side, (int, np.integer)) and side >= 8 for side in size):
        raise UserError(f"{NAME}: image_size must be an int or (height, width) of at least 8; got {image_size!r}")
    return int(size[0]), int(size[1])


def _resize(images: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    if size == NATIVE_IMAGE_SIZE:
        return images
    from PIL import Image

    resized = [
        np.asarray(Image.fromarray(image[..., 0]).resize((size[1], size[0]), Image.Resampling.BILINEAR))
        for image in images
    ]
    return np.stack(resized)[..., np.newaxis]


def _fit_audio(samples: np.ndarray, length: int) -> np.ndarray:
    audio = samples[:length].astype(np.float32) / 32768
    return np.pad(audio, [0, length - len(audio)])


def load_av_digits(
    data_dir=None, image_size=None, sample_rate=None, audio_seconds=None, seed: int | None = 0, speaker: str | None = None
) -> PairedDataset:
    """The AV-digits :class:`PairedDataset` (features ``image``, ``audio``, ``label``); see the module docstring."""
    if sample_rate is not None and int(sample_rate) != SAMPLE_RATE:
        raise UserError(f"{NAME}: only sample_rate {SAMPLE_RATE} (FSDD's rate) is supported; got {sample_rate}")
    audio_seconds = DEFAULT_AUDIO_SECONDS if audio_seconds is None else float(audio_seconds)
    if not np.isfinite(audio_seconds) or audio_seconds <= 0:
        raise UserError(f"{NAME}: audio_seconds must be > 0; got {audio_seconds}")
    size = _image_size(image_size)
    seed = 0 if seed is None else int(seed)
    directory = find_av_digits_dir(data_dir)

    recordings = list_recordings(directory)
    speakers = speaker_split({recording[1] for recording in recordings}, speaker)
    counts, image_digits = read_uci_digits(directory)
    pools = stratified_split(image_digits, IMAGE_POOL_FRACTIONS, seed)
    degradation = PcaDegradation.fit(counts[pools == "train"])
    degraded = _resize(degradation.apply(counts), size)

    length = int(round(audio_seconds * SAMPLE_RATE))
    splits, clips_cut = {}, 0
    for number, (split, split_speakers) in enumerate(speakers.items()):
        members = [recording for recording in recordings if recording[1] in split_speakers]
        digits = np.array([recording[0] for recording in members], np.int32)
        rng = np.random.default_rng([seed, number])
        chosen = pair_images(digits, np.flatnonzero(pools == split), image_digits, rng)
        waveforms = [read_wav_int16(recording[3]) for recording in members]
        clips_cut += sum(len(waveform) > length for waveform in waveforms)
        splits[split] = {
            "image": degraded[chosen],
            "audio": np.stack([_fit_audio(waveform, length) for waveform in waveforms]),
            "label": digits,
        }
    details = (
        f"; this load: test {speakers['test'][0]}, validation {speakers['validation'][0]}, "
        f"train {', '.join(speakers['train'])}; PCA {degradation.num_components} components "
        f"({degradation.explained_variance:.1%} of the train pool's variance); images {size[0]}x{size[1]}; "
        f"{clips_cut} of {len(recordings)} clips cut to {audio_seconds:g} s; seed {seed}"
    )
    return PairedDataset(
        name=NAME,
        source=str(directory),
        features=(Feature("image", "image"), Feature("audio", "audio"), Feature("label", "label")),
        splits=splits,
        label_names={"label": list(LABEL_NAMES)},
        sample_rate=SAMPLE_RATE,
        audio_seconds=audio_seconds,
        split_protocol=PROTOCOL + details,
        licence=LICENCE,
    )


def _loader(argument=None, data_dir=None, image_size=None, sample_rate=None, audio_seconds=None, seed=0, speaker=None, **ignored):
    return load_av_digits(
        data_dir=data_dir, image_size=image_size, sample_rate=sample_rate, audio_seconds=audio_seconds,
        seed=seed, speaker=speaker,
    )


register_dataset(DatasetKind(NAME, ("image", "audio", "label"), _loader, DESCRIPTION))

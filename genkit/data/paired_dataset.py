"""PairedDataset: examples with any mix of typed features (images, texts, audio, labels), in splits.

Each feature is a named column of a manifest (``image``, ``text``, ``audio``,
``label``, or any other name with a declared type), as Ludwig's typed input
features are. Arrays are held in memory, one per feature and split, with the
example index first:

- ``image``: uint8 [N, H, W, C] (every image of a dataset has one size);
- ``text``: an object array [N] of tuples of strings (one or more references;
  models read the first as the example's text unless they say otherwise);
- ``audio``: float32 [N, samples] in [-1, 1], mono at :attr:`sample_rate`,
  zero-padded or cut to one length (:attr:`audio_seconds`);
- ``label``: int32 [N], ids into :attr:`label_names` of that feature.

Batches are dicts keyed by feature name (``{"image": ..., "text": ..., "label": ...}``).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from genkit.errors import UserError

FEATURE_TYPES = ("image", "text", "audio", "label")
SPLITS = ("train", "validation", "test")


@dataclasses.dataclass(frozen=True)
class Feature:
    """One typed column: ``name`` is its key in every batch, ``type`` one of :data:`FEATURE_TYPES`."""

    name: str
    type: str

    def __post_init__(self):
        if self.type not in FEATURE_TYPES:
            raise ValueError(f"Feature '{self.name}': type must be one of {', '.join(FEATURE_TYPES)}. Received: {self.type!r}")


@dataclasses.dataclass
class PairedDataset:
    """Paired examples held in memory.

    Attributes:
        name: the canonical spec (``embedded``, ``manifest:/abs/path.jsonl``, ``av_digits``).
        source: where it was read from.
        features: the typed features, in column order.
        splits: ``{split: {feature name: array}}`` for the splits that exist (``train`` always).
        label_names: ``{label feature: [class name, ...]}`` (ids index the list).
        sample_rate: Hz of every audio feature (None without audio).
        audio_seconds: the fixed length of every audio feature (None without audio).
        split_protocol: one line on how the splits were made (seeded, stratified, by speaker, ...).
        licence: the data's licence notice, when it is known.
    """

    name: str
    source: str
    features: tuple[Feature, ...]
    splits: dict[str, dict[str, np.ndarray]]
    label_names: dict[str, list[str]]
    sample_rate: int | None = None
    audio_seconds: float | None = None
    split_protocol: str = ""
    licence: str = ""
    evaluation_split: str = "test"
    in_memory = True

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(feature.name for feature in self.features)

    def feature(self, name: str) -> Feature:
        for feature in self.features:
            if feature.name == name:
                return feature
        raise UserError(f"--dataset {self.name}: no feature '{name}'; it has {self.describe_features()}")

    def of_type(self, type_: str) -> list[Feature]:
        return [feature for feature in self.features if feature.type == type_]

    def describe_features(self) -> str:
        return ", ".join(f"{feature.name} ({feature.type})" for feature in self.features)

    def require(self, needs, consumer: str) -> None:
        """A one-line error when a feature that ``consumer`` needs is missing."""
        missing = [name for name in needs if name not in self.fields]
        if missing:
            raise UserError(
                f"--dataset {self.name}: has {self.describe_features()}, but {consumer} needs {', '.join(needs)}"
            )

    def split(self, name: str) -> dict[str, np.ndarray]:
        if name not in self.splits:
            raise UserError(f"--dataset {self.name}: no '{name}' split (it has {', '.join(self.splits)})")
        return self.splits[name]

    def num_examples(self, split: str) -> int:
        arrays = self.splits.get(split)
        return 0 if not arrays else len(next(iter(arrays.values())))

    @property
    def scored_split(self) -> str:
        """The split evaluations score: :attr:`evaluation_split`, or ``train`` when that split is empty."""
        return self.evaluation_split if self.num_examples(self.evaluation_split) else "train"

    def num_classes(self, label_feature: str) -> int:
        return len(self.label_names[label_feature])

    def first_texts(self, split: str, feature: str) -> list[str]:
        """The first reference of every example's text ``feature`` in ``split``."""
        return [references[0] for references in self.split(split)[feature]]

    def spec(self) -> dict:
        """A JSON-able description for run metadata."""
        spec = {
            "name": self.name,
            "source": self.source,
            "features": {feature.name: feature.type for feature in self.features},
            "num_examples": {split: self.num_examples(split) for split in self.splits},
            "label_names": self.label_names,
            "split_protocol": self.split_protocol,
        }
        for feature in self.of_type("image"):
            spec.setdefault("image_shapes", {})[feature.name] = list(self.splits["train"][feature.name].shape[1:])
        if self.sample_rate is not None:
            spec["sample_rate"] = self.sample_rate
            spec["audio_seconds"] = self.audio_seconds
        if self.licence:
            spec["licence"] = self.licence
        return spec


def stratified_split(labels: np.ndarray, fractions: dict[str, float], seed: int) -> np.ndarray:
    """A split name per example: within every class, a seeded shuffle cut by ``fractions`` (summing to 1).

    Each class with at least as many examples as splits puts one in every
    split; the rest follow the fractions (rounded).
    """
    names = list(fractions)
    assignment = np.empty(len(labels), dtype=object)
    rng = np.random.default_rng(seed)
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        members = members[rng.permutation(len(members))]
        counts = [int(round(fractions[name] * len(members))) for name in names[1:]]
        if len(members) >= len(names):
            counts = [max(count, 1) for count in counts]
        counts = [len(members) - sum(counts), *counts]
        start = 0
        for name, count in zip(names, counts):
            assignment[members[start : start + count]] = name
            start += count
    return assignment

"""The dataset registry: ``--dataset`` specs register like models, each saying which fields it yields.

A spec is ``NAME`` (``embedded``, ``fashion_mnist``, ``av_digits``) or ``KIND:ARGUMENT``
(``tfds:mnist``, ``folder:PATH``, ``npz:PATH``, ``text:PATH``,
``manifest:PATH``). A model states the fields it needs (``("images",)``,
``("images", "labels")``, ``("corpus",)``, ``("image", "text")``);
:func:`load_dataset` picks the registered dataset of that name whose fields
cover them (``embedded`` is the Fashion-MNIST subset for an image generator,
the King James Version for a language model and the emoji set for a model of
paired images and texts), and a mismatch is one line naming both sides.
Image generators read ``images``/``labels`` arrays; paired datasets
(:class:`~genkit.data.paired_dataset.PairedDataset`) have typed features
named as their columns (``image``, ``text``, ``audio``, ``label``, ...).

A loader returns an object with ``name``, ``spec()`` (JSON for the run's
metadata) and ``in_memory`` (True: small data held in arrays, trained with
tf.data autotuning off; False: streamed from disk, autotuning on).
"""

from __future__ import annotations

import dataclasses
from typing import Callable

from genkit.errors import UserError


@dataclasses.dataclass(frozen=True)
class DatasetKind:
    """One registered dataset (``takes_argument``: a ``KIND:ARGUMENT`` spec, else a plain name)."""

    name: str
    fields: tuple[str, ...]
    loader: Callable
    description: str
    takes_argument: bool = False
    optional_fields: tuple[str, ...] = ()  # fields it yields when the data has them (labels of an .npz)
    argument_name: str = "PATH"  # how help texts name the argument of a KIND:ARGUMENT spec

    @property
    def usage(self) -> str:
        return f"{self.name}:{self.argument_name}" if self.takes_argument else self.name

    def yields(self) -> str:
        optional = [f"{field} (when present)" for field in self.optional_fields]
        return ", ".join([*self.fields, *optional])


_DATASETS: dict[str, list[DatasetKind]] = {}


def register_dataset(kind: DatasetKind) -> DatasetKind:
    """Adds ``kind``; one name may have several kinds that yield different fields (``embedded``)."""
    existing = _DATASETS.setdefault(kind.name, [])
    if any(set(other.fields) == set(kind.fields) for other in existing):
        raise ValueError(f"A dataset '{kind.name}' yielding {kind.fields} is already registered")
    existing.append(kind)
    return kind


# The modules whose import registers genkit's own datasets (found by name: they import this registry).
BUILTIN_DATASET_MODULES = (
    "genkit.data.loading", "genkit.data.text_corpus", "genkit.data.emoji", "genkit.data.av_digits", "genkit.data.manifest",
    "genkit.data.coco_captions",
)


def _load_builtin_datasets() -> None:
    import importlib

    for module in BUILTIN_DATASET_MODULES:
        importlib.import_module(module)


def registered_datasets() -> list[DatasetKind]:
    _load_builtin_datasets()
    return [kind for name in _DATASETS for kind in _DATASETS[name]]


def dataset_usage(needs: tuple[str, ...] | None = None) -> str:
    """The specs that yield ``needs`` (all specs without it), for help texts and errors."""
    kinds = [k for k in registered_datasets() if needs is None or set(needs) <= set(k.fields) | set(k.optional_fields)]
    return ", ".join(dict.fromkeys(kind.usage for kind in kinds))


def resolve_dataset(spec: str, needs: tuple[str, ...], consumer: str) -> tuple[DatasetKind, str | None]:
    """The registered kind of ``spec`` that yields ``needs``, and the spec's argument."""
    _load_builtin_datasets()
    name, separator, argument = spec.partition(":")
    if name not in _DATASETS and spec.endswith(".npz"):
        name, separator, argument = "npz", ":", spec
    kinds = _DATASETS.get(name)
    if not kinds or any(k.takes_argument != bool(separator) for k in kinds) or (separator and not argument):
        raise UserError(f"--dataset {spec}: unknown dataset; allowed: {dataset_usage(needs)}")
    for kind in kinds:
        if set(needs) <= set(kind.fields) | set(kind.optional_fields):
            return kind, argument or None
    yields = " or ".join(kind.yields() for kind in kinds)
    raise UserError(
        f"--dataset {spec}: yields {yields}, but {consumer} needs {', '.join(needs)}; "
        f"datasets that do: {dataset_usage(needs)}"
    )


def load_dataset(spec: str | None, needs: tuple[str, ...], consumer: str, data_dir=None, **options):
    """Loads ``spec`` (default ``embedded``) for a consumer (a model name) that needs the fields ``needs``.

    ``options`` go to the loader (``image_size``, ``channels`` for image
    folders; ``validation_fraction``, ``encoding_errors`` for text).
    """
    kind, argument = resolve_dataset(spec or "embedded", needs, consumer)
    data = kind.loader(argument, data_dir=data_dir, **options)
    if hasattr(data, "require"):  # a dataset whose fields are known only once read (a manifest's columns)
        data.require(needs, consumer)
    return data

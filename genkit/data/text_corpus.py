"""Text corpora by spec: ``embedded`` (the King James Version) or ``text:PATH`` (a UTF-8 file or a folder of .txt)."""

from __future__ import annotations

import dataclasses
import gzip
from pathlib import Path
from typing import Any

from genkit.data.dataset_registry import DatasetKind, load_dataset, register_dataset
from genkit.data.paths import user_path
from genkit.errors import UserError

EMBEDDED_TEXT = Path(__file__).parent / "embedded" / "kjv.txt.gz"
TEXT_SPECS = "embedded (the King James Version), text:PATH (a UTF-8 file or a folder of .txt files)"
ENCODING_ERRORS = ("strict", "replace")


@dataclasses.dataclass
class TextCorpus:
    """Documents of text, split into a training part and a held-out validation part (the last fraction).

    ``train_documents`` and ``validation_documents`` are lists of strings; a
    folder gives one document per file (sorted by name), a file one document.
    Models put their end-of-text token between documents.
    """

    name: str
    source: str
    train_documents: list[str]
    validation_documents: list[str]
    validation_fraction: float
    num_documents: int = 1
    train_ids: Any = None  # the training text as token ids, filled by the model that trains on it
    in_memory = True

    @property
    def train_characters(self) -> int:
        return sum(len(document) for document in self.train_documents)

    @property
    def validation_characters(self) -> int:
        return sum(len(document) for document in self.validation_documents)

    def spec(self) -> dict:
        return {
            "name": self.name,
            "source": self.source,
            "documents": self.num_documents,
            "train_characters": self.train_characters,
            "validation_characters": self.validation_characters,
            "validation_fraction": self.validation_fraction,
            **({"train_tokens": int(len(self.train_ids))} if self.train_ids is not None else {}),
        }


def _decode(data: bytes, path: Path, errors: str) -> str:
    try:
        return data.decode("utf-8", errors=errors)
    except UnicodeDecodeError as error:
        raise UserError(
            f"{path}: not UTF-8 text: byte 0x{data[error.start]:02x} at byte offset {error.start} is invalid "
            "(pass --set encoding_errors=replace to replace such bytes with U+FFFD)"
        ) from None


def _read_documents(spec: str, errors: str) -> tuple[list[tuple[Path, str]], str]:
    if spec == "embedded":
        with gzip.open(EMBEDDED_TEXT, "rb") as file:
            return [(EMBEDDED_TEXT, file.read().decode("utf-8"))], "King James Version (Debian bible-kjv 4.38)"
    kind, separator, location = spec.partition(":")
    if kind != "text" or not separator or not location:
        raise UserError(f"--dataset {spec}: text models take {TEXT_SPECS}")
    path = user_path(location)
    if path.is_dir():
        files = sorted(p for p in path.rglob("*.txt") if p.is_file())
        if not files:
            raise UserError(f"--dataset {spec}: the folder {path} holds no .txt files")
    elif path.is_file():
        files = [path]
    else:
        raise UserError(f"--dataset {spec}: no such file or folder")
    documents = []
    for file in files:
        try:
            data = file.read_bytes()
        except OSError as error:
            raise UserError(f"{file}: cannot read file ({error.strerror})") from None
        text = _decode(data, file, errors)
        if text:
            documents.append((file, text))
    if not documents:
        raise UserError(f"{files[0] if len(files) == 1 else path}: empty text (no characters to train on)")
    return documents, str(path)


def _split(documents: list[str], fraction: float) -> tuple[list[str], list[str]]:
    """The last ``fraction`` of the characters is validation; a split inside a document moves to a whitespace."""
    total = sum(len(d) for d in documents)
    wanted = int(round(total * fraction))
    if wanted == 0:
        return list(documents), []
    train, validation, remaining = list(documents), [], wanted
    while remaining > 0 and train:
        last = train.pop()
        if len(last) <= remaining:
            validation.insert(0, last)
            remaining -= len(last)
            continue
        cut = len(last) - remaining
        while 0 < cut < len(last) and not last[cut - 1].isspace():
            cut += 1
        if cut > 0:
            train.append(last[:cut])
        if cut < len(last):
            validation.insert(0, last[cut:])
        remaining = 0
    return train, validation


def load_text_corpus(spec: str | None, validation_fraction: float = 0.1, encoding_errors: str = "strict") -> TextCorpus:
    """Reads the corpus of ``spec`` (default ``embedded``) and holds out the last ``validation_fraction``."""
    return load_dataset(
        spec, ("corpus",), "a text model", validation_fraction=validation_fraction, encoding_errors=encoding_errors
    )


def _load(spec: str, validation_fraction: float = 0.1, encoding_errors: str = "strict") -> TextCorpus:
    if encoding_errors not in ENCODING_ERRORS:
        raise UserError(f"encoding_errors: must be one of {', '.join(ENCODING_ERRORS)}, got {encoding_errors!r}")
    documents, source = _read_documents(spec, encoding_errors)
    train, validation = _split([text for _, text in documents], validation_fraction)
    if not train:
        raise UserError(f"--dataset {spec}: nothing left to train on after holding out {validation_fraction} for validation")
    return TextCorpus(
        name=spec, source=source, train_documents=train, validation_documents=validation,
        validation_fraction=validation_fraction, num_documents=len(documents),
    )


register_dataset(DatasetKind(
    "embedded", ("corpus",), lambda _, data_dir=None, **options: _load("embedded", **options),
    "the King James Version inside genkit (Debian bible-kjv)",
))
register_dataset(DatasetKind(
    "text", ("corpus",), lambda path, data_dir=None, **options: _load(f"text:{path}", **options),
    "a UTF-8 text file, or a folder of .txt files (one document each)", takes_argument=True,
))

"""Hyper-parameters of models that draw an image from a description: the data fields and the text encoder."""

from __future__ import annotations

import dataclasses

from genkit.config import require
from genkit.tasks.paired_config import TEXT_ENCODERS, PairedDataConfig

# --set items that make the text encoder tiny (the shared test harness).
TINY_TEXT = ["embedding_dim=8", "text_units=8", "sentence_dim=8", "max_text_length=6"]


@dataclasses.dataclass
class TextConditioningConfig(PairedDataConfig):
    """The image and text features (``image_input``, ``text_input``) and how a description conditions a model.

    The text encoder embeds words (``embedding_dim``), reads them with a
    ``gru`` or ``lstm`` (``text_units``, unrolled over ``max_text_length``) or
    averages them (``mean``), and projects the result to a sentence embedding
    of ``sentence_dim``. Training pairs an image with its first reference
    (``text_reference: first``: the emoji's Unicode name) or with one of its
    references drawn per epoch (``random``: name, short name or keyword).
    ``sample_prompts`` are the descriptions of the sample grid and of
    ``genkit sample`` without ``--prompt``; empty means the first 16 of the
    validation split (else the test, else the training split).
    """

    image_input: str = "image"
    text_input: str = "text"
    text_encoder: str = "gru"
    embedding_dim: int = 64
    text_units: int = 128
    sentence_dim: int = 128
    text_reference: str = "random"
    sample_prompts: tuple[str, ...] = ()

    def validate(self, source: str) -> None:
        super().validate(source)
        require(
            self.text_encoder in TEXT_ENCODERS, source, "text_encoder",
            f"must be one of {', '.join(TEXT_ENCODERS)}", self.text_encoder,
        )
        for name in ("embedding_dim", "text_units", "sentence_dim"):
            require(getattr(self, name) >= 1, source, name, "must be >= 1", getattr(self, name))
        require(
            self.text_reference in ("first", "random"), source, "text_reference", "must be one of first, random",
            self.text_reference,
        )
        require(
            all(isinstance(p, str) and p.strip() for p in self.sample_prompts), source, "sample_prompts",
            "must be non-empty strings", self.sample_prompts,
        )

"""Hyper-parameters of the recurrent language models (char-lstm, word-lstm)."""

from __future__ import annotations

import dataclasses

from genkit.config import ModelConfig, require
from genkit.data.text_corpus import ENCODING_ERRORS
from genkit.training.learning_rate_schedule import SCHEDULES

CELLS = ("lstm", "gru")


@dataclasses.dataclass
class LanguageModelConfig(ModelConfig):
    """A token embedding, a stack of LSTM or GRU layers and a softmax over the vocabulary.

    Trained with teacher forcing: every window of ``sequence_length + 1``
    tokens predicts each token from the ones before it (a prediction at every
    position). ``dropout`` applies between layers (masks differ per replica),
    ``recurrent_dropout`` inside the recurrent cells. ``tie_embeddings`` uses
    the embedding matrix as the output projection (through a learned
    projection to ``embedding_dim`` when ``units`` differs).

    ``vocabulary`` is filled from the training text (the ``max_vocabulary``
    most frequent tokens; index 0 is the out-of-vocabulary token, index 1 the
    end-of-text token put between documents); ``lowercase`` lowercases text
    before tokenising. ``validation_fraction`` of the text (its end) is held
    out; ``encoding_errors: replace`` reads bytes that are not UTF-8 as U+FFFD
    instead of failing.

    Adam's ``learning_rate`` follows ``learning_rate_schedule`` (``constant``,
    or ``linear``/``cosine`` decay to 0 over the planned training: the
    requested epochs, or ``--time-limit`` when it ends first); ``clip_norm``
    clips the global gradient norm (0: no clipping).
    """

    level: str = "char"
    cell: str = "lstm"
    layers: int = 1
    units: int = 256
    embedding_dim: int = 64
    dropout: float = 0.0
    recurrent_dropout: float = 0.0
    tie_embeddings: bool = False
    sequence_length: int = 64
    max_vocabulary: int | None = None
    lowercase: bool = False
    validation_fraction: float = 0.1
    encoding_errors: str = "strict"
    learning_rate: float = 8e-3
    learning_rate_schedule: str = "linear"
    clip_norm: float = 1.0
    vocabulary: tuple[str, ...] | None = None

    def validate(self, source: str) -> None:
        require(self.level in ("char", "word"), source, "level", "must be one of char, word", self.level)
        require(self.cell in CELLS, source, "cell", f"must be one of {', '.join(CELLS)}", self.cell)
        require(self.layers >= 1, source, "layers", "must be >= 1", self.layers)
        require(self.units >= 1, source, "units", "must be >= 1", self.units)
        require(self.embedding_dim >= 1, source, "embedding_dim", "must be >= 1", self.embedding_dim)
        require(0 <= self.dropout < 1, source, "dropout", "must be in [0, 1)", self.dropout)
        require(0 <= self.recurrent_dropout < 1, source, "recurrent_dropout", "must be in [0, 1)", self.recurrent_dropout)
        require(self.sequence_length >= 1, source, "sequence_length", "must be >= 1", self.sequence_length)
        require(
            self.max_vocabulary is None or self.max_vocabulary >= 3, source, "max_vocabulary",
            "must be >= 3 (two reserved tokens and at least one more)", self.max_vocabulary,
        )
        require(
            0 <= self.validation_fraction < 1, source, "validation_fraction", "must be in [0, 1)",
            self.validation_fraction,
        )
        require(
            self.encoding_errors in ENCODING_ERRORS, source, "encoding_errors",
            f"must be one of {', '.join(ENCODING_ERRORS)}", self.encoding_errors,
        )
        require(self.learning_rate > 0, source, "learning_rate", "must be > 0", self.learning_rate)
        require(
            self.learning_rate_schedule in SCHEDULES, source, "learning_rate_schedule",
            f"must be one of {', '.join(SCHEDULES)}", self.learning_rate_schedule,
        )
        require(self.clip_norm >= 0, source, "clip_norm", "must be >= 0 (0: no clipping)", self.clip_norm)
        if self.vocabulary is not None:
            require(
                len(self.vocabulary) >= 3 and len(set(self.vocabulary)) == len(self.vocabulary), source,
                "vocabulary", "must list at least 3 distinct tokens", len(self.vocabulary),
            )

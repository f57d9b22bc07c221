"""Hyper-parameters of word-lstm."""

from __future__ import annotations

import dataclasses

from genkit.models.language_model.language_model_config import LanguageModelConfig


@dataclasses.dataclass
class WordLSTMConfig(LanguageModelConfig):
    """Word-level defaults: lowercased words and punctuation, 8,000-token vocabulary, tied embeddings."""

    level: str = "word"
    units: int = 256
    embedding_dim: int = 128
    tie_embeddings: bool = True
    sequence_length: int = 48
    max_vocabulary: int | None = 8000
    lowercase: bool = True
    learning_rate: float = 3e-3

"""word-lstm: a word-level recurrent language model."""

from __future__ import annotations

from genkit.models.language_model.recurrent_language_model import RecurrentLanguageModel
from genkit.models.language_model.word_lstm_config import WordLSTMConfig
from genkit.registry import register_model


@register_model(
    "word-lstm",
    config=WordLSTMConfig,
    family="language_model",
    description="Word-level LSTM/GRU language model (lowercased words and punctuation), tied embeddings",
    train_defaults={"epochs": 2, "batch_size": 64},
    tiny_overrides=["units=16", "embedding_dim=8", "sequence_length=8", "max_vocabulary=200", "layers=2", "cell=gru"],
)
class WordLSTM(RecurrentLanguageModel):
    """A :class:`RecurrentLanguageModel` over words and punctuation marks."""

    default_length = 50

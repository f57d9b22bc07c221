"""char-lstm: a character-level recurrent language model."""

from __future__ import annotations

from genkit.models.language_model.char_lstm_config import CharLSTMConfig
from genkit.models.language_model.recurrent_language_model import RecurrentLanguageModel
from genkit.registry import register_model


@register_model(
    "char-lstm",
    config=CharLSTMConfig,
    family="language_model",
    description="Character-level LSTM/GRU language model, teacher-forced at every position",
    train_defaults={"epochs": 2, "batch_size": 64},
    tiny_overrides=["units=16", "embedding_dim=8", "sequence_length=16", "dropout=0.1"],
)
class CharLSTM(RecurrentLanguageModel):
    """A :class:`RecurrentLanguageModel` over characters (Unicode code points)."""

    default_length = 200

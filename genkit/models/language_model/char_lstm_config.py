"""Hyper-parameters of char-lstm."""

from __future__ import annotations

import dataclasses

from genkit.models.language_model.language_model_config import LanguageModelConfig


@dataclasses.dataclass
class CharLSTMConfig(LanguageModelConfig):
    """Character-level defaults: CPU-sized, one LSTM(256) over 64-character windows, Adam 8e-3 decayed linearly to 0."""

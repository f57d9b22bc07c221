"""The command-line options of decoding, one object each for every model that writes tokens (``genkit sample``
builds one flag per name, so the language models and the captioner must share them)."""

from __future__ import annotations

from genkit.options import Option, non_negative_float, number, positive_int, probability, whole_number

MAX_BEAM_WIDTH = 64

TEMPERATURE_OPTION = Option("temperature", "text models: 0 is greedy", non_negative_float, "T")
TOP_K_OPTION = Option("top_k", "text models: sample from the K likeliest", positive_int, "K")
TOP_P_OPTION = Option("top_p", "text models: nucleus sampling, cumulative probability P", probability, "P")
BEAM_WIDTH_OPTION = Option(
    "beam_width", "text models: beams of the search (1 is greedy; captioners default to the model's)",
    whole_number(1, MAX_BEAM_WIDTH), "K",
)
LENGTH_PENALTY_OPTION = Option("length_penalty", "text models: alpha of the beams' length normalisation", number(0.0, 5.0), "A")

"""Hyper-parameters of the image captioner."""

from __future__ import annotations

import dataclasses

from genkit.config import require
from genkit.tasks.paired_config import PairedModelConfig

CELLS = ("lstm", "gru")
TEXT_REFERENCES = ("first", "random")


@dataclasses.dataclass
class CaptionerConfig(PairedModelConfig):
    """A CNN encoder keeping a grid of features and a recurrent decoder with visual attention over it.

    Show, Attend and Tell (Xu et al. 2015): the image encoder (``image_filters``
    stages of a conv net, or ``image_backbone``; the inherited encoder fields)
    gives one ``width``-wide feature per grid cell; the decoder embeds the
    previous word (``embedding_dim``), attends over the cells with additive
    attention (``attention_units``; a sigmoid gate scales the context, as in the
    paper), and runs an ``lstm`` or ``gru`` ``cell`` of ``units`` whose initial
    state comes from the mean feature. ``attention: false`` is Show and Tell:
    the context is the mean feature at every step. Training is teacher-forced
    on captions of at most ``max_text_length`` words: an example's first
    reference (``text_reference: first``; the emoji's Unicode name, the other
    references -- CLDR short name, keywords -- count in evaluation only), or
    one of its references drawn per epoch (``random``); ``attention_regularization`` weights Xu et al.'s doubly
    stochastic penalty, which pushes every cell to receive a total attention
    of about 1 over the caption; ``label_smoothing`` spreads that share of each
    target word's probability over the vocabulary (Szegedy et al. 2016). ``beam_width`` and ``length_penalty`` (the
    exponent alpha of Wu et al. 2016's ((5 + length) / 6) ** alpha) are the
    defaults of ``serving_default``, ``genkit sample`` and ``genkit evaluate``.
    """

    image_input: str = "image"
    text_input: str = "text"
    image_filters: tuple[int, ...] = (32, 64, 128)
    width: int = 64
    embedding_dim: int = 64
    cell: str = "lstm"
    units: int = 128
    attention: bool = True
    attention_units: int = 128
    attention_regularization: float = 1.0
    dropout: float = 0.5
    text_reference: str = "first"
    beam_width: int = 3
    length_penalty: float = 0.0
    label_smoothing: float = 0.1
    max_vocabulary: int = 5000

    def validate(self, source: str) -> None:
        super().validate(source)
        require(self.cell in CELLS, source, "cell", f"must be one of {', '.join(CELLS)}", self.cell)
        require(self.units >= 1, source, "units", "must be >= 1", self.units)
        require(self.attention_units >= 1, source, "attention_units", "must be >= 1", self.attention_units)
        require(
            self.attention_regularization >= 0, source, "attention_regularization", "must be >= 0",
            self.attention_regularization,
        )
        require(
            self.text_reference in TEXT_REFERENCES, source, "text_reference",
            f"must be one of {', '.join(TEXT_REFERENCES)}", self.text_reference,
        )
        require(1 <= self.beam_width <= 64, source, "beam_width", "must be in [1, 64]", self.beam_width)
        require(0 <= self.length_penalty <= 5, source, "length_penalty", "must be in [0, 5]", self.length_penalty)
        require(0 <= self.label_smoothing < 1, source, "label_smoothing", "must be in [0, 1)", self.label_smoothing)

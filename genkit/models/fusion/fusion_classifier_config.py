"""Hyper-parameters of the fusion classifier."""

from __future__ import annotations

import dataclasses

from genkit.config import require
from genkit.layers.modality_fusion import FUSION_LAYERS
from genkit.tasks.paired_config import PairedModelConfig

FUSIONS = (*FUSION_LAYERS, "late")
# The fusions that learn each input's share (a weight per input and example); the others add or concatenate.
WEIGHTED_FUSIONS = ("weighted", "gated", "attention")


@dataclasses.dataclass
class FusionClassifierConfig(PairedModelConfig):
    """One encoder per input modality, a fusion layer, and a softmax over the classes of ``target``.

    ``fusion``: ``concat``, ``weighted`` (learned softmax weights per
    modality), ``gated`` (gated multimodal unit), ``attention`` (a learned
    query over modality tokens), ``low-rank`` (low-rank tensor fusion of
    ``rank``), or ``late`` (the average of one classifier per modality).
    ``modality_dropout``: during training each modality of each example is
    dropped with this probability (at least one is kept), so the model copes
    with a missing modality at inference. ``unimodal_loss_weight``: each
    input also gets a classifier of its own embedding, whose cross-entropy
    (over the present inputs) is added with this weight, so no branch stops
    learning once another fits the training set (Wang et al. 2020 found
    multimodal networks overfit sooner than unimodal ones and mended it with
    per-modality losses); it has no effect on ``late`` fusion, whose
    classifiers are per-modality already. ``class_names`` come from the data.
    """

    target: str = "label"
    fusion: str = "weighted"
    modality_dropout: float = 0.2
    unimodal_loss_weight: float = 1.0
    rank: int = 4
    attention_heads: int = 2
    class_names: tuple[str, ...] | None = None

    def validate(self, source: str) -> None:
        super().validate(source)
        require(self.fusion in FUSIONS, source, "fusion", f"must be one of {', '.join(FUSIONS)}", self.fusion)
        require(0 <= self.modality_dropout < 1, source, "modality_dropout", "must be in [0, 1)", self.modality_dropout)
        require(self.unimodal_loss_weight >= 0, source, "unimodal_loss_weight", "must be >= 0", self.unimodal_loss_weight)
        require(self.rank >= 1, source, "rank", "must be >= 1", self.rank)
        require(self.attention_heads >= 1, source, "attention_heads", "must be >= 1", self.attention_heads)
        require(
            self.class_names is None or len(self.class_names) >= 2, source, "class_names",
            "must name at least 2 classes", self.class_names,
        )

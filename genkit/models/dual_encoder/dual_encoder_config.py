"""Hyper-parameters of the contrastive image-text dual encoder."""

from __future__ import annotations

import dataclasses

from genkit.config import require
from genkit.tasks.paired_config import PairedModelConfig

TEXT_REFERENCES = ("first", "random")


@dataclasses.dataclass
class DualEncoderConfig(PairedModelConfig):
    """An image encoder and a text encoder mapping into one ``width``-dimensional space (unit vectors).

    Trained with the symmetric InfoNCE loss of CLIP: in a batch, each image
    should pick its own text among all the batch's texts and each text its
    own image, at a learned temperature (starting at ``initial_temperature``,
    kept above 0.01). ``image_input`` and ``text_input`` name the features;
    ``text_reference: random`` trains each epoch on one of an example's
    references drawn at random (its name, short name or a keyword for the
    emoji), ``first`` on the first only. Under several replicas the
    negatives are the whole global batch (embeddings gathered across replicas).
    """

    image_input: str = "image"
    text_input: str = "text"
    text_reference: str = "random"
    initial_temperature: float = 0.07

    def validate(self, source: str) -> None:
        super().validate(source)
        require(
            self.text_reference in TEXT_REFERENCES, source, "text_reference",
            f"must be one of {', '.join(TEXT_REFERENCES)}", self.text_reference,
        )
        require(
            0.01 <= self.initial_temperature <= 1, source, "initial_temperature", "must be in [0.01, 1]",
            self.initial_temperature,
        )

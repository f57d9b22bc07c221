"""How well a text describes an image, from a dual encoder: the shipped emoji one or a trained run's.

The shipped scorer is a ``dual-encoder`` run trained once on the ``embedded``
emoji training split (``weights/emoji_dual_encoder.keras``, its card
``weights/emoji_dual_encoder.json`` with the command and its retrieval recall
on the test split). R-precision measured with it is genkit's dual encoder,
not AttnGAN's DAMSM: the protocol is AttnGAN's, the encoder is this one.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np

from genkit.errors import UserError
from genkit.evaluation.feature_classifier import WEIGHTS_DIR

SHIPPED_DUAL_ENCODER = WEIGHTS_DIR / "emoji_dual_encoder.keras"
SHIPPED_CARD = WEIGHTS_DIR / "emoji_dual_encoder.json"
BATCH = 256


class TextImageScorer:
    """Unit embeddings of images and texts from a ``dual-encoder`` model (its ``embed_images``/``embed_texts``).

    ``source``: a dual-encoder run folder, or None for the shipped emoji
    scorer. Images of another size than the encoder's are resized to it.
    """

    def __init__(self, source: str | Path | None = None):
        import keras

        from genkit.registry import get_model_entry

        path = SHIPPED_DUAL_ENCODER if source is None else Path(source)
        if path.is_dir():
            metadata = path / "genkit.json"
            try:
                model_name = json.loads(metadata.read_text(encoding="utf-8"))["model"]
            except (OSError, ValueError, KeyError) as error:
                raise UserError(f"--dual-encoder {source}: not a genkit run folder ({error})") from None
            if model_name != "dual-encoder":
                raise UserError(f"--dual-encoder {source}: is a '{model_name}' run; R-precision needs a dual-encoder run")
            path = path / "model.keras"
        get_model_entry("dual-encoder")  # registers every family's classes for loading
        try:
            self.model = keras.saving.load_model(path)
        except (OSError, ValueError, TypeError, KeyError, AttributeError, EOFError, zipfile.BadZipFile) as error:
            raise UserError(f"{path}: cannot load the dual encoder ({type(error).__name__}: {str(error)[:200]})") from None
        self.source = "shipped emoji dual encoder" if source is None else str(source)
        self.card = json.loads(SHIPPED_CARD.read_text(encoding="utf-8")) if source is None and SHIPPED_CARD.is_file() else {}
        endpoints = self.model.endpoints()
        self._embed_images = endpoints["embed_images"].call
        self._embed_texts = endpoints["embed_texts"].call
        self.image_shape = tuple(endpoints["embed_images"].inputs[0].shape)
        self._image_name = endpoints["embed_images"].input_names[0]
        self._text_name = endpoints["embed_texts"].input_names[0]

    def embed_images(self, images) -> np.ndarray:
        """Unit vectors [N, width] of float32 images [N, H, W, C] in [0, 1]."""
        import tensorflow as tf

        images = np.asarray(images, np.float32)
        if images.shape[-1] != self.image_shape[-1]:
            raise UserError(f"--dual-encoder {self.source}: takes {self.image_shape[-1]}-channel images, got {images.shape[-1]}")
        if tuple(images.shape[1:3]) != self.image_shape[:2]:
            images = tf.image.resize(images, self.image_shape[:2], method="area").numpy()
        parts = [self._embed_images({self._image_name: images[i : i + BATCH]})["image_embeddings"] for i in range(0, len(images), BATCH)]
        return np.concatenate([np.asarray(p) for p in parts]).astype(np.float32)

    def embed_texts(self, texts) -> np.ndarray:
        """Unit vectors [N, width] of strings."""
        texts = np.asarray(list(texts), dtype=object)
        parts = [self._embed_texts({self._text_name: texts[i : i + BATCH]})["text_embeddings"] for i in range(0, len(texts), BATCH)]
        return np.concatenate([np.asarray(p) for p in parts]).astype(np.float32)


_SHIPPED: list[TextImageScorer] = []


def load_text_image_scorer(source: str | Path | None = None) -> TextImageScorer:
    """The scorer of ``source`` (a dual-encoder run folder), or the shipped emoji one (loaded once)."""
    if source is not None:
        return TextImageScorer(source)
    if not _SHIPPED:
        _SHIPPED.append(TextImageScorer())
    return _SHIPPED[0]

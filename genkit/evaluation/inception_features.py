"""InceptionV3 pool3 features (``--features inception``), with ImageNet weights the user already has.

Images are resized to 299x299 (bilinear), greyscale is repeated to RGB,
and pixels are scaled to [-1, 1] as InceptionV3 expects; the features are
the 2048 global-average-pooled activations of the last block ("pool3").

The weights are Keras' ``inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5``,
which ``keras.applications.InceptionV3(weights="imagenet", include_top=False)``
downloads into ``$KERAS_HOME/models/`` (default ``~/.keras/models/``). genkit
never downloads them: it looks there (and in ``/tmp/.keras/models/``, Keras'
fallback) or at ``$GENKIT_INCEPTION_WEIGHTS``, and says what is missing.
Note: this is Keras' InceptionV3, not the TF1 graph of the original FID
code, so values are comparable with each other, not with published FIDs.
"""

from __future__ import annotations

import os
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from genkit.errors import UserError
from genkit.evaluation.feature_extractor import FeatureExtractor

WEIGHTS_FILE = "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5"
WEIGHTS_ENVIRONMENT_VARIABLE = "GENKIT_INCEPTION_WEIGHTS"
INPUT_SIZE = 299


def inception_weights_candidates() -> list[Path]:
    """Where the ImageNet weights are looked for, in order."""
    candidates = []
    if os.environ.get(WEIGHTS_ENVIRONMENT_VARIABLE):
        candidates.append(Path(os.environ[WEIGHTS_ENVIRONMENT_VARIABLE]).expanduser())
    # Keras' cache: $KERAS_HOME, else ~/.keras (else /tmp/.keras when the home folder is read-only).
    keras_home = Path(os.environ["KERAS_HOME"]) if os.environ.get("KERAS_HOME") else Path.home() / ".keras"
    candidates.append(keras_home / "models" / WEIGHTS_FILE)
    candidates.append(Path("/tmp/.keras/models") / WEIGHTS_FILE)
    return candidates


def find_inception_weights() -> Path:
    candidates = inception_weights_candidates()
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise UserError(
        f"--features inception: the InceptionV3 ImageNet weights file {WEIGHTS_FILE} was not found (looked in "
        + ", ".join(str(c.parent) for c in candidates)
        + "); genkit does not download it: run keras.applications.InceptionV3(weights='imagenet', "
        f"include_top=False) once with internet, or set {WEIGHTS_ENVIRONMENT_VARIABLE} to the file"
    )


class InceptionFeatures(FeatureExtractor):
    """2048 pool3 features of Keras' InceptionV3.

    Args:
        weights: "imagenet" (find the user's file, else a UserError), a path
            to a weights file, or None (random weights: for tests only).
        batch_size: images per traced call.
    """

    name = "inception"
    feature_dim = 2048

    def __init__(self, weights="imagenet", batch_size: int = 50):
        if weights == "imagenet":
            weights = find_inception_weights()
        backbone = keras.applications.InceptionV3(
            include_top=False, weights=None, input_shape=(INPUT_SIZE, INPUT_SIZE, 3), pooling="avg"
        )
        if weights is not None:
            try:
                backbone.load_weights(str(weights))
            except (OSError, ValueError) as error:
                raise UserError(f"--features inception: cannot load the weights {weights} ({error})") from None
        self.weights = str(weights) if weights is not None else None

        def extract(images):
            images = tf.image.resize(images, [INPUT_SIZE, INPUT_SIZE], method="bilinear")
            images = tf.tile(images, [1, 1, 1, 3 // tf.shape(images)[-1]])  # grey -> RGB; RGB unchanged
            images = tf.ensure_shape(images, [None, INPUT_SIZE, INPUT_SIZE, 3])
            return {"features": backbone(images * 2.0 - 1.0, training=False)}

        signature = [tf.TensorSpec([None, None, None, None], tf.float32, name="images")]
        super().__init__(tf.function(extract, input_signature=signature), batch_size)
        self._backbone = backbone

    def check_images(self, images) -> np.ndarray:
        images = super().check_images(images)
        if images.shape[-1] == 4:
            images = images[..., :3]  # RGBA: drop alpha
        if images.shape[-1] not in (1, 3):
            raise UserError(f"--features inception: images need 1 or 3 channels, got {images.shape[-1]}")
        return images

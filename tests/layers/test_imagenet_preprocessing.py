"""ImageNetPreprocessing: each mode gives what keras.applications' own preprocess_input gives on 0..255 pixels."""

import keras
import numpy as np
import pytest

from genkit.layers.imagenet_preprocessing import MODES, ImageNetPreprocessing

KERAS_PREPROCESSING = {
    "tf": keras.applications.mobilenet_v2.preprocess_input,
    "torch": keras.applications.densenet.preprocess_input,
    "caffe": keras.applications.resnet50.preprocess_input,
    "raw": keras.applications.efficientnet.preprocess_input,  # a pass-through: the model scales itself
}


@pytest.mark.parametrize("mode", MODES)
def test_each_mode_equals_keras_applications_preprocess_input(mode):
    images = np.random.default_rng(0).uniform(size=(2, 5, 4, 3)).astype(np.float32)
    expected = KERAS_PREPROCESSING[mode](images * 255.0)
    layer = ImageNetPreprocessing(mode)
    np.testing.assert_allclose(np.asarray(layer(images)), expected, rtol=1e-5, atol=1e-4)
    assert ImageNetPreprocessing.from_config(layer.get_config()).mode == mode


def test_an_unknown_mode_names_the_allowed_ones():
    with pytest.raises(ValueError, match="mode must be one of tf, torch, caffe, raw. Received: mode='imagenet'"):
        ImageNetPreprocessing("imagenet")

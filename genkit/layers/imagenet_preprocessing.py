"""The input scaling a keras.applications backbone was trained with, as a serialisable layer."""

from __future__ import annotations

import keras
from keras import ops

# keras.applications' preprocess_input modes; "raw": the backbone scales its input itself (0..255 in).
MODES = ("tf", "torch", "caffe", "raw")
_CAFFE_BGR_MEAN = (103.939, 116.779, 123.68)
_TORCH_MEAN = (0.485, 0.456, 0.406)
_TORCH_STD = (0.229, 0.224, 0.225)


@keras.saving.register_keras_serializable(package="genkit")
class ImageNetPreprocessing(keras.layers.Layer):
    """RGB images in [0, 1] to what a keras.applications backbone expects.

    The modes are those of ``keras.applications.imagenet_utils.preprocess_input``
    (which works on arrays, not inside a saved functional model):

    - ``tf``: scaled to [-1, 1] (MobileNet, MobileNetV2, ResNetV2, Xception, Inception);
    - ``torch``: ImageNet mean and standard deviation per channel (DenseNet);
    - ``caffe``: 0..255, RGB to BGR, ImageNet BGR mean subtracted (ResNet, VGG);
    - ``raw``: 0..255 (MobileNetV3, EfficientNet, EfficientNetV2, ConvNeXt scale inside the model).
    """

    def __init__(self, mode="tf", **kwargs):
        super().__init__(**kwargs)
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}. Received: mode={mode!r}")
        self.mode = mode

    def call(self, images):
        if self.mode == "tf":
            return images * 2.0 - 1.0
        if self.mode == "torch":
            return (images - ops.convert_to_tensor(_TORCH_MEAN, images.dtype)) / ops.convert_to_tensor(_TORCH_STD, images.dtype)
        pixels = images * 255.0
        if self.mode == "caffe":
            return ops.flip(pixels, axis=-1) - ops.convert_to_tensor(_CAFFE_BGR_MEAN, images.dtype)
        return pixels

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}

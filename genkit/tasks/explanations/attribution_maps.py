"""The maps of what a network's score depends on: saliency (vanilla and SmoothGrad), Grad-CAM, Grad-CAM++ and
Score-CAM (tf-keras-vis's own), and gradients at a layer inside a nested sub-network (which tf-keras-vis cannot
reach). Every map is float32 in [0, 1]."""

from __future__ import annotations

import contextlib
import warnings
from typing import Callable

import keras
import numpy as np

from genkit.tasks.explanations.methods import ExplanationSkipped

CAM_METHODS = ("gradcam", "gradcam++", "scorecam")


@contextlib.contextmanager
def _quiet_keras():
    """Quiets what tf-keras-vis makes Keras and TensorFlow print: Score-CAM's ``model.predict`` progress bar, Keras 3's
    warning for a list given to a one-input network, TensorFlow's for the class ids a gradient tape watches."""
    import tensorflow as tf

    interactive = keras.config.is_interactive_logging_enabled()
    keras.config.disable_interactive_logging()
    level = tf.get_logger().level
    tf.get_logger().setLevel("ERROR")  # "the dtype of the watched tensor must be floating": the class ids, on purpose
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="The structure of `inputs` doesn't match", category=UserWarning)
            yield
    finally:
        tf.get_logger().setLevel(level)
        if interactive:
            keras.config.enable_interactive_logging()


def saliency_maps(network: keras.Model, score: Callable, inputs, smooth_samples: int = 0, keepdims: bool = False) -> np.ndarray:
    """|d score / d image| per pixel (tf-keras-vis ``Saliency``; SmoothGrad with ``smooth_samples`` > 0),
    float32 [N, H, W] in [0, 1] (the channels reduced; with ``keepdims`` none: [N, ...] of the input's shape, for
    a spectrogram [N, frames, mel bins]). ``inputs``: the images, or ``[images, class ids]`` (the ids stay fixed)."""
    from tf_keras_vis.saliency import Saliency
    import tensorflow as tf

    if isinstance(inputs, (list, tuple)):
        network, inputs = with_fixed_second_input(network, inputs[1]), inputs[0]

    with _quiet_keras():
        maps = Saliency(network, clone=False)(
            score, inputs, smooth_samples=smooth_samples, smooth_noise=0.2, keepdims=keepdims,
            unconnected_gradients=tf.UnconnectedGradients.ZERO,
        )
    return np.asarray(maps[0] if isinstance(maps, list) else maps, np.float32)


class _FixedValues(keras.layers.Layer):
    """Gives the same values whatever it is called on: the class ids beside the images of one explained batch."""

    def __init__(self, values, **kwargs):
        super().__init__(**kwargs)
        self.values = np.asarray(values)

    def call(self, images):
        return keras.ops.convert_to_tensor(self.values)


def with_fixed_second_input(network: keras.Model, values) -> keras.Model:
    """``images -> network([images, values])``: a one-input network for saliency, whose SmoothGrad would otherwise
    add its noise to class ids too."""
    images = keras.Input(shape=network.inputs[0].shape[1:], name="images")
    return keras.Model(images, network([images, _FixedValues(values, name="fixed_values")(images)]))


def with_fixed_inputs(network: keras.Model, varied: str, values: dict, output: str) -> keras.Model:
    """``x -> network({varied: x, every other input: its value in values})[output]``: a one-input functional network of
    a multi-input one (a fusion of image, text and audio), for tf-keras-vis's saliency of one input."""
    varied_input = keras.Input(shape=tuple(values[varied].shape[1:]), name=varied)
    fixed = {name: _FixedValues(np.asarray(value), name=f"fixed_{name}")(varied_input)
             for name, value in values.items() if name != varied}
    return keras.Model(varied_input, network({varied: varied_input, **fixed})[output])


@contextlib.contextmanager
def recorded_outputs(layer: keras.layers.Layer, tape):
    """Within the block, each (eager) call of ``layer`` appends its output to the yielded list, watched by ``tape``:
    gradients at a layer inside a nested sub-network (a fusion's image encoder), which tf-keras-vis cannot reach
    (it builds a model from the explained network's own layers)."""
    outputs = []
    original = layer.call

    def call(*args, **kwargs):
        result = original(*args, **kwargs)
        tape.watch(result)
        outputs.append(result)
        return result

    layer.call = call
    try:
        yield outputs
    finally:
        del layer.call  # the class's own method again


def gradcam_from(activations, gradients, size) -> np.ndarray:
    """Grad-CAM (Selvaraju et al. 2017) from a feature map [N, h, w, c] and the score's gradient at it: ReLU of the
    channels weighted by their mean gradient, resized to ``size`` (H, W) bilinearly, scaled to [0, 1] per map."""
    import tensorflow as tf

    weights = tf.reduce_mean(gradients, axis=(1, 2), keepdims=True)
    maps = tf.nn.relu(tf.reduce_sum(weights * activations, axis=-1))
    maps = tf.image.resize(maps[..., None], size, method="bilinear").numpy()[..., 0]
    return normalized(maps.reshape(len(maps), -1)).reshape(maps.shape)


def class_activation_maps(network: keras.Model, score: Callable, inputs, method: str, layer: str) -> np.ndarray:
    """A class activation map of ``layer``'s activations for ``score``, upsampled to the images, float32 [N, H, W]
    in [0, 1]: ``method`` is ``gradcam``, ``gradcam++`` or ``scorecam`` (tf-keras-vis's classes)."""
    from tf_keras_vis.gradcam import Gradcam
    from tf_keras_vis.gradcam_plus_plus import GradcamPlusPlus
    from tf_keras_vis.scorecam import Scorecam
    import tensorflow as tf

    classes = {"gradcam": Gradcam, "gradcam++": GradcamPlusPlus, "scorecam": Scorecam}
    options = {"max_N": 16} if method == "scorecam" else {}
    with _quiet_keras():
        # seek_penultimate_conv_layer off: the layer is chosen here (spectrally normalised convolutions are wrappers,
        # not Conv layers, which tf-keras-vis's own search looks for).
        # expand_cam off: tf-keras-vis would resize the map to every input's shape, class ids included.
        maps = classes[method](network, clone=False)(
            score, inputs, penultimate_layer=layer, seek_penultimate_conv_layer=False, expand_cam=False, **options,
        )
    images = inputs[0] if isinstance(inputs, (list, tuple)) else inputs
    maps = np.nan_to_num(np.asarray(maps[0] if isinstance(maps, list) else maps, np.float32))
    maps = tf.image.resize(maps[..., None], images.shape[1:3], method="bilinear").numpy()[..., 0]
    return normalized(maps.reshape(len(maps), -1)).reshape(maps.shape)


def last_layer_with_spatial_output(network: keras.Model) -> str:
    """The name of the last layer whose output is a feature map [N, h, w, c] (where a CAM is taken)."""
    for layer in reversed(network.layers):
        shape = getattr(layer, "output", None)
        shape = getattr(shape, "shape", None)
        if shape is not None and len(shape) == 4 and not isinstance(layer, keras.layers.InputLayer):
            return layer.name
    raise ExplanationSkipped(f"{network.name} has no layer with a spatial output to take a class activation map of")


def normalized(values: np.ndarray) -> np.ndarray:
    """``values`` scaled to [0, 1] per row (a constant row becomes zeros)."""
    values = np.asarray(values, np.float32)
    low = values.min(axis=-1, keepdims=True)
    span = values.max(axis=-1, keepdims=True) - low
    return np.where(span > 0, (values - low) / np.maximum(span, 1e-12), 0.0)


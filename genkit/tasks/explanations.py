"""What ``genkit explain`` is made of: a family's explanation methods, the tf-keras-vis maps they use, and figures.

A family declares what can be explained by overriding
:meth:`~genkit.tasks.generative_task.GenerativeTask.explanation_methods`
(each capability adds its own and calls ``super()``); each method makes
:class:`Figure`\\ s (PNG bytes with a title and a description) or raises
:class:`ExplanationSkipped` with the reason it does not apply to this model.

Saliency (vanilla and SmoothGrad), Grad-CAM, Grad-CAM++ and Score-CAM are
tf-keras-vis's own (0.8.7 runs on Keras 3 functional networks: a family
explains its functional sub-networks — a discriminator, the shipped
classifier — not the subclassed task).
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import warnings
from typing import Callable

import keras
import numpy as np

CAM_METHODS = ("gradcam", "gradcam++", "scorecam")


class ExplanationSkipped(Exception):
    """An explanation method that does not apply to this model (or its data); the message says why."""


@dataclasses.dataclass
class Figure:
    """One written figure: ``name`` is its file stem, ``png`` its bytes, ``arrays`` the values drawn (heat maps
    [N, H, W] in [0, 1], the images under them, ...), written beside it as ``<name>.npz`` for plotting anew."""

    name: str
    title: str
    method: str
    description: str
    png: bytes
    arrays: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class ExplanationMethod:
    """A way of explaining a model: ``make(data, num_samples, seed) -> [Figure]``.

    ``data`` is what ``genkit evaluate`` would compare against (the run's test
    split), or None when ``needs_data`` is false.
    """

    name: str
    description: str
    make: Callable
    needs_data: bool = True


# -- tf-keras-vis ----------------------------------------------------------------------------------


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


def shipped_classifier(image_shape):
    """The shipped feature classifier that scores images of ``image_shape``: (extractor, its name).

    Grey 28x28 images: the Fashion-MNIST classifier; RGB images: the emoji classifier (32x32; other sizes
    are resized for it by :func:`classifier_images`).
    """
    from genkit.evaluation import load_feature_extractor

    height, width, channels = image_shape
    if channels == 1 and (height, width) == (28, 28):
        name = "fashion_mnist"
    elif channels == 3:
        name = "emoji"
    else:
        raise ExplanationSkipped(
            f"no shipped classifier takes {list(image_shape)} images (fashion_mnist: [28, 28, 1]; emoji: RGB)"
        )
    return load_feature_extractor(name), name


def classifier_images(extractor, images: np.ndarray) -> np.ndarray:
    """``images`` [N, H, W, C] in [0, 1] at the classifier's own size (area resizing, as its metrics do)."""
    import tensorflow as tf

    height, width, _ = extractor.image_shape
    if images.shape[1:3] == (height, width):
        return images.astype(np.float32)
    return tf.image.resize(images, [height, width], method="area").numpy().astype(np.float32)


def class_name(names, index: int) -> str:
    return str(names[index]) if names is not None and 0 <= index < len(names) else str(index)


# -- figures ---------------------------------------------------------------------------------------


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as pyplot

    return pyplot


def _png(figure) -> bytes:
    pyplot = _pyplot()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, metadata={"Software": None})
    pyplot.close(figure)
    return buffer.getvalue()


def _show(axis, image: np.ndarray) -> None:
    image = np.clip(np.asarray(image, np.float32), 0.0, 1.0)
    if image.shape[-1] == 1:
        axis.imshow(image[..., 0], cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
    else:
        axis.imshow(image, interpolation="nearest")


def maps_figure(title: str, images: np.ndarray, rows: list[tuple[str, np.ndarray]], captions=None) -> bytes:
    """PNG: the images in the first row, then one row per ``(label, maps [N, H, W])`` laid over them (jet)."""
    pyplot = _pyplot()
    count = len(images)
    figure, axes = pyplot.subplots(
        1 + len(rows), count, figsize=(1.25 * count + 1.2, 1.3 * (1 + len(rows)) + 0.5), squeeze=False,
    )
    for column in range(count):
        _show(axes[0, column], images[column])
        if captions is not None:
            axes[0, column].set_title(str(captions[column])[:18], fontsize=6)
        for row, (_, maps) in enumerate(rows, start=1):
            _show(axes[row, column], images[column])
            axes[row, column].imshow(maps[column], cmap="jet", alpha=0.5, vmin=0.0, vmax=1.0,
                                     extent=(-0.5, images.shape[2] - 0.5, images.shape[1] - 0.5, -0.5))
    for row, label in enumerate(["image", *[label for label, _ in rows]]):
        axes[row, 0].set_ylabel(label, fontsize=7)
    for axis in axes.flat:
        axis.set_xticks([])
        axis.set_yticks([])
    figure.suptitle(title, fontsize=9)
    figure.tight_layout()
    return _png(figure)


def image_table_figure(title: str, images: np.ndarray, row_labels, column_labels=None, cell_titles=None) -> bytes:
    """PNG: images [rows, columns, H, W, C] as a table with a label per row (and per column, or ``cell_titles``
    [rows][columns] per cell; an empty title leaves its cell blank)."""
    pyplot = _pyplot()
    rows, columns = images.shape[:2]
    figure, axes = pyplot.subplots(rows, columns, figsize=(0.9 * columns + 1.6, 0.9 * rows + 0.6), squeeze=False)
    for row in range(rows):
        for column in range(columns):
            axis = axes[row, column]
            axis.set_xticks([])
            axis.set_yticks([])
            if cell_titles is not None:
                if not cell_titles[row][column]:
                    axis.axis("off")
                    continue
                axis.set_title(str(cell_titles[row][column])[:16], fontsize=6)
            _show(axis, images[row, column])
            if row == 0 and column_labels is not None:
                axis.set_title(str(column_labels[column]), fontsize=6)
        axes[row, 0].set_ylabel(str(row_labels[row])[:22], fontsize=6, rotation=0, ha="right", va="center")
    figure.suptitle(title, fontsize=9)
    figure.tight_layout()
    return _png(figure)


def bar_figure(title: str, labels, values, ylabel: str) -> bytes:
    """PNG: one bar per label."""
    pyplot = _pyplot()
    figure, axis = pyplot.subplots(figsize=(max(4.0, 0.25 * len(values) + 1.5), 3.0))
    axis.bar(range(len(values)), values, color="tab:blue")
    axis.set_xticks(range(len(values)), [str(label) for label in labels], fontsize=6, rotation=90)
    axis.set_ylabel(ylabel, fontsize=8)
    axis.set_title(title, fontsize=9)
    figure.tight_layout()
    return _png(figure)


def grouped_bar_figure(title: str, groups, series: dict, ylabel: str) -> bytes:
    """PNG: for each group (x axis) one bar per series (``{name: values per group}``), side by side."""
    pyplot = _pyplot()
    figure, axis = pyplot.subplots(figsize=(max(4.0, 0.35 * len(groups) * len(series) + 1.5), 3.2))
    width = 0.8 / max(len(series), 1)
    for index, (name, values) in enumerate(series.items()):
        axis.bar(np.arange(len(groups)) + index * width, values, width, label=name)
    axis.set_xticks(np.arange(len(groups)) + 0.4 - width / 2, [str(group)[:14] for group in groups], fontsize=6, rotation=90)
    axis.set_ylabel(ylabel, fontsize=8)
    axis.set_title(title, fontsize=9)
    axis.legend(fontsize=7)
    figure.tight_layout()
    return _png(figure)


def visible(token: str) -> str:
    """A token as a figure shows it: spaces and line ends made visible, an empty token a dot."""
    return token.replace("\n", "⏎").replace(" ", "␣") or "·"


def token_figure(title: str, rows: list[tuple[list[str], np.ndarray]], value_label: str) -> bytes:
    """PNG: each row a sequence of tokens (as shown: see :func:`visible`), each on a cell coloured by its value
    (in [0, 1]; NaN: uncoloured) with the token written in it."""
    pyplot = _pyplot()
    width = max(len(tokens) for tokens, _ in rows)
    figure, axis = pyplot.subplots(figsize=(min(0.45 * width + 1.5, 16.0), 0.45 * len(rows) + 1.0))
    grid = np.full((len(rows), width), np.nan)
    for row, (tokens, values) in enumerate(rows):
        grid[row, : len(tokens)] = values[: len(tokens)]
    image = axis.imshow(grid, cmap="Reds", vmin=0.0, vmax=1.0, aspect="auto")
    for row, (tokens, _) in enumerate(rows):
        for column, token in enumerate(tokens):
            axis.text(column, row, token, ha="center", va="center", fontsize=6)
    axis.set_xticks([])
    axis.set_yticks([])
    figure.colorbar(image, ax=axis, label=value_label, fraction=0.03)
    axis.set_title(title, fontsize=9)
    figure.tight_layout()
    return _png(figure)


def probability_figure(title: str, steps: list[str], candidates: list[list[str]], probabilities: np.ndarray) -> bytes:
    """PNG: one column per generated step (the chosen token below it), its top candidates and their probabilities."""
    pyplot = _pyplot()
    top = probabilities.shape[1]
    figure, axis = pyplot.subplots(figsize=(min(0.55 * len(steps) + 1.5, 16.0), 0.35 * top + 1.4))
    image = axis.imshow(probabilities.T, cmap="Blues", vmin=0.0, vmax=1.0, aspect="auto")
    for column, names in enumerate(candidates):
        for row, name in enumerate(names):
            axis.text(column, row, visible(name), ha="center", va="center", fontsize=6)
    axis.set_xticks(range(len(steps)), [visible(step) for step in steps], fontsize=6)
    axis.set_yticks(range(top), [f"#{rank + 1}" for rank in range(top)], fontsize=6)
    axis.set_xlabel("generated token (each column: the candidates at that step, most probable first)", fontsize=7)
    figure.colorbar(image, ax=axis, label="probability", fraction=0.03)
    axis.set_title(title, fontsize=9)
    figure.tight_layout()
    return _png(figure)


def normalized(values: np.ndarray) -> np.ndarray:
    """``values`` scaled to [0, 1] per row (a constant row becomes zeros)."""
    values = np.asarray(values, np.float32)
    low = values.min(axis=-1, keepdims=True)
    span = values.max(axis=-1, keepdims=True) - low
    return np.where(span > 0, (values - low) / np.maximum(span, 1e-12), 0.0)


def test_split_images(data, num_samples: int, seed: int, what: str):
    """(images float32 [n, H, W, C] in [0, 1], labels or None) of ``data``'s test split, ``num_samples`` drawn with ``seed``."""
    images = getattr(data, "test_images", None)
    if images is None:
        raise ExplanationSkipped(f"{getattr(data, 'name', 'the data')} has no test images for {what}")
    rng = np.random.default_rng(seed)
    picked = np.sort(rng.choice(len(images), min(num_samples, len(images)), replace=False))
    labels = getattr(data, "test_labels", None)
    return images[picked].astype(np.float32) / 255.0, None if labels is None else np.asarray(labels)[picked]


def classifier_cam_figure(images: np.ndarray, what: str, name: str, target_classes=None) -> Figure:
    """The shipped classifier's Grad-CAM, Grad-CAM++ and Score-CAM on ``images`` [N, H, W, C] in [0, 1], each
    for the class it sees in the image (or for ``target_classes`` [N]: the classes the images were asked to be)."""
    from tf_keras_vis.utils.scores import CategoricalScore

    extractor, classifier_name = shipped_classifier(images.shape[1:])
    inputs = classifier_images(extractor, images)
    probabilities = keras.ops.convert_to_numpy(keras.ops.softmax(extractor.classifier(inputs, training=False)))
    seen = probabilities.argmax(axis=1)
    targets = seen if target_classes is None else np.asarray(target_classes, np.int64)
    score = CategoricalScore([int(k) for k in targets])
    layer = last_layer_with_spatial_output(extractor.classifier)
    rows = [(method, class_activation_maps(extractor.classifier, score, inputs, method, layer)) for method in CAM_METHODS]
    captions = [
        f"{class_name(extractor.label_names, int(k))} {probabilities[index, k]:.2f}" for index, k in enumerate(seen)
    ]
    target = ("the class it sees (caption: that class and its probability)" if target_classes is None else
              "the class the image was asked to be (caption: the class it sees; an empty Grad-CAM map: no evidence "
              "for the requested class)")
    return Figure(
        name=name, title=f"{classifier_name} classifier on {what}: where it looks", method="classifier-cam",
        description=(
            f"The shipped {classifier_name} classifier's Grad-CAM, Grad-CAM++ and Score-CAM (tf-keras-vis) at its "
            f"last feature map ({layer}) on {what}, for {target}. Its test accuracy: {extractor.test_accuracy}."
        ),
        png=maps_figure(f"{classifier_name} classifier on {what}", images, rows, captions),
        arrays={"images": images, "classes": targets, **dict(rows)},
    )

"""The shipped classifiers (Fashion-MNIST, emoji) as explainers of a model's images: which one takes them, the
images at its size, and its class activation maps on them."""

from __future__ import annotations

import keras
import numpy as np

from genkit.tasks.explanations.attribution_maps import CAM_METHODS, class_activation_maps, last_layer_with_spatial_output
from genkit.tasks.explanations.image_figures import maps_figure
from genkit.tasks.explanations.methods import ExplanationSkipped, Figure


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

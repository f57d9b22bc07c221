"""What ``genkit explain`` shows of a GAN: where its discriminator (critic) looks to call real and generated
images fake — vanilla saliency and SmoothGrad, Grad-CAM and Grad-CAM++ of its fake score.

Plain functions of the model; :meth:`genkit.models.gan.gan.GAN.explanation_methods` adds
:func:`discriminator_explanation_methods` to what its capabilities explain.
"""

from __future__ import annotations

import functools

import numpy as np
from keras import ops

from genkit.tasks.explanations import (
    ExplanationMethod,
    ExplanationSkipped,
    Figure,
    class_activation_maps,
    last_layer_with_spatial_output,
    maps_figure,
    saliency_maps,
    test_split_images,
)


def discriminator_explanation_methods(model) -> dict:
    """``{name: ExplanationMethod}`` of the discriminator's maps, on real test images and on ``model``'s own."""
    return {
        "discriminator-saliency": ExplanationMethod(
            "discriminator-saliency",
            "vanilla saliency and SmoothGrad of the discriminator's fake score, on real and generated images",
            functools.partial(explain_discriminator_saliency, model),
        ),
        "discriminator-cam": ExplanationMethod(
            "discriminator-cam", "Grad-CAM and Grad-CAM++ of the discriminator's fake score, on real and generated images",
            functools.partial(explain_discriminator_cam, model),
        ),
    }


def real_and_generated(model, data, num_samples: int, seed: int) -> list:
    """``[(kind, images in [0, 1], discriminator inputs)]`` for real test images and as many generated ones
    (of the real images' classes for a conditional model)."""
    real, labels = test_split_images(data, num_samples, seed, "the discriminator's maps")
    inputs = model.sample_inputs(len(real), seed)
    if model.num_classes:
        if labels is None:
            raise ExplanationSkipped(f"{data.name}: the test images have no labels for the conditional discriminator")
        labels = labels.astype(np.int32)
        inputs["label"] = labels
    generated = np.asarray(model.generate(**inputs), np.float32)
    low, high = model.training_image_range

    def network_inputs(images):
        scaled = (images * (high - low) + low).astype(np.float32)
        return [scaled, labels] if model.num_classes else scaled

    return [("real", real, network_inputs(real)), ("generated", generated, network_inputs(generated))]


def discriminator_captions(model, network_inputs) -> list[str]:
    """The discriminator's verdict on each image: its critic value (Wasserstein loss) or P(real)."""
    logits = ops.convert_to_numpy(model.discriminator(network_inputs, training=False)).reshape(-1)
    if model.loss == "wasserstein":
        return [f"critic {value:+.2f}" for value in logits]
    return [f"P(real) {value:.2f}" for value in 1.0 / (1.0 + np.exp(-logits))]


def fake_score(output):
    """The discriminator's evidence that an image is fake: its negated logit (critic score)."""
    return -ops.reshape(output, [-1])


def explain_discriminator_saliency(model, data, num_samples: int, seed: int) -> list[Figure]:
    figures = []
    for kind, images, network_inputs in real_and_generated(model, data, num_samples, seed):
        rows = [
            ("saliency", saliency_maps(model.discriminator, fake_score, network_inputs)),
            ("SmoothGrad", saliency_maps(model.discriminator, fake_score, network_inputs, smooth_samples=20)),
        ]
        figures.append(Figure(
            name=f"discriminator_saliency_{kind}", title=f"discriminator saliency on {kind} images",
            method="discriminator-saliency",
            description=(f"|d(-logit)/d pixel| of the discriminator on {kind} images (tf-keras-vis Saliency; SmoothGrad: "
                         "20 noisy copies, noise 0.2): the pixels whose change moves its fake score most. Captions: its verdict."),
            png=maps_figure(f"discriminator saliency, {kind} images", images, rows, discriminator_captions(model, network_inputs)),
            arrays={"images": images, **dict(rows)},
        ))
    return figures


def explain_discriminator_cam(model, data, num_samples: int, seed: int) -> list[Figure]:
    layer = last_layer_with_spatial_output(model.discriminator)
    figures = []
    for kind, images, network_inputs in real_and_generated(model, data, num_samples, seed):
        rows = [(method, class_activation_maps(model.discriminator, fake_score, network_inputs, method, layer))
                for method in ("gradcam", "gradcam++")]
        figures.append(Figure(
            name=f"discriminator_cam_{kind}", title=f"discriminator Grad-CAM on {kind} images", method="discriminator-cam",
            description=(f"Grad-CAM and Grad-CAM++ (tf-keras-vis) of the discriminator's fake score (its negated logit) at "
                         f"{layer}, on {kind} images: the regions that make it call an image fake. Score-CAM is left out: it "
                         "weighs the maps by a softmax of the outputs, constant for a single logit."),
            png=maps_figure(f"discriminator Grad-CAM, {kind} images", images, rows, discriminator_captions(model, network_inputs)),
            arrays={"images": images, **dict(rows)},
        ))
    return figures

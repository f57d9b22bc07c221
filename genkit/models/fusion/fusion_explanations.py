"""What ``genkit explain`` shows of a fusion classifier: how much it owes each input (accuracy without it and
with it alone), what of each input its prediction depends on (saliency, SmoothGrad and Grad-CAM of images,
saliency of spectrograms and of words), and the shares a weighted, gated or attention fusion learns.

Plain functions of the model; :meth:`genkit.models.fusion.fusion_classifier.FusionClassifier.explanation_methods`
adds :func:`fusion_explanation_methods` to what its capabilities explain.
"""

from __future__ import annotations

import functools

import numpy as np
import tensorflow as tf

from genkit.evaluation.classification import accuracy
from genkit.models.fusion.fusion_classifier_config import WEIGHTED_FUSIONS
from genkit.tasks.explanations import (
    ExplanationMethod,
    Figure,
    gradcam_from,
    grouped_bar_figure,
    last_layer_with_spatial_output,
    maps_figure,
    normalized,
    recorded_outputs,
    saliency_maps,
    token_figure,
    with_fixed_inputs,
)

def fusion_explanation_methods(model) -> dict:
    """``modality-importance`` (with more than one input), ``input-saliency`` and, for fusions that learn them,
    ``modality-weights``."""
    methods = {}
    if len(model.preprocessor.input_names) > 1:
        methods["modality-importance"] = ExplanationMethod(
            "modality-importance", "test accuracy with every input, without each one, and with each one alone",
            functools.partial(explain_modality_importance, model),
        )
    methods["input-saliency"] = ExplanationMethod(
        "input-saliency",
        "what of each input the predicted class depends on: saliency and Grad-CAM of images, saliency of spectrograms "
        "and of words",
        functools.partial(explain_input_saliency, model),
    )
    if model.fusion in WEIGHTED_FUSIONS:
        methods["modality-weights"] = ExplanationMethod(
            "modality-weights", "each input's learned share of the fusion, averaged per true class",
            functools.partial(explain_modality_weights, model),
        )
    return methods


def explain_modality_importance(model, data, num_samples: int, seed: int) -> list[Figure]:
    """Test accuracy with every input, without each one (as the model was trained to take a missing input), and
    with each one alone."""
    arrays = model.split_arrays(data, data.scored_split)
    labels = arrays.pop(model.target).astype(np.int64)
    names = model.preprocessor.input_names
    every = accuracy(labels, model.predict_arrays(arrays)["probabilities"])
    without, alone = [], []
    for m in range(len(names)):
        mask = np.ones(len(names), np.float32)
        mask[m] = 0
        without.append(accuracy(labels, model.predict_arrays(arrays, mask)["probabilities"]))
        alone.append(accuracy(labels, model.predict_arrays(arrays, 1 - mask)["probabilities"]))
    series = {"all inputs": [every] * len(names), "without it": without, "it alone": alone}
    return [Figure(
        name="modality_importance", title="modality importance", method="modality-importance",
        description=(f"Test accuracy ({len(labels)} examples) with every input ({every:.3f}), with each input left out "
                     "(as the model was trained to take a missing input), and with each input alone: the drop without "
                     "an input is what the fusion owes it."),
        png=grouped_bar_figure("accuracy with and without each input", names, series, "test accuracy"),
        arrays={"without": np.asarray(without), "alone": np.asarray(alone), "all": np.asarray(every)},
    )]


def explain_input_saliency(model, data, num_samples: int, seed: int) -> list[Figure]:
    """Per input, the gradient of the predicted class's logit, on ``num_samples`` test examples: images get
    saliency, SmoothGrad (tf-keras-vis, the other inputs held fixed) and Grad-CAM at the image encoder's last
    feature map; spectrograms saliency and SmoothGrad; texts the gradient norm at each word's embedding."""
    from tf_keras_vis.utils.scores import CategoricalScore

    arrays = model.split_arrays(data, data.scored_split)
    labels = arrays.pop(model.target).astype(np.int64)
    picked = np.sort(np.random.default_rng(seed).choice(len(labels), min(num_samples, len(labels)), replace=False))
    batch = {name: tf.constant(list(values[picked]) if values.dtype == object else values[picked])
             for name, values in arrays.items()}
    inputs = model.network_inputs(model.encode_batch(batch), model._all_present(next(iter(batch.values()))))
    inputs = {name: np.asarray(value) for name, value in inputs.items()}
    logits = model.network(inputs, training=False)["logits"]
    predicted = np.asarray(tf.argmax(logits, axis=-1))
    probabilities = tf.nn.softmax(tf.cast(logits, tf.float32)).numpy()
    score = CategoricalScore([int(k) for k in predicted])
    captions = [f"{model.class_names[k]} {probabilities[row, k]:.2f} (true: {model.class_names[labels[picked][row]]})"
                for row, k in enumerate(predicted)]
    arrays_common = {"predicted": predicted, "labels": labels[picked]}
    about = "the logit of the class the model predicts (caption: that class, its probability and the true class)"
    figures = []
    for name, kind in zip(model.preprocessor.input_names, model.preprocessor.input_types):
        values = inputs[name]
        if kind in ("image", "audio"):
            single = with_fixed_inputs(model.network, name, inputs, "logits")
            maps = [("saliency", saliency_maps(single, score, values, keepdims=kind == "audio")),
                    ("SmoothGrad", saliency_maps(single, score, values, smooth_samples=20, keepdims=kind == "audio"))]
        if kind == "image":
            encoder = model.network.get_layer(f"{name}_encoder")
            feature_layer = encoder.get_layer(last_layer_with_spatial_output(encoder))
            with tf.GradientTape() as tape, recorded_outputs(feature_layer, tape) as features:
                target = tf.reduce_sum(tf.gather(model.network(inputs, training=False)["logits"], predicted, batch_dims=1))
            maps.append(("Grad-CAM", gradcam_from(features[0], tape.gradient(target, features[0]), values.shape[1:3])))
            title, shown = f"{name}: where the prediction looks", values
            how = (f"saliency and SmoothGrad (tf-keras-vis, the other inputs held fixed) and Grad-CAM at the image "
                   f"encoder's last feature map ({feature_layer.name}; taken with a gradient tape, since tf-keras-vis "
                   "reaches only layers of the explained network's own graph)")
        elif kind == "audio":
            # A spectrogram [frames, mel] drawn as a picture: mel bins up (low at the bottom), time to the right.
            maps = [(label, np.flip(np.swapaxes(values_map, 1, 2), axis=1)) for label, values_map in maps]
            shown = np.flip(np.swapaxes(normalized(values.reshape(len(values), -1)).reshape(values.shape), 1, 2), 1)[..., None]
            title = f"{name}: which times and frequencies the prediction depends on"
            how = "saliency and SmoothGrad (tf-keras-vis, the other inputs held fixed) of the log-mel spectrogram"
        else:
            embedding = model.network.get_layer(f"{name}_encoder").get_layer("embedding")
            with tf.GradientTape() as tape, recorded_outputs(embedding, tape) as embedded:
                target = tf.reduce_sum(tf.gather(model.network(inputs, training=False)["logits"], predicted, batch_dims=1))
            norms = tf.norm(tape.gradient(target, embedded[0]), axis=-1).numpy()
            words = [[word(model, int(token)) for token in row if token] for row in values]
            saliency = normalized(np.where(values > 0, norms, 0.0))
            rows = [(row_words + [f"=> {model.class_names[k][:14]}"], np.append(row[: len(row_words)], np.nan))
                    for row_words, row, k in zip(words, saliency, predicted)]
            figures.append(Figure(
                name=f"input_saliency_{name}", title=f"{name}: the words the prediction depends on", method="input-saliency",
                description=(f"For {len(values)} test examples, the gradient norm of the predicted class's logit (last "
                             "cell: that class) at each word's embedding "
                             "(a gradient tape at the text encoder's embedding: word ids are integers), scaled to "
                             "[0, 1] per example."),
                png=token_figure(f"{name}: word saliency (darker: the prediction depends more on it)", rows, "saliency"),
                arrays={"ids": values, "saliency": saliency, **arrays_common},
            ))
            continue
        figures.append(Figure(
            name=f"input_saliency_{name}", title=title, method="input-saliency",
            description=f"For {len(values)} test examples, {how}, of {about}.",
            png=maps_figure(title, shown, maps, captions),
            arrays={"inputs": values, **dict((label.lower().replace("-", ""), m) for label, m in maps), **arrays_common},
        ))
    return figures


def word(model, token: int) -> str:
    """The word of a word id of the model's vocabulary (0 pads, 1 is [UNK])."""
    return "[UNK]" if token == 1 else str(model.preprocessor.vocabulary[token - 2])


def explain_modality_weights(model, data, num_samples: int, seed: int) -> list[Figure]:
    """Each input's learned share of the fusion, averaged over the test examples of each true class."""
    arrays = model.split_arrays(data, data.scored_split)
    labels = arrays.pop(model.target).astype(np.int64)
    weights = model.predict_arrays(arrays)["modality_weights"]
    classes = [k for k in range(len(model.class_names)) if (labels == k).any()][:30]
    series = {name: [float(weights[labels == k, m].mean()) for k in classes]
              for m, name in enumerate(model.preprocessor.input_names)}
    overall = ", ".join(f"{name} {weights[:, m].mean():.2f}" for m, name in enumerate(model.preprocessor.input_names))
    return [Figure(
        name="modality_weights", title="learned modality weights", method="modality-weights",
        description=(f"The {model.fusion} fusion's weight of each input, averaged over the test examples of each true class "
                     f"(first {len(classes)} classes with test examples); over all: {overall}."),
        png=grouped_bar_figure(f"{model.fusion} fusion: each input's weight per class",
                               [model.class_names[k] for k in classes], series, "mean weight"),
        arrays={"weights": weights, "labels": labels},
    )]

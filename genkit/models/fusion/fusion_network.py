"""The fusion classifier's network: encoders, a fusion layer, a classifier head (functional, from a config)."""

from __future__ import annotations

import keras
from keras import ops

from genkit.layers.modality_fusion import FUSION_LAYERS
from genkit.tasks.modality_encoders import modality_embeddings
from genkit.tasks.paired_preprocessor import PairedPreprocessor


def build_fusion_network(config) -> keras.Model:
    """``{input name: encoded input, "present": [N, M]} -> {"logits": [N, K], "modality_weights": [N, M]}``,
    plus ``"unimodal_logits"`` [N, M, K] (a classifier of each input's embedding) when the config trains with
    a unimodal loss."""
    frames = PairedPreprocessor.from_model_config(config).frames
    inputs = {}
    for name, kind in zip(config.inputs, config.input_types):
        if kind == "image":
            inputs[name] = keras.Input(tuple(config.image_shape), name=name)
        elif kind == "text":
            inputs[name] = keras.Input((config.max_text_length,), dtype="int32", name=name)
        else:
            inputs[name] = keras.Input((frames, config.num_mel_bins), name=name)
    present = keras.Input((len(config.inputs),), name="present")
    embeddings = modality_embeddings(config, inputs, frames)
    num_classes = len(config.class_names)
    if config.fusion == "late":
        # One classifier per modality; the probabilities of the present ones are averaged.
        probabilities = [
            keras.layers.Dense(num_classes, activation="softmax", name=f"{name}_classifier")(x)
            for name, x in zip(config.inputs, embeddings)
        ]
        weights = present / ops.maximum(ops.sum(present, axis=-1, keepdims=True), 1.0)
        mixed = sum(weights[:, m : m + 1] * p for m, p in enumerate(probabilities))
        logits = ops.log(ops.maximum(mixed, 1e-7))
    else:
        options = {"rank": config.rank} if config.fusion == "low-rank" else {}
        if config.fusion == "attention":
            options = {"heads": config.attention_heads}
        fused, weights = FUSION_LAYERS[config.fusion](config.width, name="fusion", **options)([*embeddings, present])
        hidden = keras.layers.Dense(config.width, activation="relu", name="hidden")(fused)
        logits = keras.layers.Dense(num_classes, name="classifier")(hidden)
    outputs = {
        "logits": keras.layers.Identity(name="logits")(logits),
        "modality_weights": keras.layers.Identity(name="modality_weights")(weights),
    }
    if config.unimodal_loss_weight and config.fusion != "late":
        unimodal = [keras.layers.Dense(num_classes, name=f"{name}_classifier")(x) for name, x in zip(config.inputs, embeddings)]
        outputs["unimodal_logits"] = keras.layers.Identity(name="unimodal_logits")(ops.stack(unimodal, axis=1))
    return keras.Model({**inputs, "present": present}, outputs, name="fusion_network")

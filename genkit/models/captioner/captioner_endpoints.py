"""A captioner's endpoints: strings out for TF Serving, and the encoder and one-step decoder an edge app loops over."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from genkit.signatures import Endpoint, TensorDeclaration

MAX_IMAGES_PER_REQUEST = 256
MAX_BEAM_WIDTH = 64
MAX_TEMPERATURE = 100.0


def decoding_declarations(vocabulary_size: int) -> tuple[TensorDeclaration, ...]:
    """The per-row decoding parameters of the ``caption`` endpoint."""
    return (
        TensorDeclaration("beam_width", "parameter", "int32", (), (1, MAX_BEAM_WIDTH), description="1 is greedy"),
        TensorDeclaration("length_penalty", "parameter", "float32", (), (0.0, 5.0), description="alpha of ((5 + length) / 6) ** alpha"),
        TensorDeclaration("temperature", "parameter", "float32", (), (0.0, MAX_TEMPERATURE), description="0: beam search; > 0: sampling"),
        TensorDeclaration("top_k", "parameter", "int32", (), (0, vocabulary_size), description="0: no top-k cut"),
        TensorDeclaration("top_p", "parameter", "float32", (), (0.0, 1.0), description="1: no nucleus cut"),
        TensorDeclaration("seed", "parameter", "int32", (), description="the same seed draws the same captions"),
    )


def captioner_endpoints(model) -> dict[str, Endpoint]:
    """``serving_default``, ``caption_files`` and ``caption`` (SavedModel; strings out); ``encode`` and ``decode_step``
    (every format)."""
    (images,) = [d for d in model.raw_declarations() if d.modality == "image"]
    (files,) = [d for d in model.file_declarations() if d.modality == "file"]
    captions = (
        TensorDeclaration("captions", "text", "string", (), description="the caption of each image"),
        TensorDeclaration("scores", "scores", "float32", (), description="its log-probability (nats, <= 0)"),
    )
    features = TensorDeclaration("features", "embedding", "float32", (model.cells, model.feature_width),
                                 description="one feature per grid cell")
    states = tuple(TensorDeclaration(name, "state", "float32", (model.units,)) for name in model.state_names)
    token = TensorDeclaration(
        "token", "tokens", "int32", (), (0, model.vocabulary_size - 1),
        description="the previous word id (0: the caption's start; genkit.json 'caption')",
    )
    step_outputs = (
        TensorDeclaration("logits", "logits", "float32", (model.vocabulary_size,)),
        *(TensorDeclaration(f"next_{name}", "state", "float32", (model.units,)) for name in model.state_names),
        TensorDeclaration("attention", "scores", "float32", (model.cells,), (0.0, 1.0), description="weights over the cells"),
    )

    def serve(images):
        count, defaults = tf.shape(images)[0], model.decoding_defaults()
        parameters = [tf.fill([count], tf.constant(defaults[d.name], d.dtype)) for d in model._decoding_declarations()]
        return model.caption_images(images, *parameters)

    def caption_files(data):
        decoded = model.preprocessor.decode_files({f"{model.image_input}_bytes": data})[model.image_input]
        return serve(decoded)

    def encode(images):
        features, states = model.encode_images(images)
        return {"features": features, **dict(zip(model.state_names, states))}

    def decode_step(token, features, *states):
        logits, next_states, attention = model.decoder_step(token, features, list(states))
        return {"logits": logits, **{f"next_{n}": s for n, s in zip(model.state_names, next_states)}, "attention": attention}

    # The endpoints that decode a whole caption (a loop of up to max_length steps over up to 64 beams per
    # image) take at most MAX_IMAGES_PER_REQUEST images per request.
    bounded = {"edge": False, "max_rows": MAX_IMAGES_PER_REQUEST, "row_name": "images"}
    return {
        "serving_default": Endpoint("serving_default", serve, (images,), captions, **bounded),
        "caption_files": Endpoint("caption_files", caption_files, (files,), captions, **bounded),
        "caption": Endpoint("caption", model.caption_images, (images, *model._decoding_declarations()), captions, **bounded),
        "encode": Endpoint("encode", encode, (images,), (features, *states)),
        "decode_step": Endpoint("decode_step", decode_step, (token, features, *states), step_outputs),
    }


def decode_step_inputs(model, num_samples: int, seed: int, data=None) -> dict[str, np.ndarray]:
    """``decode_step``'s features and states from one run of the encoder on example images."""
    images = model.example_input(model.raw_declarations()[0], num_samples, seed, data)
    encoded = model.endpoints()["encode"].call({model.image_input: images})
    token = np.random.default_rng(seed).integers(0, model.vocabulary_size, num_samples).astype(np.int32)
    return {"token": token, **{name: encoded[name] for name in ["features", *model.state_names]}}


def decoding_example(model, declaration, num_samples: int, seed: int) -> np.ndarray:
    """Example values of a decoding parameter: greedy, the default width and a wider search in turn; mostly beam
    search with a sampled row."""
    if declaration.name == "beam_width":
        return np.array([(1, model.beam_width, 4)[i % 3] for i in range(num_samples)], np.int32)
    if declaration.name == "temperature":
        return np.array([(0.0, 0.0, 0.0, 1.0)[i % 4] for i in range(num_samples)], np.float32)
    return model.default_decoding(num_samples, seed=seed)[declaration.name]

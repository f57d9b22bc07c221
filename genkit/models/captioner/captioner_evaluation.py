"""A captioner's evaluation: BLEU-1..4, CIDEr-D and perplexity on the test split, beside two floors."""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

EVALUATION_BATCH = 128


def caption_perplexity(model, images: np.ndarray, references) -> float:
    """exp of the mean cross-entropy per predicted token (words and ends) over every reference of every image."""
    from genkit.models.captioner.captioner_samples import unit_range

    rows = [(index, text) for index, texts in enumerate(references) for text in texts]
    function = tf.function(model.teacher_forced, reduce_retracing=True)
    total, count = 0.0, 0.0
    for start in range(0, len(rows), EVALUATION_BATCH):
        chunk = rows[start : start + EVALUATION_BATCH]
        batch_images = unit_range(images[[index for index, _ in chunk]])
        ids = model.preprocessor.tokenize(tf.constant([text for _, text in chunk]))
        _, _, token_losses, mask = function(tf.constant(batch_images), ids)
        total += float(tf.reduce_sum(token_losses))
        count += float(tf.reduce_sum(mask))
    return math.exp(total / max(count, 1.0))


def caption_evaluation(model, data, num_samples, seed: int, beam_width, length_penalty) -> dict:
    """The captions of the test images (beam search as asked) scored against their references, with the floors of a
    constant caption and of the nearest training image's captions."""
    from genkit.evaluation.caption_floors import constant_caption, nearest_neighbour_captions
    from genkit.evaluation.caption_metrics import caption_metrics

    split = data.scored_split
    test = data.split(split)
    images_input, text_input = model.image_input, model.text_input
    count = len(test[images_input]) if num_samples is None else min(num_samples, len(test[images_input]))
    images, references = test[images_input][:count], [list(refs) for refs in test[text_input][:count]]
    generated = model.caption_arrays(images, seed=seed, beam_width=beam_width, length_penalty=length_penalty)
    train = data.split("train")
    metrics = {
        "examples": count, "split": split,
        "beam_width": beam_width or model.beam_width,
        **caption_metrics(references, generated["captions"]),
        "perplexity": caption_perplexity(model, images, references),
    }
    floors = {
        "constant": [constant_caption(train[text_input])] * count,
        "nearest_neighbour": nearest_neighbour_captions(train[images_input], train[text_input], images),
    }
    for floor, captions in floors.items():
        for key, value in caption_metrics(references, captions).items():
            metrics[f"floor_{floor}_{key}"] = value
    return metrics

"""A captioner's samples: captions of image files (with their attention maps) and of image arrays, in batches."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tensorflow as tf

BATCH = 128


def caption_files(model, paths: list, seed: int, attention_out, decoding: dict) -> list[dict]:
    """``{"image", "caption", "score"[, "attention_maps"]}`` per file, decoded as ``decoding`` says."""
    from genkit.data.image_files import read_image_bytes

    files = tf.constant(read_image_bytes(paths, "--images"))
    pixels = model.preprocessor.decode_files({f"{model.image_input}_bytes": files})[model.image_input].numpy()
    results = caption_arrays(model, pixels, seed, decoding)
    samples = [
        {"image": str(path), "caption": caption, "score": round(float(score), 6)}
        for path, caption, score in zip(paths, results["captions"], results["scores"])
    ]
    if attention_out:
        from genkit.models.captioner.attention_maps import write_attention_maps

        for sample, image, words, attention in zip(samples, pixels, results["words"], results["attention"]):
            sample["attention_maps"] = write_attention_maps(
                Path(attention_out), sample["image"], np.round(image * 255).astype(np.uint8), words, attention,
            )
    return samples


def caption_arrays(model, images: np.ndarray, seed: int, decoding: dict) -> dict:
    """Captions, scores, words and attention [words, cells] of images (float in [0, 1], or uint8), in batches."""
    function = tf.function(model.decode, reduce_retracing=True)
    captions, scores, words, attention = [], [], [], []
    for start in range(0, len(images), BATCH):
        batch = unit_range(images[start : start + BATCH])
        parameters = model.default_decoding(len(batch), seed=seed + start, **decoding)
        tokens, lengths, log_probabilities, traces = function(tf.constant(batch), **parameters)
        for row, length in enumerate(lengths.numpy()):
            ids = tokens[row, :length].numpy()
            row_words = [model.preprocessor.vocabulary[i - 2] for i in ids]
            words.append(row_words)
            captions.append(" ".join(row_words))
            attention.append(traces[row, :length].numpy())
        scores.extend(log_probabilities.numpy().tolist())
    return {"captions": captions, "scores": scores, "words": words, "attention": attention}


def unit_range(images: np.ndarray) -> np.ndarray:
    """float32 images in [0, 1] of uint8 (or already float) images."""
    return images.astype(np.float32) / 255.0 if images.dtype == np.uint8 else images.astype(np.float32)

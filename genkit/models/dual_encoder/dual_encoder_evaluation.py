"""What ``genkit evaluate`` measures of a dual encoder: recall@1/5/10 of image->text and text->image retrieval
among a split's pairs, with their chance levels, and the median rank of each match."""

from __future__ import annotations

import numpy as np

from genkit.evaluation.retrieval import ranks_of_matches, recall_at_k

RECALL_AT = (1, 5, 10)


def retrieval_metrics(model, data) -> dict:
    """The metrics of ``model`` on ``data``'s scored split (see the module), and its learned temperature."""
    images, texts = model.embed_split(data, data.scored_split)
    similarity = images @ texts.T
    count = len(images)
    metrics = {"examples": count, "temperature": float(model.temperature.numpy())}
    for k in RECALL_AT:
        metrics[f"image_to_text_recall@{k}"] = recall_at_k(similarity, k)
        metrics[f"text_to_image_recall@{k}"] = recall_at_k(similarity.T, k)
        metrics[f"chance_recall@{k}"] = min(k / count, 1.0)
    metrics["image_to_text_median_rank"] = float(np.median(ranks_of_matches(similarity)))
    metrics["text_to_image_median_rank"] = float(np.median(ranks_of_matches(similarity.T)))
    return metrics

"""What an exported ``encode`` or ``decode_step`` costs a captioner: greedy captions against Keras' own."""

from __future__ import annotations

import numpy as np

from genkit.models.captioner.caption_decoder import BOUNDARY_ID, UNKNOWN_ID
from genkit.tasks.decoding.step_loop import StepDecoder


def greedy_captions(model, run_encode, run_step, images: np.ndarray, batch_size: int = 64) -> list[str]:
    """Greedy captions with ``run_encode`` / ``run_step`` (``{input: array} -> {output: array}``, e.g. an export):
    from the boundary token, never the unknown word, until the boundary or ``max_length`` steps."""
    vocabulary = model.preprocessor.vocabulary
    captions = []
    for start in range(0, len(images), batch_size):
        encoded = run_encode({model.image_input: images[start : start + batch_size]})
        features = encoded["features"]
        decoder = StepDecoder(run_step, {name: encoded[name] for name in model.state_names}, {"features": features})
        rows = decoder.greedy(np.full(len(features), BOUNDARY_ID, np.int32), model.max_length, BOUNDARY_ID, (UNKNOWN_ID,))
        captions += [" ".join(vocabulary[token - 2] for token in row) for row in rows]
    return captions


def step_export_quality(model, endpoint: str, run_export, data, num_samples: int) -> dict:
    """Greedy captions of the test images with the export in place of Keras' ``endpoint``: BLEU-4 and CIDEr-D
    against Keras' own greedy captions' scores, and the share of identical captions."""
    if data is None:
        return {"skipped": "the run's data is not available here"}
    from genkit.evaluation.caption_metrics import caption_metrics
    from genkit.evaluation.export_cost import endpoint_runner
    from genkit.models.captioner.captioner_samples import unit_range

    test = data.split(data.scored_split)
    images = unit_range(test[model.image_input][:num_samples])
    references = [list(refs) for refs in test[model.text_input][: len(images)]]
    keras_encode, keras_step = endpoint_runner(model, "encode"), endpoint_runner(model, "decode_step")
    runners = {"encode": keras_encode, "decode_step": keras_step, endpoint: run_export}
    keras_captions = greedy_captions(model, keras_encode, keras_step, images)
    export_captions = greedy_captions(model, runners["encode"], runners["decode_step"], images)
    keras_scores, export_scores = caption_metrics(references, keras_captions), caption_metrics(references, export_captions)
    agreement = float(np.mean([a == b for a, b in zip(keras_captions, export_captions)]))
    return {
        "metric": "greedy captions' BLEU-4 and CIDEr-D", "num_samples": len(images),
        **{f"keras_{k}": keras_scores[k] for k in ("bleu_4", "cider_d")},
        **{f"export_{k}": export_scores[k] for k in ("bleu_4", "cider_d")},
        "bleu_4_delta": export_scores["bleu_4"] - keras_scores["bleu_4"],
        "cider_d_delta": export_scores["cider_d"] - keras_scores["cider_d"],
        "agreement": agreement,
        "summary": f"CIDEr-D {export_scores['cider_d'] - keras_scores['cider_d']:+.4f}, same captions {agreement:.3f}",
    }

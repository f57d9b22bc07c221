"""What an exported (quantised) embedding endpoint of a dual encoder costs: retrieval recall@1 on the test pairs
with the export's embeddings on one side, against Keras' on both."""

from __future__ import annotations

from genkit.evaluation.export_cost import endpoint_runner, run_in_batches
from genkit.evaluation.retrieval import recall_at_k


def recall_cost(model, endpoint: str, run_export, data=None, num_samples: int = 1000) -> dict:
    """Recall@1 of up to ``num_samples`` test pairs, ``endpoint``'s side embedded by Keras and by the export, the other
    side by Keras (see :meth:`~genkit.tasks.task.Task.export_quality`)."""
    if data is None:
        return {"skipped": "the run's data is not available here"}
    inputs, arrays = model.evaluation_inputs(data, endpoint, num_samples)
    output = model.endpoints()[endpoint].outputs[0].name
    other = "embed_texts" if output == "image_embeddings" else "embed_images"
    other_inputs, _ = model.evaluation_inputs(data, other, num_samples)
    fixed = run_in_batches(endpoint_runner(model, other), other_inputs)
    fixed = next(iter(fixed.values()))
    keras_vectors = run_in_batches(endpoint_runner(model, endpoint), inputs)[output]
    export_vectors = run_in_batches(run_export, inputs)[output]
    keras_recall = recall_at_k(keras_vectors @ fixed.T, 1)
    export_recall = recall_at_k(export_vectors @ fixed.T, 1)
    direction = "image_to_text" if output == "image_embeddings" else "text_to_image"
    return {
        "metric": f"{direction}_recall@1", "num_samples": int(len(keras_vectors)),
        "keras_recall@1": keras_recall, "export_recall@1": export_recall, "recall@1_delta": export_recall - keras_recall,
        "summary": f"R@1 {export_recall - keras_recall:+.4f}",
    }

"""What an exported (quantised) fusion classifier costs: its accuracy against Keras' on the same test examples,
and how often the two predict the same class."""

from __future__ import annotations

import numpy as np

from genkit.evaluation.classification import accuracy
from genkit.evaluation.export_cost import endpoint_runner, run_in_batches


def accuracy_cost(model, endpoint: str, run_export, data=None, num_samples: int = 1000) -> dict:
    """Keras' and the export's accuracy on up to ``num_samples`` test examples of ``endpoint`` (see
    :meth:`~genkit.tasks.task.Task.export_quality`)."""
    if data is None:
        return {"skipped": "the run's data is not available here"}
    inputs, arrays = model.evaluation_inputs(data, endpoint, num_samples)
    labels = arrays[model.target].astype(np.int64)
    keras_outputs = run_in_batches(endpoint_runner(model, endpoint), inputs)
    export_outputs = run_in_batches(run_export, inputs)
    keras_accuracy = accuracy(labels, keras_outputs["probabilities"])
    export_accuracy = accuracy(labels, export_outputs["probabilities"])
    agreement = float(np.mean(keras_outputs["class_id"] == export_outputs["class_id"]))
    return {
        "metric": "accuracy", "num_samples": int(len(labels)),
        "keras_accuracy": keras_accuracy, "export_accuracy": export_accuracy,
        "accuracy_delta": export_accuracy - keras_accuracy, "agreement": agreement,
        "summary": f"accuracy {export_accuracy - keras_accuracy:+.4f}, agree {agreement:.3f}",
    }

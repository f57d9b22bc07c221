"""What ``genkit evaluate`` measures of a fusion classifier: accuracy, macro-F1, top-5 and, per input, the accuracy
without it and with it alone (and a learned fusion's mean weight of each input); and the examples of another
dataset, relabelled to the classes the run was trained on."""

from __future__ import annotations

import numpy as np

from genkit.errors import UserError
from genkit.evaluation.classification import accuracy, macro_f1, top_k_accuracy
from genkit.models.fusion.fusion_classifier_config import WEIGHTED_FUSIONS


def classification_metrics(model, data) -> dict:
    """The metrics of ``model`` on ``data``'s scored split (see the module)."""
    arrays = model.split_arrays(data, data.scored_split)
    labels = arrays.pop(model.target).astype(np.int64)
    outputs = model.predict_arrays(arrays)
    probabilities = outputs["probabilities"]
    metrics = {
        "examples": int(len(labels)),
        "accuracy": accuracy(labels, probabilities),
        "macro_f1": macro_f1(labels, probabilities, len(model.class_names)),
    }
    if len(model.class_names) > 5:
        metrics["top5_accuracy"] = top_k_accuracy(labels, probabilities, 5)
    names = model.preprocessor.input_names
    if len(names) > 1:
        for m, name in enumerate(names):
            without = np.ones(len(names), np.float32)
            without[m] = 0
            metrics[f"accuracy_without_{name}"] = accuracy(labels, model.predict_arrays(arrays, without)["probabilities"])
            metrics[f"accuracy_only_{name}"] = accuracy(labels, model.predict_arrays(arrays, 1 - without)["probabilities"])
        if model.fusion in WEIGHTED_FUSIONS:
            for m, name in enumerate(names):
                metrics[f"modality_weight_{name}"] = float(outputs["modality_weights"][:, m].mean())
    return metrics


def relabelled_to_run(data, metadata: dict, dataset: str):
    """Every example of ``data`` (the ``--dataset`` given to genkit evaluate) as one test split, its labels mapped
    to the run's class names; a class the run was not trained on is a one-line error."""
    target, class_names = metadata["config"]["target"], metadata["config"]["class_names"]
    names = data.label_names[target]
    unknown = sorted(set(names) - set(class_names))
    if unknown:
        raise UserError(
            f"--dataset {dataset}: class '{unknown[0]}' of '{target}' is not one the run was trained on "
            f"({', '.join(class_names[:10])}{', ...' if len(class_names) > 10 else ''})"
        )
    to_run_ids = np.array([class_names.index(name) for name in names], np.int32)
    merged = {
        field: np.concatenate([arrays[field] for arrays in data.splits.values()]) for field in data.fields
    }
    merged[target] = to_run_ids[merged[target]]
    data.splits = {"test": merged}
    data.label_names = {**data.label_names, target: list(class_names)}
    data.evaluation_split = "test"
    return data

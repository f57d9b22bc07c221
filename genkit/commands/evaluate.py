"""``genkit evaluate``: measure a trained run against data; writes RUN_DIR/metrics.json."""

from __future__ import annotations

import datetime
from pathlib import Path

from genkit.errors import UserError
from genkit.atomic import write_json
from genkit.runtime.run_folder import RunFolder

METRICS_FILE = "metrics.json"


def evaluate(
    run_dir: str | Path,
    dataset: str | None = None,
    data_dir: str | None = None,
    num_samples: int | None = None,
    seed: int = 0,
    **options,
) -> dict:
    """Evaluates the run's model; writes and returns its metrics.

    ``dataset`` (a ``--dataset`` spec) replaces the run's own data (its test
    split; all its images when it has none); ``num_samples`` is how many
    samples a generator draws; ``options`` are the family's evaluation
    options (its ``evaluation_options``: ``features``, ``importance_samples``, ...).
    The metrics come from the model's ``evaluation_metrics`` and are written,
    with what was evaluated, to ``RUN_DIR/metrics.json``.
    """
    if num_samples is not None and num_samples < 1:
        raise UserError(f"-n {num_samples}: must be >= 1")
    run = RunFolder(run_dir)
    metadata = run.read_metadata()
    model = run.load_model()
    data = type(model).evaluation_data(metadata, dataset, data_dir)
    metrics = model.evaluation_metrics(data, num_samples=num_samples, seed=seed, **options)
    record = {
        "model": metadata["model"],
        "dataset": data.name,
        "split": getattr(data, "evaluation_split", "test"),
        "seed": seed,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        **metrics,
    }
    write_json(run.path / METRICS_FILE, record)
    return record


def format_metrics(metrics: dict) -> str:
    """A two-column table of the metrics."""
    width = max(len(name) for name in metrics)
    lines = []
    for name, value in metrics.items():
        text = f"{value:.6g}" if isinstance(value, float) else str(value)
        lines.append(f"{name:<{width}}  {text}")
    return "\n".join(lines)

"""``genkit explain``: figures of what a trained model learned, written with an ``explanations.json`` index."""

from __future__ import annotations

import datetime
import time
from pathlib import Path

import numpy as np

from genkit.atomic import atomic_path, write_bytes, write_json
from genkit.errors import UserError
from genkit.runtime.run_folder import RunFolder

EXPLANATIONS_DIR = "explanations"
INDEX_FILE = "explanations.json"


def explanation_methods(run_dir: str | Path) -> dict:
    """``{name: description}`` of what ``genkit explain`` can show for the run's model."""
    model = RunFolder(run_dir).load_model()
    return {name: method.description for name, method in model.explanation_methods().items()}


def explain(run_dir: str | Path, out: str | Path | None = None, num_samples: int = 8, methods=None, seed: int = 0) -> dict:
    """Runs the model's explanation methods (all, or ``methods``) and writes their PNGs and an index to ``out``
    (default ``RUN_DIR/explanations``); returns the index.

    The folder is written whole under a temporary name and moved into place,
    so an earlier one stays intact until the new one is complete. A method
    that does not apply to this model or its data is listed under
    ``skipped`` with the reason.
    """
    from genkit.tasks.explanations import ExplanationSkipped

    if num_samples < 1:
        raise UserError(f"-n {num_samples}: must be >= 1")
    run = RunFolder(run_dir)
    metadata = run.read_metadata()
    model = run.load_model()
    available = model.explanation_methods()
    if not available:
        raise UserError(f"{run.path}: '{metadata['model']}' models have nothing genkit explain can show yet")
    chosen = list(methods or available)
    for name in chosen:
        if name not in available:
            raise UserError(f"--method {name}: not a method for '{metadata['model']}' models; allowed: {', '.join(available)}")
    destination = Path(out) if out is not None else run.path / EXPLANATIONS_DIR
    if not destination.parent.is_dir():
        raise UserError(f"--out {destination}: its folder {destination.parent} does not exist")
    if destination.exists() and not (destination / INDEX_FILE).is_file():
        # atomic_path replaces the folder: only one that genkit explain wrote.
        raise UserError(f"--out {destination}: exists and is not a genkit explanations folder; choose another --out")
    data = None
    if any(available[name].needs_data for name in chosen):
        data = type(model).evaluation_data(metadata)
    figures, skipped = [], []
    with atomic_path(destination, directory=True) as temporary:
        for name in chosen:
            started = time.monotonic()
            try:
                made = available[name].make(data, num_samples, seed)
            except ExplanationSkipped as reason:
                skipped.append({"method": name, "reason": str(reason)})
                continue
            seconds = round(time.monotonic() - started, 2)
            for figure in made:
                write_bytes(temporary / f"{figure.name}.png", figure.png)
                entry = {"file": f"{figure.name}.png", "title": figure.title, "method": figure.method,
                         "description": figure.description, "seconds": seconds}
                if figure.arrays:
                    np.savez_compressed(temporary / f"{figure.name}.npz", **figure.arrays)
                    entry["arrays"] = f"{figure.name}.npz"
                figures.append(entry)
        index = {
            "format": "genkit-explanations", "model": metadata["model"], "run": str(run.path),
            "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "seed": seed, "num_samples": num_samples, "figures": figures, "skipped": skipped,
        }
        write_json(temporary / INDEX_FILE, index)
    return index

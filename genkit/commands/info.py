"""``genkit info``: what a run is."""

from __future__ import annotations

import json
from pathlib import Path

from genkit.runtime.run_folder import RunFolder


def info(run_dir: str | Path) -> dict:
    """The run's metadata (genkit.json) as a dict."""
    return RunFolder(run_dir).read_metadata()


def format_info(metadata: dict) -> str:
    """A short human-readable summary of a run's metadata."""
    data, training = metadata.get("data", {}), metadata.get("training", {})
    lines = [
        f"model:      {metadata['model']} ({metadata.get('family')}) — {metadata.get('description', '')}",
        f"created:    {metadata.get('created')}",
        f"data:       {data.get('name')} "
        + " ".join(f"{k}={v}" for k, v in data.items() if k != "name" and not isinstance(v, dict))
        + (f" scaling={data['scaling'].get('formula')}" if isinstance(data.get("scaling"), dict) else ""),
        f"training:   {training.get('epochs_completed')} epochs, {training.get('global_steps')} steps, "
        f"stopped: {training.get('stop_reason')}, {_throughput(training)} "
        f"on {training.get('strategy', {}).get('name')} x{training.get('strategy', {}).get('num_replicas')}",
        "metrics:    " + ", ".join(f"{k}={v:.4g}" for k, v in metadata.get("metrics", {}).items()),
        f"serving:    {metadata.get('serving', {}).get('path')} signatures: "
        + ", ".join(metadata.get("serving", {}).get("signatures", {})),
        f"config:     {json.dumps(_shortened(metadata.get('config')))}",
        f"train:      {json.dumps(metadata.get('train'))}",
        "versions:   " + ", ".join(f"{k} {v}" for k, v in metadata.get("versions", {}).items() if k != "platform"),
    ]
    if isinstance(metadata.get("parent"), dict):  # a warm start (genkit train --init-from)
        lines.insert(2, f"parent:     {metadata['parent'].get('path')} ({metadata['parent'].get('model')})")
    return "\n".join(lines)


def _throughput(training: dict) -> str:
    """``N unit/s`` (runs written before genkit 0.2 recorded images_per_second, whatever the unit)."""
    if "examples_per_second" in training:
        return f"{training['examples_per_second']} {training.get('example_unit', 'examples')}/s"
    return f"{training.get('images_per_second')} examples/s"


def _shortened(config, limit: int = 12):
    """The config with long lists (a text model's vocabulary) cut to their first items and a count."""
    if not isinstance(config, dict):
        return config
    return {
        key: [*value[:5], f"... ({len(value)} items)"] if isinstance(value, list) and len(value) > limit else value
        for key, value in config.items()
    }

"""Bar charts: one value per label, or several series side by side per group."""

from __future__ import annotations

import numpy as np

from genkit.tasks.explanations.figure_canvas import png_bytes, pyplot


def bar_figure(title: str, labels, values, ylabel: str) -> bytes:
    """PNG: one bar per label."""
    figure, axis = pyplot().subplots(figsize=(max(4.0, 0.25 * len(values) + 1.5), 3.0))
    axis.bar(range(len(values)), values, color="tab:blue")
    axis.set_xticks(range(len(values)), [str(label) for label in labels], fontsize=6, rotation=90)
    axis.set_ylabel(ylabel, fontsize=8)
    axis.set_title(title, fontsize=9)
    figure.tight_layout()
    return png_bytes(figure)


def grouped_bar_figure(title: str, groups, series: dict, ylabel: str) -> bytes:
    """PNG: for each group (x axis) one bar per series (``{name: values per group}``), side by side."""
    figure, axis = pyplot().subplots(figsize=(max(4.0, 0.35 * len(groups) * len(series) + 1.5), 3.2))
    width = 0.8 / max(len(series), 1)
    for index, (name, values) in enumerate(series.items()):
        axis.bar(np.arange(len(groups)) + index * width, values, width, label=name)
    axis.set_xticks(np.arange(len(groups)) + 0.4 - width / 2, [str(group)[:14] for group in groups], fontsize=6, rotation=90)
    axis.set_ylabel(ylabel, fontsize=8)
    axis.set_title(title, fontsize=9)
    axis.legend(fontsize=7)
    figure.tight_layout()
    return png_bytes(figure)


"""Figures of tokens: sequences coloured by a value per token, and the candidates of each generated step."""

from __future__ import annotations

import numpy as np

from genkit.tasks.explanations.figure_canvas import png_bytes, pyplot


def visible(token: str) -> str:
    """A token as a figure shows it: spaces and line ends made visible, an empty token a dot."""
    return token.replace("\n", "⏎").replace(" ", "␣") or "·"


def token_figure(title: str, rows: list[tuple[list[str], np.ndarray]], value_label: str) -> bytes:
    """PNG: each row a sequence of tokens (as shown: see :func:`visible`), each on a cell coloured by its value
    (in [0, 1]; NaN: uncoloured) with the token written in it."""
    width = max(len(tokens) for tokens, _ in rows)
    figure, axis = pyplot().subplots(figsize=(min(0.45 * width + 1.5, 16.0), 0.45 * len(rows) + 1.0))
    grid = np.full((len(rows), width), np.nan)
    for row, (tokens, values) in enumerate(rows):
        grid[row, : len(tokens)] = values[: len(tokens)]
    image = axis.imshow(grid, cmap="Reds", vmin=0.0, vmax=1.0, aspect="auto")
    for row, (tokens, _) in enumerate(rows):
        for column, token in enumerate(tokens):
            axis.text(column, row, token, ha="center", va="center", fontsize=6)
    axis.set_xticks([])
    axis.set_yticks([])
    figure.colorbar(image, ax=axis, label=value_label, fraction=0.03)
    axis.set_title(title, fontsize=9)
    figure.tight_layout()
    return png_bytes(figure)


def probability_figure(title: str, steps: list[str], candidates: list[list[str]], probabilities: np.ndarray) -> bytes:
    """PNG: one column per generated step (the chosen token below it), its top candidates and their probabilities."""
    top = probabilities.shape[1]
    figure, axis = pyplot().subplots(figsize=(min(0.55 * len(steps) + 1.5, 16.0), 0.35 * top + 1.4))
    image = axis.imshow(probabilities.T, cmap="Blues", vmin=0.0, vmax=1.0, aspect="auto")
    for column, names in enumerate(candidates):
        for row, name in enumerate(names):
            axis.text(column, row, visible(name), ha="center", va="center", fontsize=6)
    axis.set_xticks(range(len(steps)), [visible(step) for step in steps], fontsize=6)
    axis.set_yticks(range(top), [f"#{rank + 1}" for rank in range(top)], fontsize=6)
    axis.set_xlabel("generated token (each column: the candidates at that step, most probable first)", fontsize=7)
    figure.colorbar(image, ax=axis, label="probability", fraction=0.03)
    axis.set_title(title, fontsize=9)
    figure.tight_layout()
    return png_bytes(figure)


"""Figures of images: images under heat maps, and tables of images (grids, traversals, interpolations)."""

from __future__ import annotations

import numpy as np

from genkit.tasks.explanations.figure_canvas import png_bytes, pyplot, show_image


def maps_figure(title: str, images: np.ndarray, rows: list[tuple[str, np.ndarray]], captions=None) -> bytes:
    """PNG: the images in the first row, then one row per ``(label, maps [N, H, W])`` laid over them (jet)."""
    count = len(images)
    figure, axes = pyplot().subplots(
        1 + len(rows), count, figsize=(1.25 * count + 1.2, 1.3 * (1 + len(rows)) + 0.5), squeeze=False,
    )
    for column in range(count):
        show_image(axes[0, column], images[column])
        if captions is not None:
            axes[0, column].set_title(str(captions[column])[:18], fontsize=6)
        for row, (_, maps) in enumerate(rows, start=1):
            show_image(axes[row, column], images[column])
            axes[row, column].imshow(maps[column], cmap="jet", alpha=0.5, vmin=0.0, vmax=1.0,
                                     extent=(-0.5, images.shape[2] - 0.5, images.shape[1] - 0.5, -0.5))
    for row, label in enumerate(["image", *[label for label, _ in rows]]):
        axes[row, 0].set_ylabel(label, fontsize=7)
    for axis in axes.flat:
        axis.set_xticks([])
        axis.set_yticks([])
    figure.suptitle(title, fontsize=9)
    figure.tight_layout()
    return png_bytes(figure)


def image_table_figure(title: str, images: np.ndarray, row_labels, column_labels=None, cell_titles=None) -> bytes:
    """PNG: images [rows, columns, H, W, C] as a table with a label per row (and per column, or ``cell_titles``
    [rows][columns] per cell; an empty title leaves its cell blank)."""
    rows, columns = images.shape[:2]
    figure, axes = pyplot().subplots(rows, columns, figsize=(0.9 * columns + 1.6, 0.9 * rows + 0.6), squeeze=False)
    for row in range(rows):
        for column in range(columns):
            axis = axes[row, column]
            axis.set_xticks([])
            axis.set_yticks([])
            if cell_titles is not None:
                if not cell_titles[row][column]:
                    axis.axis("off")
                    continue
                axis.set_title(str(cell_titles[row][column])[:16], fontsize=6)
            show_image(axis, images[row, column])
            if row == 0 and column_labels is not None:
                axis.set_title(str(column_labels[column]), fontsize=6)
        axes[row, 0].set_ylabel(str(row_labels[row])[:22], fontsize=6, rotation=0, ha="right", va="center")
    figure.suptitle(title, fontsize=9)
    figure.tight_layout()
    return png_bytes(figure)


"""What every figure is drawn on: matplotlib without a display, a figure as PNG bytes, an image on an axis."""

from __future__ import annotations

import io

import numpy as np


def pyplot():
    """matplotlib's pyplot on the Agg backend (no display needed), imported when a figure is first drawn."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot

    return matplotlib.pyplot


def png_bytes(figure) -> bytes:
    """The figure as PNG bytes (with no software stamp, so a figure's bytes depend only on what it draws); closes it."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, metadata={"Software": None})
    pyplot().close(figure)
    return buffer.getvalue()


def show_image(axis, image: np.ndarray) -> None:
    """An image [H, W, C] in [0, 1] on ``axis`` (grey for one channel), clipped, without smoothing."""
    image = np.clip(np.asarray(image, np.float32), 0.0, 1.0)
    if image.shape[-1] == 1:
        axis.imshow(image[..., 0], cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
    else:
        axis.imshow(image, interpolation="nearest")

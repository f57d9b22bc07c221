"""Each generated word's attention over its image, written as PNGs: the image with the attended cells lit."""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np

from genkit.atomic import write_bytes

MAP_SIZE = 128  # pixels per side of each written map


def attention_image(image: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """uint8 [MAP_SIZE, MAP_SIZE, 3]: ``image`` (uint8 [H, W, C]) darkened where the grid ``weights`` [cells] are low."""
    from PIL import Image

    side = int(round(np.sqrt(len(weights))))
    picture = Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image).convert("RGB")
    picture = np.asarray(picture.resize((MAP_SIZE, MAP_SIZE), Image.Resampling.NEAREST), np.float32)
    if side * side != len(weights):  # a non-square grid: a uniform map
        grid = np.ones((1, 1), np.float32)
    else:
        grid = np.asarray(weights, np.float32).reshape(side, side)
        grid = grid / max(float(grid.max()), 1e-9)
    heat = Image.fromarray((grid * 255).astype(np.uint8)).resize((MAP_SIZE, MAP_SIZE), Image.Resampling.BILINEAR)
    heat = np.asarray(heat, np.float32)[..., None] / 255.0
    return np.clip(picture * (0.25 + 0.75 * heat), 0, 255).astype(np.uint8)


def write_attention_maps(folder: Path, image_name: str, image: np.ndarray, words, attention) -> list[str]:
    """One PNG per word (``<image stem>_<index>_<word>.png``) in ``folder``; returns their paths."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", Path(image_name).stem) or "image"
    paths = []
    for index, (word, weights) in enumerate(zip(words, attention)):
        buffer = io.BytesIO()
        Image.fromarray(attention_image(image, weights)).save(buffer, format="PNG")
        path = folder / f"{stem}_{index:02d}_{re.sub(r'[^A-Za-z0-9]+', '_', word) or 'word'}.png"
        write_bytes(path, buffer.getvalue())
        paths.append(str(path))
    return paths

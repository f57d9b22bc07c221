"""Reading the images that ``genkit sample --reconstruct IMAGES.npy`` passes to a model with an encoder."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from genkit.errors import UserError
from genkit.options import Option

RECONSTRUCT_OPTION = Option(
    "reconstruct", "models with an encoder: reconstruct these images instead", str, "IMAGES.npy",
)


def read_reconstruction_images(path: str | Path, image_shape) -> np.ndarray:
    """float32 [N, H, W, C] images in [0, 1] from a .npy file, or a one-line error naming the file.

    ``[N, H, W]`` is accepted for one-channel models. Integer images (e.g.
    uint8 in [0, 255]) are refused: scale them to [0, 1] first.
    """
    path = Path(path)
    expected = [int(d) for d in image_shape]
    allowed = f"float images of shape [N, {', '.join(map(str, expected))}] with values in [0, 1]"
    if path.suffix.lower() != ".npy":
        raise UserError(f"--reconstruct {path}: not a .npy file; expected {allowed}")
    try:
        images = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise UserError(f"--reconstruct {path}: file not found") from None
    except (OSError, ValueError) as error:
        raise UserError(f"--reconstruct {path}: not a readable .npy file ({error})") from None
    if images.ndim == 3 and expected[2] == 1:
        images = images[..., np.newaxis]
    if images.ndim != 4 or list(images.shape[1:]) != expected or len(images) == 0:
        raise UserError(f"--reconstruct {path}: has shape {list(images.shape)}; expected {allowed}")
    if not np.issubdtype(images.dtype, np.floating):
        raise UserError(f"--reconstruct {path}: has dtype {images.dtype}; expected {allowed} (divide uint8 by 255)")
    if not np.isfinite(images).all() or images.min() < 0 or images.max() > 1:
        raise UserError(
            f"--reconstruct {path}: values range over [{images.min():.3g}, {images.max():.3g}]; expected {allowed}"
        )
    return images.astype(np.float32)

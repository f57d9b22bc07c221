"""``genkit sample``: draw images from a trained run."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from genkit.errors import UserError
from genkit.runtime.run_folder import RunFolder

SAMPLE_FORMATS = (".npy", ".png")


def sample(run_dir: str | Path, num_samples: int, out: str | Path, seed: int = 0) -> np.ndarray:
    """Generates ``num_samples`` images from the run's model and writes them to ``out``.

    ``.npy``: float32 [N, H, W, C] in [0, 1]; ``.png``: one grid image.
    Returns the images.
    """
    out = Path(out)
    if out.suffix.lower() not in SAMPLE_FORMATS:
        raise UserError(f"--out {out}: unsupported file type '{out.suffix}'; allowed: {', '.join(SAMPLE_FORMATS)}")
    if num_samples < 1:
        raise UserError(f"-n {num_samples}: must be >= 1")
    model = RunFolder(run_dir).load_model()
    images = np.asarray(model.generate(**model.sample_inputs(num_samples, seed)), dtype=np.float32)
    from genkit.runtime.atomic import atomic_path

    if out.suffix.lower() == ".npy":
        with atomic_path(out) as temporary:
            np.save(temporary, images)
    else:
        from genkit.image_grid import image_grid, write_png

        write_png(out, image_grid(images))
    return images

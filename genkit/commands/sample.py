"""``genkit sample``: draw samples from a trained run."""

from __future__ import annotations

import sys
from pathlib import Path

from genkit.errors import UserError
from genkit.runtime.run_folder import RunFolder


def sample(run_dir: str | Path, num_samples: int, out: str | Path | None = None, seed: int = 0, **options):
    """Draws ``num_samples`` samples from the run's model and writes them to ``out``; returns them.

    Image models write ``.npy`` (float32 [N, H, W, C] in [0, 1]) or a ``.png``
    grid. Without ``out``, samples that are text (a language model's texts, a
    classifier's predictions as JSON) go to standard output; images need a
    file. ``options`` are the model's sampling options: ``label`` (conditional
    models), ``reconstruct`` (a .npy of images, for models with an encoder),
    ``prompt``, ``length``, ``temperature``, ``top_k``, ``top_p`` (text models).
    """
    if num_samples < 1:
        raise UserError(f"-n {num_samples}: must be >= 1")
    model = RunFolder(run_dir).load_model()
    allowed = model.sample_file_types
    if out is not None and Path(out).suffix.lower() not in allowed:
        raise UserError(f"--out {out}: unsupported file type '{Path(out).suffix}'; allowed: {', '.join(allowed)}")
    if out is None and not model.prints_samples:
        raise UserError(f"--out: required for '{model.registered_name}' samples; allowed: {', '.join(allowed)}")
    samples = model.generate_samples(num_samples, seed, **options)
    if out is None:
        sys.stdout.write(model.samples_text(samples))
    else:
        model.write_samples(Path(out), samples)
    return samples

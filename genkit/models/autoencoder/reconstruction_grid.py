"""A per-epoch grid of model inputs and their reconstructions."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np

from genkit.data.image_grid import image_grid, write_png

COLUMNS = 8


class ReconstructionGrid(keras.callbacks.Callback):
    """After each epoch, writes ``directory/epoch_NNN.png``: rows of inputs, each followed by a row
    of their reconstructions (``model.reconstruct``)."""

    def __init__(self, inputs: np.ndarray, directory: str | Path):
        super().__init__()
        self.inputs = np.asarray(inputs, np.float32)
        self.directory = Path(directory)

    def on_epoch_end(self, epoch, logs=None):
        outputs = np.asarray(self.model.reconstruct(self.inputs))
        rows = []
        for start in range(0, len(self.inputs), COLUMNS):
            rows += [self.inputs[start : start + COLUMNS], outputs[start : start + COLUMNS]]
        write_png(self.directory / f"epoch_{epoch + 1:03d}.png", image_grid(np.concatenate(rows), columns=COLUMNS))

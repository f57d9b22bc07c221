"""A callback that writes a grid of samples from fixed generator inputs after each epoch."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np

from genkit.data.image_grid import image_grid, write_png


class SampleGrid(keras.callbacks.Callback):
    """After each epoch, writes ``directory/epoch_NNN.png`` from one fixed batch of generator inputs."""

    def __init__(self, inputs: dict[str, np.ndarray], directory: str | Path):
        super().__init__()
        self.inputs = inputs
        self.directory = Path(directory)

    def on_epoch_end(self, epoch, logs=None):
        images = np.asarray(self.model.generate(**self.inputs))
        write_png(self.directory / f"epoch_{epoch + 1:03d}.png", image_grid(images))

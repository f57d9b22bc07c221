"""A per-epoch callback that prints (and saves) generated text at a few temperatures."""

from __future__ import annotations

from pathlib import Path

import keras

from genkit.atomic import write_bytes

TEMPERATURES = (0.0, 0.5, 1.0)


class TextSamples(keras.callbacks.Callback):
    """After each epoch, writes one text per temperature (0 = greedy) to ``directory/epoch_NNN.txt``.

    The texts are printed too, unless training runs with ``verbose=0`` (``genkit train --quiet``).
    """

    def __init__(self, directory: str | Path, length: int, seed: int = 0, prompt: str = "", temperatures=TEMPERATURES):
        super().__init__()
        self.directory = Path(directory)
        self.length = length
        self.seed = seed
        self.prompt = prompt
        self.temperatures = temperatures

    def on_epoch_end(self, epoch, logs=None):
        parts = []
        for temperature in self.temperatures:
            inputs = self.model.generation_inputs([self.prompt], self.length, temperature, 0, 1.0, self.seed)
            text = self.model.generate(**inputs)[0]
            parts.append(f"--- epoch {epoch + 1}, temperature {temperature} ---\n{text}\n")
        report = "\n".join(parts)
        if self.params.get("verbose", 1):
            print("\n" + report, flush=True)
        write_bytes(self.directory / f"epoch_{epoch + 1:03d}.txt", report.encode("utf-8"))

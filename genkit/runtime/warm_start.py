"""Warm starts (``genkit train MODEL --init-from RUN``): a new run that starts from another run's weights.

The new run takes the parent's config (its vocabulary and what else the data filled in) and, once
built, every weight of the parent's model.keras: the networks, their normalisation statistics and
moving averages. Its optimizers are its own, new, at step 0; it is a new run, not a resumed one.
A parent of another model, or whose weights do not fit the new model's shapes, is refused in one
line naming what differs.
"""

from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path

import numpy as np

from genkit.errors import UserError
from genkit.runtime.run_folder import RunFolder

FLAG = "--init-from"


@dataclasses.dataclass(frozen=True)
class ParentRun:
    """A complete run folder that a new run starts from: where it is, what it trained, its config sections."""

    path: Path
    model: str
    family: str
    config: dict
    train: dict

    @classmethod
    def read(cls, path: str | Path) -> "ParentRun":
        """The run's genkit.json; a missing, incomplete or damaged run folder is one line naming it."""
        folder = RunFolder(path)
        try:
            metadata = folder.read_metadata()
        except UserError as error:
            raise UserError(f"{FLAG} {error}") from None
        return cls(folder.path.resolve(), metadata["model"], str(metadata.get("family")), metadata["config"],
                   metadata["train"])

    def check_model(self, model: str, family: str) -> None:
        """Refuses a parent that trained another model (of this family or another)."""
        if self.model != model:
            raise UserError(
                f"{FLAG} {self.path}: the run trained '{self.model}' (family {self.family}), "
                f"not '{model}' (family {family}); a run starts only from a run of its own model"
            )

    def weights(self) -> list[tuple[str, np.ndarray]]:
        """(variable path, value) of every weight of the run's model.keras, in the model's order."""
        try:
            model = RunFolder(self.path).load_model()  # a missing or damaged model.keras is one line naming it
        except UserError as error:
            raise UserError(f"{FLAG} {error}") from None
        return [(variable.path, np.asarray(variable)) for variable in model.weights]

    def start(self, model) -> None:
        """Sets every weight of ``model`` (built, inside its strategy) to the run's, after checking their shapes."""
        weights = self.weights()
        check_same_shapes(model.weights, weights, f"{FLAG} {self.path}")
        model.set_weights([value for _, value in weights])


def check_same_shapes(variables: list, weights: list[tuple[str, np.ndarray]], source: str) -> None:
    """A one-line :class:`UserError` naming the first of ``variables`` (a new model's) whose shape differs from the
    ``weights`` in the same place (a run's), or the first that one of them has and the other lacks."""
    for variable, weight in itertools.zip_longest(variables, weights):
        if weight is None:
            raise UserError(
                f"{source}: the new model has {len(variables)} weight variables and the run {len(weights)}: "
                f"the run has no '{variable.path}' {_shape(variable.shape)}"
            )
        if variable is None:
            raise UserError(
                f"{source}: the new model has {len(variables)} weight variables and the run {len(weights)}: "
                f"the new model has no '{weight[0]}' {_shape(weight[1].shape)}"
            )
        if tuple(variable.shape) != tuple(weight[1].shape):
            raise UserError(
                f"{source}: the weights differ in shape: '{variable.path}' is {_shape(weight[1].shape)} in the run "
                f"and {_shape(variable.shape)} in the new model (a setting that changes shapes cannot start from it)"
            )


def _shape(shape) -> str:
    return "[" + ", ".join(str(int(size)) for size in shape) + "]"

"""The capability of models that generate a chosen class: a ``label`` input, ``--label K``, class-cycled samples."""

from __future__ import annotations

import numpy as np

from genkit.errors import UserError
from genkit.options import Option, whole_number
from genkit.signatures import ClassCycle, TensorDeclaration

LABEL_OPTION = Option("label", "conditional models: the class id to sample", whole_number(0), "K")


class ClassConditioning:
    """Mixed into a task whose networks take an int32 class id beside their other inputs.

    The task's config has a ``num_classes`` field, filled from the data
    (which must have labels); training batches carry ``"labels"``.
    """

    conditional = True
    num_classes: int | None = None

    def label_declaration(self) -> TensorDeclaration:
        return TensorDeclaration(
            "label", "label", "int32", (), value_range=(0, self.num_classes - 1),
            distribution=ClassCycle(self.num_classes), description="the class to generate",
        )

    def check_label(self, label: int) -> int:
        """``label`` as a class id of this model, or a one-line error."""
        if not 0 <= int(label) < self.num_classes:
            raise UserError(f"--label {label}: out of range; this model has classes 0 to {self.num_classes - 1}")
        return int(label)

    def sample_labels(self, num_samples: int, label: int | None = None) -> np.ndarray:
        """int32 class ids: all ``label`` when given, else the classes in turn (0, 1, ..., K-1, 0, ...)."""
        if label is not None:
            return np.full((num_samples,), self.check_label(label), np.int32)
        return self.label_declaration().draw(num_samples, 0)

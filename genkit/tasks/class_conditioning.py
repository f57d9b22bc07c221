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

    # -- explanations --------------------------------------------------------------------------

    def explanation_methods(self) -> dict:
        """Adds ``class-grid`` (a class x seed grid) and ``class-cam`` (the classifier's maps for the requested class)."""
        from genkit.tasks.explanations import ExplanationMethod

        methods = super().explanation_methods()
        methods["class-grid"] = ExplanationMethod(
            "class-grid", "a class x seed grid: each row one class, each column one latent draw", self._explain_class_grid,
        )
        methods["class-cam"] = ExplanationMethod(
            "class-cam", "the shipped classifier's Grad-CAM, Grad-CAM++ and Score-CAM for each requested class",
            self._explain_requested_classes,
        )
        return methods

    MAX_EXPLAINED_CLASSES = 12

    def _explained_classes(self) -> np.ndarray:
        """The classes a figure shows: all of them, or at most ``MAX_EXPLAINED_CLASSES`` spread evenly."""
        count = min(self.num_classes, self.MAX_EXPLAINED_CLASSES)
        return np.unique(np.linspace(0, self.num_classes - 1, count).round().astype(np.int32))

    def _images_of_classes(self, classes: np.ndarray, per_class: int, seed: int) -> np.ndarray:
        """float32 [classes, per_class, H, W, C]: the same ``per_class`` latent draws for every class."""
        inputs = self.sample_inputs(per_class, seed)
        inputs = {name: np.repeat(value[None], len(classes), axis=0).reshape(-1, *value.shape[1:])
                  for name, value in inputs.items() if name != "label"}
        labels = np.repeat(classes, per_class).astype(np.int32)
        images = np.asarray(self.generate(**inputs, label=labels), np.float32)
        return images.reshape(len(classes), per_class, *images.shape[1:])

    def _classifier_for_classes(self):
        """The shipped classifier when its classes are this model's (same count), else why not."""
        from genkit.tasks.explanations import ExplanationSkipped, shipped_classifier

        extractor, name = shipped_classifier(self.image_shape)
        classes = len(extractor.label_names or [])
        if classes != self.num_classes:
            raise ExplanationSkipped(
                f"the shipped {name} classifier has {classes} classes, this model {self.num_classes}: "
                "its classes are not the model's"
            )
        return extractor

    def _explain_class_grid(self, data, num_samples: int, seed: int) -> list:
        from genkit.tasks.explanations import ExplanationSkipped, Figure, class_name, classifier_images, image_table_figure

        classes = self._explained_classes()
        per_class = max(2, min(num_samples, 10))
        images = self._images_of_classes(classes, per_class, seed)
        names = getattr(data, "label_names", None)
        row_labels = [class_name(names, int(k)) for k in classes]
        agreement = ""
        try:
            extractor = self._classifier_for_classes()
        except ExplanationSkipped as skipped:
            agreement = f" (no classifier check: {skipped})"
        else:
            flat = classifier_images(extractor, images.reshape(-1, *images.shape[2:]))
            seen = extractor.predict_labels(flat).reshape(len(classes), per_class)
            row_labels = [f"{label} ({int((seen[row] == k).sum())}/{per_class})" for row, (label, k) in enumerate(zip(row_labels, classes))]
            agreement = " In brackets: how many of the row the shipped classifier labels with the row's class."
        return [Figure(
            name="class_grid", title="class x seed grid", method="class-grid",
            description=(f"Each row is one class asked for, each column one latent draw (seed {seed}) kept across the rows: "
                         f"what the class changes and what the latent code keeps.{agreement}"),
            png=image_table_figure("class x seed", images, row_labels, [f"z{index}" for index in range(per_class)]),
            arrays={"images": images, "classes": classes},
        )]

    def _explain_requested_classes(self, data, num_samples: int, seed: int) -> list:
        from genkit.tasks.explanations import classifier_cam_figure

        self._classifier_for_classes()
        classes = self._explained_classes()
        images = self._images_of_classes(classes, 1, seed)[:, 0]
        return [classifier_cam_figure(images, "one generated image per class", "class_cam", target_classes=classes)]

"""The capability of models that make images: image data, sample grids, FID-style evaluation, image exports."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from genkit.errors import UserError
from genkit.options import Option
from genkit.signatures import TensorDeclaration
from genkit.tasks.task import Task

# How many samples ``genkit evaluate`` generates by default (capped at the size of the test split).
DEFAULT_EVALUATION_SAMPLES = 10_000
FEATURES_OPTION = Option(
    "features", "image feature extractor: fashion_mnist (default) or inception", str, "NAME",
)


def image_declaration(name: str, image_shape, description: str = "") -> TensorDeclaration:
    """An image tensor as genkit's image models give and take it: float32 [N, H, W, C] in [0, 1]."""
    return TensorDeclaration(name, "image", "float32", tuple(image_shape), value_range=(0.0, 1.0), description=description)


class ImageGenerationTask(Task):
    """A task that trains on images and generates images (GANs, VAEs, autoencoders).

    ``training_image_range`` is the value range the networks train on
    ((-1, 1) for a tanh generator, (0, 1) for a sigmoid decoder); every
    endpoint gives and takes images in [0, 1]. A class-conditional model
    also mixes in :class:`~genkit.tasks.class_conditioning.ClassConditioning`:
    its batches then carry ``"labels"`` and its config a ``num_classes``.
    """

    training_image_range = (-1.0, 1.0)
    conditional = False
    data_fields = ("images",)
    example_unit = "images"
    sample_file_types = (".npy", ".png")
    final_samples_file = "samples.png"
    evaluation_options = (FEATURES_OPTION,)

    # -- training data -------------------------------------------------------------------------

    @classmethod
    def data_options(cls, model_config) -> dict:
        # A folder of images is resized to the model's image size when the config fixes one.
        shape = model_config.image_shape
        return {"image_size": tuple(shape[:2]) if shape else None, "channels": shape[2] if shape else None}

    @classmethod
    def complete_config(cls, model_config, data, spec: str):
        """Fills ``image_shape`` from the data (or checks it); a conditional model gets ``num_classes``."""
        shape = model_config.image_shape
        if shape is None:
            model_config = model_config.replace("data", image_shape=list(data.image_shape))
        elif tuple(shape) != tuple(data.image_shape):
            raise UserError(f"--dataset {spec}: images are {list(data.image_shape)} but the config's image_shape is {list(shape)}")
        if cls.conditional:
            if data.train_labels is None:
                raise UserError(
                    f"--dataset {spec}: {cls.registered_name} is a conditional model and needs "
                    "labelled images (class sub-folders, y_train in an .npz, a TFDS 'label' feature)"
                )
            num_classes = data.num_classes
            if model_config.num_classes is None:
                model_config = model_config.replace("data", num_classes=num_classes)
            elif model_config.num_classes < num_classes:
                raise UserError(
                    f"--dataset {spec}: has {num_classes} classes but the config's num_classes is {model_config.num_classes}"
                )
        return model_config

    def training_dataset(self, data, batch_size: int, shuffle_seed: int):
        """Dict batches ``{"images"[, "labels"]}`` with images in ``training_image_range``."""
        from genkit.data.image_pipeline import image_pipeline

        return image_pipeline(
            data.train_images, data.train_labels if self.conditional else None,
            batch_size=batch_size, shuffle_seed=shuffle_seed, value_range=self.training_image_range,
        )

    def preprocessing_description(self) -> dict:
        from genkit.data.image_pipeline import scale_description

        return {"scaling": scale_description(self.training_image_range)}

    def training_callbacks(self, run, num_samples: int, seed: int) -> list:
        """A grid of samples from fixed inputs after each epoch."""
        from genkit.training.sample_grid import SampleGrid

        return [SampleGrid(self.sample_inputs(num_samples, seed), run.samples_dir)]

    # -- samples -------------------------------------------------------------------------------

    def generate_samples(self, num_samples: int, seed: int = 0, **options):
        """float32 images [N, H, W, C] in [0, 1]."""
        return np.asarray(super().generate_samples(num_samples, seed, **options), dtype=np.float32)

    def write_samples(self, path: str | Path, samples) -> None:
        """``.npy``: the float32 array; ``.png``: one grid image. Written atomically."""
        path = Path(path)
        if path.suffix.lower() == ".npy":
            from genkit.atomic import atomic_path

            with atomic_path(path) as temporary:
                np.save(temporary, np.asarray(samples, dtype=np.float32))
        else:
            from genkit.data.image_grid import image_grid, write_png

            write_png(path, image_grid(np.asarray(samples)))

    # -- evaluation ----------------------------------------------------------------------------

    @classmethod
    def evaluation_data(cls, metadata: dict, dataset: str | None = None, data_dir: str | None = None):
        """The run's dataset, or ``dataset``; its images must have the model's shape."""
        from genkit.data.dataset_registry import load_dataset

        shape = metadata["config"].get("image_shape")
        spec = dataset or metadata["data"]["name"]
        data_dir = data_dir if dataset else (data_dir or metadata["train"].get("data_dir"))
        data = load_dataset(
            spec, ("images",), f"'{metadata['model']}'", data_dir=data_dir,
            image_size=tuple(shape[:2]) if shape else None, channels=shape[2] if shape else None,
        )
        if shape and tuple(data.image_shape) != tuple(shape):
            raise UserError(f"--dataset {spec}: images are {list(data.image_shape)}; the model makes {list(shape)}")
        if dataset and data.test_images is None:
            # Images the user named for comparison: all of them, when they have no test split.
            data = dataclasses.replace(
                data, test_images=data.train_images, test_labels=data.train_labels,
                evaluation_split="all (the dataset has no test split)",
            )
        return data

    def evaluation_metrics(self, data, num_samples: int | None = None, seed: int = 0, features: str | None = None, **options) -> dict:
        """``fid``, ``kid``, ``kid_std``, ``precision``, ``recall`` of ``num_samples`` generated images
        (default :data:`DEFAULT_EVALUATION_SAMPLES`, capped at the test split's size) against ``data``'s
        test split, on the features of ``features`` (default ``fashion_mnist``, or ``inception``); for a
        conditional model also ``conditioning_accuracy``."""
        from genkit.evaluation import DEFAULT_FEATURES, image_generation_metrics, load_feature_extractor

        self.check_options("evaluation", options)
        reference = self.evaluation_reference_images(data)
        extractor = load_feature_extractor(features or DEFAULT_FEATURES)
        count = num_samples or min(DEFAULT_EVALUATION_SAMPLES, len(reference))
        generated = self.evaluation_samples(count, seed)
        if not np.isfinite(generated).all():
            raise UserError(f"{self.registered_name}: the model generates NaN or infinite values; nothing to evaluate")
        metrics = image_generation_metrics(generated, reference, extractor, seed=seed)
        if self.conditional:
            # The share of images asked for class K that the shipped Fashion-MNIST classifier labels K
            # (conditioning_accuracy, and per class), over num_samples / num_classes images per class.
            from genkit.evaluation.conditioning_accuracy import model_conditioning_accuracy

            per_class = max(1, int(metrics["num_samples"]) // self.num_classes)
            metrics.update(model_conditioning_accuracy(self, data.label_names, per_class, seed=seed))
        return metrics

    @staticmethod
    def evaluation_reference_images(data) -> np.ndarray:
        """``data``'s test images as float32 in [0, 1]; a one-line error when it has no test split."""
        if getattr(data, "test_images", None) is None:
            raise UserError(
                f"{data.name}: has no test split to compare samples with; pass --dataset SPEC "
                "(e.g. fashion_mnist, or an .npz with x_test)"
            )
        return data.test_images.astype(np.float32) / 255.0

    def evaluation_samples(self, num_samples: int, seed: int, batch_size: int = 500) -> np.ndarray:
        """What ``generate_samples(num_samples, seed)`` returns by default, generated batch by batch."""
        inputs = self.sample_inputs(num_samples, seed)
        parts = [
            np.asarray(self.generate(**{name: value[start : start + batch_size] for name, value in inputs.items()}))
            for start in range(0, num_samples, batch_size)
        ]
        return np.concatenate(parts).astype(np.float32)

    # -- explanations --------------------------------------------------------------------------

    def explanation_methods(self) -> dict:
        """Adds ``classifier-cam``: where the shipped classifier looks in generated images, and what it sees."""
        from genkit.tasks.explanations import ExplanationMethod

        methods = super().explanation_methods()
        methods["classifier-cam"] = ExplanationMethod(
            "classifier-cam", "the shipped classifier's Grad-CAM, Grad-CAM++ and Score-CAM on generated images",
            self._explain_generated_with_classifier, needs_data=False,
        )
        return methods

    def _explain_generated_with_classifier(self, data, num_samples: int, seed: int) -> list:
        from genkit.tasks.explanations import classifier_cam_figure

        return [classifier_cam_figure(self.evaluation_samples(num_samples, seed), "generated images", "classifier_cam_generated")]

    # -- export --------------------------------------------------------------------------------

    def example_input(self, declaration, num_samples: int, seed: int, data=None) -> np.ndarray:
        """Image inputs: ``num_samples`` of ``data``'s training images drawn with ``seed`` (repeating only
        when the data has fewer), else a seeded uniform draw; other inputs as the base draws them."""
        if declaration.modality != "image":
            return super().example_input(declaration, num_samples, seed, data)
        rng = np.random.default_rng(seed)
        if data is None:
            return rng.uniform(0, 1, (num_samples, *declaration.shape)).astype(np.float32)
        count = len(data.train_images)
        indices = rng.choice(count, num_samples, replace=num_samples > count)
        return data.train_images[indices].astype(np.float32) / 255.0

    def export_quality(self, endpoint: str, run_export, data=None, num_samples: int = 1000, seed: int = 0) -> dict:
        """FID/KID/precision/recall of Keras' and of the export's declared image outputs against the run's
        test images, with export-minus-Keras deltas (and reconstruction errors for outputs that rebuild an input)."""
        from genkit.evaluation.export_cost import image_quality_delta

        return image_quality_delta(self, endpoint, run_export, data=data, num_samples=num_samples, seed=seed)

"""The base class of genkit's trainable models: the contract between a family and the shared runtime."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from genkit.errors import UserError

# How many samples ``genkit evaluate`` generates by default (capped at the size of the test split).
DEFAULT_EVALUATION_SAMPLES = 10_000


class GenerativeTask(keras.Model):
    """A Keras model with a custom ``train_step`` that the genkit runtime can drive.

    A family subclasses this (and registers itself with
    :func:`genkit.registry.register_model`) and implements:

    - ``from_hyperparameters(config)``: build the networks from a typed config
      (complete: ``prepare_data`` has filled what the data decides, such as
      ``image_shape``).
    - ``compile_for_training(config, seed)``: create and build the optimizers
      (inside the active distribution strategy scope) and compile.
    - ``train_step(data)``: one update, returning a dict of scalar metrics.
    - ``checkpoint_objects()``: every object whose state a checkpoint must hold.
    - ``sample_inputs(num_samples, seed)``: generator inputs (e.g. ``{"z": ...}``).
    - ``generate(**inputs)``: images as float32 in [0, 1], shape [N, H, W, C].
    - ``serving_endpoints()``: ``{name: (function, input_signature)}`` for the
      TF Serving SavedModel; ``serving_default`` is required.

    The other methods have defaults for image models that families override
    where they differ: what data they train on (``prepare_data``,
    ``training_dataset``), what samples look like (``generate_samples``,
    ``write_samples``), how they are evaluated (``evaluation_data``,
    ``evaluation_metrics``) and what edge exports convert
    (``edge_endpoints``, ``endpoint_inputs``, ``export_metadata``).

    ``data_scale`` says how training images are scaled ("tanh" for [-1, 1],
    "unit" for [0, 1]). ``uses_labels`` makes the default training dataset
    yield ``(images, labels)``; such a model's config has a ``num_classes``
    field, filled from the data.
    """

    data_scale = "tanh"
    uses_labels = False
    sample_file_types = (".npy", ".png")
    final_samples_file = "samples.png"

    # -- what a family must implement ----------------------------------------------------------

    @classmethod
    def from_hyperparameters(cls, config):
        raise NotImplementedError(f"{cls.__name__} must implement from_hyperparameters(config).")

    def compile_for_training(self, config, seed: int = 0):
        raise NotImplementedError(f"{type(self).__name__} must implement compile_for_training().")

    def checkpoint_objects(self) -> dict:
        raise NotImplementedError(f"{type(self).__name__} must implement checkpoint_objects().")

    def sample_inputs(self, num_samples: int, seed: int) -> dict[str, np.ndarray]:
        raise NotImplementedError(f"{type(self).__name__} must implement sample_inputs().")

    def generate(self, **inputs):
        raise NotImplementedError(f"{type(self).__name__} must implement generate().")

    def serving_endpoints(self) -> dict:
        raise NotImplementedError(f"{type(self).__name__} must implement serving_endpoints().")

    # -- optimizers: one by default (GANs, with two, override compile) --------------------------

    def compile(self, optimizer=None, **kwargs):
        """Compiles with ``optimizer`` and builds it now, inside whatever strategy scope is active."""
        super().compile(**kwargs)
        self.optimizer = optimizer
        if optimizer is not None:
            optimizer.build(self._trainable_network_variables())

    def get_compile_config(self):
        # model.keras holds the networks; optimizer state lives in the run's checkpoints.
        return None

    def _trainable_network_variables(self) -> list:
        """The variables that the single optimizer of ``compile`` trains."""
        raise NotImplementedError(f"{type(self).__name__} must implement _trainable_network_variables().")

    def set_training_progress(self, progress: float) -> None:
        """Called by the trainer before every step with the fraction (0 to 1) of the planned training done.

        The plan is the requested epochs, or the time limit when it ends
        first. Families with a learning-rate schedule set their rates here;
        the default does nothing.
        """

    # -- training data -------------------------------------------------------------------------

    @classmethod
    def prepare_data(cls, model_config, train_config):
        """Loads the training data and completes the config from it; returns ``(data, model_config)``.

        Image models: the dataset of ``train_config.dataset``; the config's
        ``image_shape`` is filled from it (or must match it), and a model that
        ``uses_labels`` gets ``num_classes`` from the data, which must have labels.
        """
        from genkit.data import load_image_dataset

        shape = model_config.image_shape
        # A folder of images is resized to the model's image size when the config fixes one.
        data = load_image_dataset(
            train_config.dataset, train_config.data_dir,
            image_size=tuple(shape[:2]) if shape else None, channels=shape[2] if shape else None,
        )
        if shape is None:
            model_config = model_config.replace("data", image_shape=list(data.image_shape))
        elif tuple(shape) != tuple(data.image_shape):
            raise UserError(
                f"--dataset {train_config.dataset}: images are {list(data.image_shape)} but the config's "
                f"image_shape is {list(shape)}"
            )
        if cls.uses_labels:
            if data.train_labels is None:
                raise UserError(
                    f"--dataset {train_config.dataset}: {cls.registered_name} is a conditional model and needs "
                    "labelled images (class sub-folders, y_train in an .npz, a TFDS 'label' feature)"
                )
            num_classes = data.num_classes
            if model_config.num_classes is None:
                model_config = model_config.replace("data", num_classes=num_classes)
            elif model_config.num_classes < num_classes:
                raise UserError(
                    f"--dataset {train_config.dataset}: has {num_classes} classes but the config's "
                    f"num_classes is {model_config.num_classes}"
                )
        return data, model_config

    def training_dataset(self, data, batch_size: int, shuffle_seed: int):
        """Global batches exactly as ``train_step`` receives them (seeded shuffle, remainder dropped)."""
        from genkit.data import image_pipeline

        return image_pipeline(
            data.train_images, data.train_labels if self.uses_labels else None,
            batch_size=batch_size, shuffle_seed=shuffle_seed, scale=self.data_scale,
        )

    def preprocessing_description(self) -> dict:
        """How the data is prepared for the model (merged into the run's genkit.json "data")."""
        from genkit.data import scale_description

        return {"scaling": scale_description(self.data_scale)}

    def training_callbacks(self, run, num_samples: int, seed: int) -> list:
        """Callbacks that show progress after each epoch: a grid of samples from fixed inputs."""
        from genkit.runtime.callbacks import SampleGrid

        return [SampleGrid(self.sample_inputs(num_samples, seed), run.samples_dir)]

    # -- samples -------------------------------------------------------------------------------

    def generate_samples(self, num_samples: int, seed: int = 0, **options):
        """Samples for ``genkit sample``: float32 images [N, H, W, C] in [0, 1].

        ``options`` are the sampling flags a user gave (``label``,
        ``reconstruct``, ``prompt``, ...); a family handles the ones it knows
        and passes the rest here, where any that is set is an error.
        """
        self.reject_options(options)
        return np.asarray(self.generate(**self.sample_inputs(num_samples, seed)), dtype=np.float32)

    def reject_options(self, options: dict) -> None:
        """A one-line error for the first sampling option this model does not take."""
        for name, value in options.items():
            if value is not None:
                flag = "--" + name.replace("_", "-")
                raise UserError(f"{flag}: not an option of '{self.registered_name}' models ({self.option_hint(name)})")

    def option_hint(self, name: str) -> str:
        hints = {
            "label": "it is not a conditional model",
            "reconstruct": "it has no encoder",
            "importance_samples": "it has no likelihood to estimate",
        }
        return hints.get(name, "it is not a text model")

    def check_label(self, label: int) -> int:
        """``label`` as a class id of this conditional model, or a one-line error."""
        num_classes = getattr(self, "num_classes", None)
        if not self.uses_labels or num_classes is None:
            raise UserError(f"--label: not an option of '{self.registered_name}' models (it is not a conditional model)")
        if not 0 <= int(label) < num_classes:
            raise UserError(f"--label {label}: out of range; this model has classes 0 to {num_classes - 1}")
        return int(label)

    def sample_labels(self, num_samples: int, label: int | None = None) -> np.ndarray:
        """int32 class ids: all ``label`` when given, else the classes in turn (0, 1, ..., K-1, 0, ...)."""
        if label is not None:
            return np.full((num_samples,), self.check_label(label), np.int32)
        return (np.arange(num_samples) % self.num_classes).astype(np.int32)

    def write_samples(self, path: str | Path, samples) -> None:
        """``.npy``: the float32 array; ``.png``: one grid image. Written atomically."""
        path = Path(path)
        if path.suffix.lower() == ".npy":
            from genkit.runtime.atomic import atomic_path

            with atomic_path(path) as temporary:
                np.save(temporary, np.asarray(samples, dtype=np.float32))
        else:
            from genkit.image_grid import image_grid, write_png

            write_png(path, image_grid(np.asarray(samples)))

    # -- evaluation ----------------------------------------------------------------------------

    @classmethod
    def evaluation_data(cls, metadata: dict, dataset: str | None = None, data_dir: str | None = None):
        """The data ``genkit evaluate`` compares against: the run's dataset, or ``dataset``."""
        from genkit.data import load_image_dataset

        shape = metadata["config"].get("image_shape")
        spec = dataset or metadata["data"]["name"]
        data_dir = data_dir if dataset else (data_dir or metadata["train"].get("data_dir"))
        data = load_image_dataset(
            spec, data_dir, image_size=tuple(shape[:2]) if shape else None, channels=shape[2] if shape else None,
        )
        if shape and tuple(data.image_shape) != tuple(shape):
            raise UserError(f"--dataset {spec}: images are {list(data.image_shape)}; the model makes {list(shape)}")
        return data

    def evaluation_metrics(
        self, data, num_samples: int | None = None, seed: int = 0, features: str | None = None, **options
    ) -> dict:
        """A flat dict of metrics of this model on ``data`` (written to metrics.json).

        Image generators: ``fid``, ``kid``, ``kid_std``, ``precision``,
        ``recall`` between ``num_samples`` generated images (default
        :data:`DEFAULT_EVALUATION_SAMPLES`, capped at the size of the test
        split) and ``data``'s test split, on the features of ``features``
        (default ``fashion_mnist``, the shipped classifier; or ``inception``),
        plus ``num_samples``, ``num_reference_samples`` and ``features``. See
        :func:`genkit.evaluation.image_generation_metrics`. Families add their
        own metrics by overriding this and calling ``super()``; options that no
        family handled (``importance_samples`` of a GAN) are one-line errors.
        """
        from genkit.evaluation import DEFAULT_FEATURES, image_generation_metrics, load_feature_extractor

        self.reject_options(options)
        reference = self.evaluation_reference_images(data)
        extractor = load_feature_extractor(features or DEFAULT_FEATURES)
        count = num_samples or min(DEFAULT_EVALUATION_SAMPLES, len(reference))
        generated = self.evaluation_samples(count, seed)
        if not np.isfinite(generated).all():
            raise UserError(f"{self.registered_name}: the model generates NaN or infinite values; nothing to evaluate")
        return image_generation_metrics(generated, reference, extractor, seed=seed)

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

    # -- serving and export --------------------------------------------------------------------

    def serving_description(self) -> dict:
        """Names, shapes and dtypes of each serving endpoint's inputs and outputs (for genkit.json)."""
        return describe_endpoints(self.serving_endpoints())

    def edge_endpoints(self) -> dict:
        """``{name: (function, input_signature)}`` that TFLite and ONNX exports convert."""
        return self.serving_endpoints()

    def endpoint_inputs(self, endpoint: str, num_samples: int, seed: int, data=None) -> dict[str, np.ndarray]:
        """Example inputs of a serving or edge endpoint (parity checks, latency, int8 calibration).

        The default serves endpoints whose inputs are among ``sample_inputs``,
        plus an ``images`` input: ``data``'s training images drawn with ``seed``
        (else a seeded uniform draw), as float32 in [0, 1].
        """
        from genkit.models.reconstruction_images import example_images

        _, input_signature = {**self.serving_endpoints(), **self.edge_endpoints()}[endpoint]
        inputs = self.sample_inputs(num_samples, seed)
        for spec in input_signature:
            if spec.name == "images" and "images" not in inputs:
                inputs["images"] = example_images(num_samples, seed, tuple(spec.shape[1:]), data)
        names = [spec.name for spec in input_signature]
        if not set(names) <= set(inputs):
            raise NotImplementedError(
                f"{type(self).__name__} must implement endpoint_inputs() for endpoint '{endpoint}' (inputs {names})."
            )
        return {name: inputs[name] for name in names}

    def export_metadata(self) -> dict:
        """Extra JSON an exported model's genkit.json carries (e.g. a vocabulary)."""
        return {}

    def export_quality(self, endpoint: str, run_export, data=None, num_samples: int = 1000, seed: int = 0) -> dict:
        """What an exported (quantised) endpoint costs in this task's own metric, against Keras.

        ``run_export({input_name: array}) -> {output_name: array}`` runs the
        exported file; compare it with this model on the same
        ``endpoint_inputs(endpoint, num_samples, seed, data)``. The default
        scores image outputs: FID/KID/precision/recall of both sides against
        the run's test images, with export-minus-Keras deltas. Families with
        other outputs override (text: bits-per-character delta, greedy-text
        agreement). A ``"summary"`` string in the result is what ``genkit export``
        prints in its table (the default prints the FID/KID deltas).
        """
        from genkit.export_quality import image_quality_delta

        return image_quality_delta(self, endpoint, run_export, data=data, num_samples=num_samples, seed=seed)


def describe_endpoints(endpoints: dict) -> dict:
    """``{name: {"inputs": {...}, "outputs": {...}}}`` with dtypes and shapes (batch dimension None)."""
    description = {}
    for name, (function, input_signature) in endpoints.items():
        # Zeros of every input (empty strings for string inputs).
        outputs = function(*[tf.zeros([1, *spec.shape[1:]], dtype=spec.dtype) for spec in input_signature])
        description[name] = {
            "inputs": {
                spec.name: {"dtype": spec.dtype.name, "shape": [None, *spec.shape[1:]]} for spec in input_signature
            },
            "outputs": {
                key: {"dtype": value.dtype.name, "shape": [None, *value.shape[1:]]} for key, value in outputs.items()
            },
        }
    return description

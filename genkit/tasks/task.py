"""The base class of genkit's trainable models: what every family shares, whatever its modalities.

A generator, a classifier (fusion) and a contrastive encoder (the dual encoder) are all a :class:`Task` (keras-hub's
name for the same thing: a model with its training, serving and preprocessing).

Modality-specific behaviour lives in capability classes that a family
composes (:class:`~genkit.tasks.image_generation.ImageGenerationTask` for
models that make images, :class:`~genkit.tasks.class_conditioning.ClassConditioning`
for models that take a class id); language models carry their own.
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from genkit.errors import UserError
from genkit.options import Option
from genkit.signatures import Endpoint, TensorDeclaration


class Task(keras.Model):
    """A Keras model with a custom ``train_step`` that the genkit runtime drives.

    A family subclasses this (through its capabilities), registers each model
    with :func:`genkit.registry.register_model`, and implements:

    - ``from_hyperparameters(config)``: build the networks from a typed,
      complete config (``prepare_data`` has filled what the data decides).
    - ``compile_for_training(config, seed)``: create and build the optimizers
      (inside the active distribution strategy scope) and compile.
    - ``train_step(batch)``: one update from a dict batch keyed by field name
      (``{"images": ..., "labels": ...}``, ``{"tokens": ...}``), returning a
      dict of scalar metrics.
    - ``checkpoint_objects()``: every object whose state a checkpoint must hold.
    - ``endpoints()``: ``{name: Endpoint}``, each with its declared inputs and
      outputs (:mod:`genkit.signatures`); ``serving_default`` is required.

    Class attributes declare the rest: ``data_fields`` (what it needs from a
    dataset), ``example_unit`` (what one training example is, for
    throughput), ``generation_endpoint`` (the endpoint that ``generate``
    runs), ``sample_file_types`` / ``final_samples_file``, and the options
    ``genkit sample`` (``sampling_options``) and ``genkit evaluate``
    (``evaluation_options``) take for this model.
    """

    registered_name = "model"  # set by register_model
    family = ""
    data_fields: tuple[str, ...] = ()
    example_unit = "examples"
    generation_endpoint = "serving_default"
    sample_file_types: tuple[str, ...] = ()
    prints_samples = False  # True: samples_text() gives them as text (`genkit sample` without --out prints them)
    final_samples_file: str | None = None
    sampling_options: tuple[Option, ...] = ()
    evaluation_options: tuple[Option, ...] = ()

    # -- what a family must implement ----------------------------------------------------------

    @classmethod
    def from_hyperparameters(cls, config):
        raise NotImplementedError(f"{cls.__name__} must implement from_hyperparameters(config).")

    def compile_for_training(self, config, seed: int = 0):
        raise NotImplementedError(f"{type(self).__name__} must implement compile_for_training().")

    def checkpoint_objects(self) -> dict:
        raise NotImplementedError(f"{type(self).__name__} must implement checkpoint_objects().")

    def endpoints(self) -> dict[str, Endpoint]:
        raise NotImplementedError(f"{type(self).__name__} must implement endpoints().")

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

    def minimize(self, tape, loss, variables=None, optimizer=None):
        """The end of a train step: ``optimizer`` (the model's one by default) applies the gradient of ``loss``.

        ``loss`` is averaged over the global batch (``tf.nn.compute_average_loss``; the optimizer sums gradients
        across replicas) and was computed under ``tape``. Under mixed_float16 the optimizer's loss scale seeds the
        backward pass (the gradient of the scaled loss, computed without a second op inside the tape) and the
        loss-scale optimizer unscales the gradients and skips a step that overflowed. Returns the loss of the
        whole global batch (``loss`` times the replicas), what a loss tracker records.
        """
        optimizer = self.optimizer if optimizer is None else optimizer
        variables = self._trainable_network_variables() if variables is None else variables
        gradients = tape.gradient(loss, variables, output_gradients=optimizer.scale_loss(tf.ones_like(loss)))
        optimizer.apply_gradients(zip(gradients, variables))
        return loss * tf.distribute.get_strategy().num_replicas_in_sync

    def set_training_progress(self, progress: float) -> None:
        """Called by the trainer before every step with the fraction (0 to 1) of the planned training done.

        The plan is the requested epochs, or the time limit when it ends
        first. Families with a learning-rate schedule set their rates here.
        """

    # -- training data -------------------------------------------------------------------------

    @classmethod
    def prepare_data(cls, model_config, train_config):
        """Loads the training data of ``train_config.dataset``; returns ``(data, completed model_config)``.

        The dataset must yield ``data_fields``; :meth:`complete_config` fills
        what the data decides (an image shape, a vocabulary, ...).
        """
        from genkit.data.dataset_registry import load_dataset

        needs = cls.data_fields + (("labels",) if getattr(cls, "conditional", False) else ())
        data = load_dataset(
            train_config.dataset, needs, f"'{cls.registered_name}'", data_dir=train_config.data_dir,
            **cls.data_options(model_config),
        )
        return data, cls.complete_config(model_config, data, train_config.dataset)

    @classmethod
    def data_options(cls, model_config) -> dict:
        """Options for the dataset's loader (an image size for folders, a validation fraction for text)."""
        return {}

    @classmethod
    def complete_config(cls, model_config, data, spec: str):
        """``model_config`` with what ``data`` decides filled in (or checked)."""
        return model_config

    def training_dataset(self, data, batch_size: int, shuffle_seed: int):
        """Global dict batches exactly as ``train_step`` receives them (seeded shuffle, remainder dropped)."""
        raise NotImplementedError(f"{type(self).__name__} must implement training_dataset().")

    def preprocessing_description(self) -> dict:
        """How the data is prepared for the model (merged into the run's genkit.json "data")."""
        return {}

    def training_callbacks(self, run, num_samples: int, seed: int) -> list:
        """Callbacks that show progress after each epoch (sample grids, text samples)."""
        return []

    # -- endpoints -----------------------------------------------------------------------------

    def serving_endpoints(self) -> dict:
        """``{name: (function, input_signature)}`` of the TF Serving SavedModel (functions behind their input checks)."""
        return {name: (e.checked_function, e.input_signature) for name, e in self.endpoints().items() if e.serving}

    def edge_endpoints(self) -> dict:
        """``{name: (function, input_signature)}`` that TFLite and ONNX exports convert."""
        return {name: (e.function, e.input_signature) for name, e in self.endpoints().items() if e.edge}

    def serving_description(self) -> dict:
        """Declared inputs and outputs of each serving endpoint (for genkit.json)."""
        return {name: endpoint.describe() for name, endpoint in self.endpoints().items() if endpoint.serving}

    # -- samples -------------------------------------------------------------------------------

    def sample_inputs(self, num_samples: int, seed: int) -> dict[str, np.ndarray]:
        """Inputs of the generation endpoint, each drawn from its declared distribution."""
        endpoint = self.endpoints()[self.generation_endpoint]
        return {d.name: d.draw(num_samples, seed) for d in endpoint.inputs}

    def generate(self, **inputs):
        """The generation endpoint's first output on ``inputs``."""
        endpoint = self.endpoints()[self.generation_endpoint]
        return endpoint.function(*[inputs[name] for name in endpoint.input_names])[endpoint.outputs[0].name]

    def generate_samples(self, num_samples: int, seed: int = 0, **options):
        """Samples for ``genkit sample``; ``options`` are the model's own ``sampling_options``."""
        self.check_options("sampling", options)
        return self.generate(**self.sample_inputs(num_samples, seed))

    def write_samples(self, path: str | Path, samples) -> None:
        raise NotImplementedError(f"{type(self).__name__} must implement write_samples().")

    def samples_text(self, samples) -> str:
        """The samples as text for standard output (models whose ``prints_samples`` is true)."""
        raise NotImplementedError(f"{type(self).__name__} samples need a file (--out)")

    def check_options(self, command: str, options: dict) -> None:
        """A one-line error for the first set option that this model's ``command`` options do not include."""
        declared = self.sampling_options if command == "sampling" else self.evaluation_options
        allowed = {option.name for option in declared}
        for name, value in options.items():
            if value is not None and name not in allowed:
                flag = "--" + name.replace("_", "-")
                takes = ", ".join(option.flag for option in declared) or "none"
                verb = "sample" if command == "sampling" else "evaluate"
                raise UserError(f"{flag}: not an option of '{self.registered_name}' models (genkit {verb} options it takes: {takes})")

    # -- evaluation ----------------------------------------------------------------------------

    @classmethod
    def evaluation_data(cls, metadata: dict, dataset: str | None = None, data_dir: str | None = None):
        """The data ``genkit evaluate`` compares against: the run's dataset, or ``dataset``."""
        raise NotImplementedError(f"{cls.__name__} must implement evaluation_data().")

    def evaluation_metrics(self, data, num_samples: int | None = None, seed: int = 0, **options) -> dict:
        """A flat dict of metrics of this model on ``data`` (written to metrics.json)."""
        raise NotImplementedError(f"{type(self).__name__} must implement evaluation_metrics().")

    # -- explanations --------------------------------------------------------------------------

    def explanation_methods(self) -> dict:
        """``{name: ExplanationMethod}`` that ``genkit explain`` can run on this model (none by default).

        Each capability adds its own to ``super().explanation_methods()``; see
        :mod:`genkit.tasks.explanations`.
        """
        return {}

    # -- export --------------------------------------------------------------------------------

    def endpoint_inputs(self, endpoint: str, num_samples: int, seed: int, data=None) -> dict[str, np.ndarray]:
        """Example inputs of an endpoint (parity checks, latency, int8 calibration), one per declared input."""
        declared = self.endpoints()[endpoint]
        return {d.name: self.example_input(d, num_samples, seed, data) for d in declared.inputs}

    def example_input(self, declaration: TensorDeclaration, num_samples: int, seed: int, data=None) -> np.ndarray:
        """``num_samples`` example values of one declared input: drawn from its distribution when it has one.

        Capabilities extend this for their modalities (images from the data, tokens, states).
        """
        if declaration.distribution is not None:
            return declaration.draw(num_samples, seed)
        raise NotImplementedError(
            f"{type(self).__name__} has no example values for input '{declaration.name}' "
            f"(modality {declaration.modality}): override example_input()."
        )

    def export_metadata(self) -> dict:
        """Extra JSON an exported model's genkit.json carries (e.g. a vocabulary)."""
        return {}

    def export_quality(self, endpoint: str, run_export, data=None, num_samples: int = 1000, seed: int = 0) -> dict:
        """What an exported (quantised) endpoint costs in this task's own metric, against Keras.

        ``run_export({input_name: array}) -> {output_name: array}`` runs the
        exported file. A ``"summary"`` string in the result is what
        ``genkit export`` prints in its table.
        """
        return {"skipped": f"no task metric for endpoint '{endpoint}'"}

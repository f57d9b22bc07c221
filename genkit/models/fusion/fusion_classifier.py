"""fusion-classifier: images, texts and audio (any mix) fused into one class prediction."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from genkit.errors import UserError
from genkit.options import Option
from genkit.registry import register_model
from genkit.signatures import Endpoint
from genkit.models.fusion.fusion_classifier_config import FusionClassifierConfig
from genkit.models.fusion.fusion_evaluation import classification_metrics, relabelled_to_run
from genkit.models.fusion.fusion_explanations import fusion_explanation_methods
from genkit.models.fusion.fusion_export_cost import accuracy_cost
from genkit.models.fusion.fusion_network import build_fusion_network
from genkit.models.fusion.fusion_serving import fusion_endpoints
from genkit.tasks.paired_preprocessor import PairedPreprocessor
from genkit.tasks.paired_task import PairedDataTask
from genkit.training.loss_scaling import with_loss_scaling
from genkit.training.noise import replica_uniform

EXAMPLES_OPTION = Option(
    "examples", "a --dataset spec whose examples to classify (e.g. manifest:my_files.jsonl; all its rows)", str, "SPEC",
)
EVALUATION_BATCH = 256


@register_model(
    "fusion-classifier",
    config=FusionClassifierConfig,
    family="fusion",
    description="Multimodal classifier: an encoder per modality (image, text, audio), fused (weighted, gated, attention, ...)",
    train_defaults={"epochs": 30, "batch_size": 64},
    tiny_overrides=["width=8", "image_filters=[4]", "embedding_dim=8", "text_units=8", "audio_filters=[4]", "num_mel_bins=8"],
)
class FusionClassifier(PairedDataTask):
    """Keras subclass model: ``train_step`` with modality dropout; ``call`` gives the class logits.

    Batches are dicts keyed by input name (encoded by the preprocessor) plus
    the ``target`` label ids. Endpoints: ``serving_default`` (raw inputs),
    ``classify_partial`` (raw inputs and a presence mask: a missing modality
    is allowed), ``classify_files`` (PNG/JPEG/WAV bytes, as TF Serving
    clients send files) and ``classify_encoded`` (word ids and spectrograms:
    the TFLite/ONNX exports).
    """

    sample_file_types = (".json",)
    prints_samples = True
    final_samples_file = None
    sampling_options = (EXAMPLES_OPTION,)

    def __init__(self, network, preprocessor, target, class_names, fusion, modality_dropout=0.0, unimodal_loss_weight=0.0,
                 **kwargs):
        super().__init__(**kwargs)
        self.network = network
        self.preprocessor = preprocessor
        self.target = target
        self.class_names = list(class_names)
        self.fusion = fusion
        self.modality_dropout = float(modality_dropout)
        self.unimodal_loss_weight = float(unimodal_loss_weight)
        self.seed = 0
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.accuracy_tracker = keras.metrics.SparseCategoricalAccuracy(name="accuracy")
        self.built = True

    @classmethod
    def from_hyperparameters(cls, config):
        return cls(
            network=build_fusion_network(config),
            preprocessor=PairedPreprocessor.from_model_config(config),
            target=config.target,
            class_names=config.class_names,
            fusion=config.fusion,
            modality_dropout=config.modality_dropout,
            unimodal_loss_weight=config.unimodal_loss_weight,
            name="fusion_classifier",
        )

    # -- data ----------------------------------------------------------------------------------

    @classmethod
    def target_fields(cls, model_config) -> tuple[str, ...]:
        return (model_config.target,)

    def batch_targets(self) -> tuple[str, ...]:
        return (self.target,)

    @classmethod
    def default_inputs(cls, data, model_config):
        return tuple(f.name for f in data.features if f.type in ("image", "text", "audio") and f.name != model_config.target)

    @classmethod
    def complete_config(cls, model_config, data, spec: str):
        if data.feature(model_config.target).type != "label":
            raise UserError(f"target: '{model_config.target}' is not a label feature of {spec} ({data.describe_features()})")
        names = data.label_names[model_config.target]
        if model_config.class_names is None:
            model_config = model_config.replace("data", class_names=list(names))
        elif list(model_config.class_names) != list(names):
            raise UserError(f"--dataset {spec}: its classes of '{model_config.target}' differ from the config's class_names")
        return super().complete_config(model_config, data, spec)

    @classmethod
    def evaluation_data(cls, metadata: dict, dataset: str | None = None, data_dir: str | None = None):
        """The run's test split; or every example of ``dataset``, its labels mapped to the run's class names."""
        data = super().evaluation_data(metadata, dataset, data_dir)
        return relabelled_to_run(data, metadata, dataset) if dataset else data

    # -- training ------------------------------------------------------------------------------

    @property
    def metrics(self):
        return [self.loss_tracker, self.accuracy_tracker]

    def _trainable_network_variables(self):
        return self.network.trainable_variables

    def compile_for_training(self, config, seed: int = 0):
        self.seed = int(seed)
        self.compile(optimizer=with_loss_scaling(keras.optimizers.Adam(config.learning_rate)))

    def checkpoint_objects(self):
        return {"network": self.network, "optimizer": self.optimizer}

    def network_inputs(self, batch, present):
        return {**{name: batch[name] for name in self.preprocessor.input_names}, "present": present}

    def train_present(self, local_batch_size):
        """Modality dropout: each modality of each example kept with probability 1 - p (at least one kept)."""
        count = len(self.preprocessor.input_names)
        if not self.modality_dropout or count == 1:
            return tf.ones([local_batch_size, count])
        draw = replica_uniform(self.seed, self.optimizer.iterations, 7, local_batch_size, count)
        present = tf.cast(draw >= self.modality_dropout, tf.float32)
        none_left = tf.reduce_sum(present, axis=-1, keepdims=True) == 0
        return tf.where(none_left, tf.ones_like(present), present)

    def train_step(self, batch):
        labels = tf.cast(batch[self.target], tf.int32)
        present = self.train_present(tf.shape(labels)[0])
        with tf.GradientTape() as tape:
            outputs = self.network(self.network_inputs(batch, present), training=True)
            logits = tf.cast(outputs["logits"], tf.float32)
            per_example = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
            if "unimodal_logits" in outputs:
                per_example += self.unimodal_loss_weight * self.unimodal_cross_entropy(labels, outputs["unimodal_logits"], present)
            loss = tf.nn.compute_average_loss(per_example)
        self.loss_tracker.update_state(self.minimize(tape, loss))
        self.accuracy_tracker.update_state(labels, logits)
        return {metric.name: metric.result() for metric in self.metrics}

    @staticmethod
    def unimodal_cross_entropy(labels, unimodal_logits, present):
        """[N]: the mean cross-entropy of the per-input classifiers [N, M, K] over each example's present inputs."""
        unimodal_logits = tf.cast(unimodal_logits, tf.float32)
        repeated = tf.repeat(labels[:, None], tf.shape(unimodal_logits)[1], axis=1)
        per_input = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=repeated, logits=unimodal_logits)
        return tf.reduce_sum(per_input * present, axis=-1) / tf.maximum(tf.reduce_sum(present, axis=-1), 1.0)

    def call(self, encoded, training=False):
        """Logits [N, K] of encoded inputs (every modality present unless ``encoded`` has a ``present`` mask)."""
        names = self.preprocessor.input_names
        present = encoded.get("present")
        if present is None:
            present = tf.ones([tf.shape(encoded[names[0]])[0], len(names)])
        return self.network(self.network_inputs(encoded, present), training=training)["logits"]

    # -- endpoints -----------------------------------------------------------------------------

    def _outputs(self, encoded, present, with_strings=True):
        result = self.network(self.network_inputs(encoded, present), training=False)
        probabilities = tf.nn.softmax(tf.cast(result["logits"], tf.float32))
        class_id = tf.argmax(probabilities, axis=-1, output_type=tf.int32)
        outputs = {
            "probabilities": probabilities, "class_id": class_id,
            "modality_weights": tf.cast(result["modality_weights"], tf.float32),
        }
        if with_strings:
            outputs["label"] = tf.gather(tf.constant(self.class_names), class_id)
        return outputs

    def _all_present(self, tensor):
        return tf.ones([tf.shape(tensor)[0], len(self.preprocessor.input_names)])

    def endpoints(self) -> dict[str, Endpoint]:
        """Four endpoints over one classification (:func:`genkit.models.fusion.fusion_serving.fusion_endpoints`)."""
        return fusion_endpoints(self)

    def example_input(self, declaration, num_samples: int, seed: int, data=None) -> np.ndarray:
        if declaration.name == "present":
            # Every input present, then (from the second row) seeded masks with each input missing with
            # probability 1/4 and at least one present: int8 calibration sees partial inputs too.
            count = len(self.preprocessor.input_names)
            present = (np.random.default_rng(seed).uniform(size=(num_samples, count)) >= 0.25).astype(np.float32)
            present[0] = 1
            present[present.sum(axis=1) == 0] = 1
            return present
        return super().example_input(declaration, num_samples, seed, data)

    # -- predictions ---------------------------------------------------------------------------

    def predict_arrays(self, arrays: dict, present=None) -> dict[str, np.ndarray]:
        """Probabilities and modality weights of split arrays (raw), in batches; ``present`` [M] masks inputs."""
        count = len(next(iter(arrays.values())))
        probabilities, weights = [], []
        mask = np.ones(len(self.preprocessor.input_names), np.float32) if present is None else np.asarray(present, np.float32)
        for start in range(0, count, EVALUATION_BATCH):
            batch = {name: values[start : start + EVALUATION_BATCH] for name, values in arrays.items()}
            inputs = {name: tf.constant(list(v) if v.dtype == object else v) for name, v in batch.items()}
            encoded = self.encode_batch(inputs)
            rows = len(next(iter(batch.values())))
            outputs = self._outputs(encoded, tf.constant(np.tile(mask, (rows, 1))), with_strings=False)
            probabilities.append(outputs["probabilities"].numpy())
            weights.append(outputs["modality_weights"].numpy())
        return {"probabilities": np.concatenate(probabilities), "modality_weights": np.concatenate(weights)}

    def generate_samples(self, num_samples: int, seed: int = 0, examples=None, **options):
        """Predictions for the first ``num_samples`` examples of ``examples`` (a --dataset spec; every split)."""
        self.check_options("sampling", {"examples": examples, **options})
        if not examples:
            raise UserError("--examples: required for a fusion classifier (e.g. --examples manifest:my_files.jsonl)")
        from genkit.data.dataset_registry import load_dataset

        options = {
            "image_size": self.preprocessor.image_shape[0] if self.preprocessor.image_shape else None,
            "sample_rate": self.preprocessor.sample_rate,
            "audio_seconds": self.preprocessor.audio_samples / self.preprocessor.sample_rate if self.preprocessor.audio_samples else None,
        }
        data = load_dataset(examples, tuple(self.preprocessor.input_names), f"'{self.registered_name}'", **options)
        predictions = []
        for split in data.splits:
            arrays = {name: values for name, values in self.split_arrays(data, split).items() if name in self.preprocessor.input_names}
            outputs = self.predict_arrays(arrays)
            for row, probabilities in enumerate(outputs["probabilities"]):
                top = np.argsort(-probabilities)[:5]
                predictions.append({
                    "split": split, "index": row,
                    "label": self.class_names[int(top[0])],
                    "top": [{"label": self.class_names[int(i)], "probability": round(float(probabilities[i]), 6)} for i in top],
                    "modality_weights": dict(zip(self.preprocessor.input_names, map(float, outputs["modality_weights"][row]))),
                })
        return predictions[:num_samples]

    def samples_text(self, samples) -> str:
        import json

        return json.dumps({"predictions": samples}, indent=1) + "\n"

    def write_samples(self, path, samples) -> None:
        from genkit.atomic import write_json

        write_json(Path(path), {"predictions": samples})

    # -- explanations --------------------------------------------------------------------------

    def explanation_methods(self):
        """Adds ``modality-importance`` (accuracy without each input, and with it alone), ``input-saliency`` and, for
        fusions that learn them, ``modality-weights`` (each input's learned share, per class): see
        :mod:`genkit.models.fusion.fusion_explanations`."""
        return {**super().explanation_methods(), **fusion_explanation_methods(self)}

    # -- evaluation ----------------------------------------------------------------------------

    def evaluation_metrics(self, data, num_samples=None, seed: int = 0, **options) -> dict:
        """Accuracy, macro-F1, top-5 and, per input, the accuracy without it and with it alone; learned weights
        (:func:`genkit.models.fusion.fusion_evaluation.classification_metrics`)."""
        self.check_options("evaluation", options)
        return classification_metrics(self, data)

    def export_metadata(self) -> dict:
        return {**super().export_metadata(), "class_names": self.class_names, "target": self.target}

    def export_quality(self, endpoint: str, run_export, data=None, num_samples: int = 1000, seed: int = 0) -> dict:
        """Accuracy of Keras and of the export on the same test examples, and how often they agree
        (:func:`genkit.models.fusion.fusion_export_cost.accuracy_cost`)."""
        return accuracy_cost(self, endpoint, run_export, data, num_samples)

    def get_config(self):
        return {
            **super().get_config(),
            "network": keras.saving.serialize_keras_object(self.network),
            "preprocessor": keras.saving.serialize_keras_object(self.preprocessor),
            "target": self.target,
            "class_names": self.class_names,
            "fusion": self.fusion,
            "modality_dropout": self.modality_dropout,
            "unimodal_loss_weight": self.unimodal_loss_weight,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["network"] = keras.saving.deserialize_keras_object(config["network"])
        config["preprocessor"] = keras.saving.deserialize_keras_object(config["preprocessor"])
        return cls(**config)

"""fusion-classifier: images, texts and audio (any mix) fused into one class prediction."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from genkit.errors import UserError
from genkit.options import Option
from genkit.registry import register_model
from genkit.signatures import Endpoint, TensorDeclaration
from genkit.models.fusion.fusion_classifier_config import FusionClassifierConfig
from genkit.models.fusion.fusion_network import build_fusion_network
from genkit.tasks.loss_scaling import with_loss_scaling
from genkit.tasks.noise import replica_uniform
from genkit.tasks.paired_preprocessor import PairedPreprocessor
from genkit.tasks.paired_task import PairedDataTask

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
        if not dataset:
            return data
        target, class_names = metadata["config"]["target"], metadata["config"]["class_names"]
        names = data.label_names[target]
        unknown = sorted(set(names) - set(class_names))
        if unknown:
            raise UserError(
                f"--dataset {dataset}: class '{unknown[0]}' of '{target}' is not one the run was trained on "
                f"({', '.join(class_names[:10])}{', ...' if len(class_names) > 10 else ''})"
            )
        to_run_ids = np.array([class_names.index(name) for name in names], np.int32)
        merged = {
            field: np.concatenate([arrays[field] for arrays in data.splits.values()]) for field in data.fields
        }
        merged[target] = to_run_ids[merged[target]]
        data.splits = {"test": merged}
        data.label_names = {**data.label_names, target: list(class_names)}
        data.evaluation_split = "test"
        return data

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

    def _output_declarations(self, with_strings=True):
        count, modalities = len(self.class_names), len(self.preprocessor.input_names)
        declarations = [
            TensorDeclaration("probabilities", "scores", "float32", (count,), (0.0, 1.0), description="class probabilities"),
            TensorDeclaration("class_id", "label", "int32", (), (0, count - 1), description="the most probable class"),
            TensorDeclaration(
                "modality_weights", "scores", "float32", (modalities,), (0.0, 1.0),
                description=f"each input's share of the fusion ({', '.join(self.preprocessor.input_names)})",
            ),
        ]
        if with_strings:
            declarations.append(TensorDeclaration("label", "text", "string", (), description="the most probable class name"))
        return tuple(declarations)

    def endpoints(self) -> dict[str, Endpoint]:
        raw = tuple(self.raw_declarations())
        names = self.preprocessor.input_names
        present = TensorDeclaration(
            "present", "parameter", "float32", (len(names),), (0.0, 1.0),
            description=f"1 where an input is given, 0 where it is missing ({', '.join(names)})",
        )

        def classify(*values):
            encoded = self.preprocessor(dict(zip(names, values)))
            return self._outputs(encoded, self._all_present(values[0]))

        def classify_partial(*values):
            encoded = self.preprocessor(dict(zip(names, values[:-1])))
            return self._outputs(encoded, values[-1])

        files = tuple(self.file_declarations())

        def classify_files(*values):
            raw_inputs = self.preprocessor.decode_files(dict(zip([d.name for d in files], values)))
            encoded = self.preprocessor(raw_inputs)
            return self._outputs(encoded, self._all_present(values[0]))

        edge = tuple(self.encoded_declarations())

        def classify_encoded(*values):
            encoded = dict(zip(names, values[:-1]))
            return self._outputs(encoded, values[-1], with_strings=False)

        outputs = self._output_declarations()
        return {
            "serving_default": Endpoint("serving_default", classify, raw, outputs, edge=False),
            "classify_partial": Endpoint("classify_partial", classify_partial, (*raw, present), outputs, edge=False),
            "classify_files": Endpoint("classify_files", classify_files, files, outputs, edge=False),
            "classify_encoded": Endpoint(
                "classify_encoded", classify_encoded, (*edge, present), self._output_declarations(False), serving=False,
            ),
        }

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
        from genkit.data.registry import load_dataset

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
        """Adds ``modality-importance`` (accuracy without each input, and with it alone) and, for fusions that learn
        them, ``modality-weights`` (each input's learned share, per class)."""
        from genkit.tasks.explanations import ExplanationMethod

        methods = super().explanation_methods()
        if len(self.preprocessor.input_names) > 1:
            methods["modality-importance"] = ExplanationMethod(
                "modality-importance", "test accuracy with every input, without each one, and with each one alone",
                self._explain_modality_importance,
            )
        methods["input-saliency"] = ExplanationMethod(
            "input-saliency",
            "what of each input the predicted class depends on: saliency and Grad-CAM of images, saliency of spectrograms "
            "and of words",
            self._explain_input_saliency,
        )
        if self.fusion in ("weighted", "gated", "attention"):
            methods["modality-weights"] = ExplanationMethod(
                "modality-weights", "each input's learned share of the fusion, averaged per true class", self._explain_modality_weights,
            )
        return methods

    def _explain_modality_importance(self, data, num_samples, seed):
        from genkit.evaluation.classification import accuracy
        from genkit.tasks.explanations import Figure, grouped_bar_figure

        arrays = self.split_arrays(data, data.scored_split)
        labels = arrays.pop(self.target).astype(np.int64)
        names = self.preprocessor.input_names
        every = accuracy(labels, self.predict_arrays(arrays)["probabilities"])
        without, alone = [], []
        for m in range(len(names)):
            mask = np.ones(len(names), np.float32)
            mask[m] = 0
            without.append(accuracy(labels, self.predict_arrays(arrays, mask)["probabilities"]))
            alone.append(accuracy(labels, self.predict_arrays(arrays, 1 - mask)["probabilities"]))
        series = {"all inputs": [every] * len(names), "without it": without, "it alone": alone}
        return [Figure(
            name="modality_importance", title="modality importance", method="modality-importance",
            description=(f"Test accuracy ({len(labels)} examples) with every input ({every:.3f}), with each input left out "
                         "(as the model was trained to take a missing input), and with each input alone: the drop without "
                         "an input is what the fusion owes it."),
            png=grouped_bar_figure("accuracy with and without each input", names, series, "test accuracy"),
            arrays={"without": np.asarray(without), "alone": np.asarray(alone), "all": np.asarray(every)},
        )]

    def _explain_input_saliency(self, data, num_samples, seed):
        """Per input, the gradient of the predicted class's logit, on ``num_samples`` test examples: images get
        saliency, SmoothGrad (tf-keras-vis, the other inputs held fixed) and Grad-CAM at the image encoder's last
        feature map; spectrograms saliency and SmoothGrad; texts the gradient norm at each word's embedding."""
        from tf_keras_vis.utils.scores import CategoricalScore

        from genkit.tasks.explanations import (
            Figure, gradcam_from, last_layer_with_spatial_output, maps_figure, normalized, recorded_outputs, saliency_maps,
            token_figure, with_fixed_inputs,
        )

        arrays = self.split_arrays(data, data.scored_split)
        labels = arrays.pop(self.target).astype(np.int64)
        picked = np.sort(np.random.default_rng(seed).choice(len(labels), min(num_samples, len(labels)), replace=False))
        batch = {name: tf.constant(list(values[picked]) if values.dtype == object else values[picked])
                 for name, values in arrays.items()}
        inputs = self.network_inputs(self.encode_batch(batch), self._all_present(next(iter(batch.values()))))
        inputs = {name: np.asarray(value) for name, value in inputs.items()}
        logits = self.network(inputs, training=False)["logits"]
        predicted = np.asarray(tf.argmax(logits, axis=-1))
        probabilities = tf.nn.softmax(tf.cast(logits, tf.float32)).numpy()
        score = CategoricalScore([int(k) for k in predicted])
        captions = [f"{self.class_names[k]} {probabilities[row, k]:.2f} (true: {self.class_names[labels[picked][row]]})"
                    for row, k in enumerate(predicted)]
        arrays_common = {"predicted": predicted, "labels": labels[picked]}
        about = "the logit of the class the model predicts (caption: that class, its probability and the true class)"
        figures = []
        for name, kind in zip(self.preprocessor.input_names, self.preprocessor.input_types):
            values = inputs[name]
            if kind in ("image", "audio"):
                single = with_fixed_inputs(self.network, name, inputs, "logits")
                maps = [("saliency", saliency_maps(single, score, values, keepdims=kind == "audio")),
                        ("SmoothGrad", saliency_maps(single, score, values, smooth_samples=20, keepdims=kind == "audio"))]
            if kind == "image":
                encoder = self.network.get_layer(f"{name}_encoder")
                feature_layer = encoder.get_layer(last_layer_with_spatial_output(encoder))
                with tf.GradientTape() as tape, recorded_outputs(feature_layer, tape) as features:
                    target = tf.reduce_sum(tf.gather(self.network(inputs, training=False)["logits"], predicted, batch_dims=1))
                maps.append(("Grad-CAM", gradcam_from(features[0], tape.gradient(target, features[0]), values.shape[1:3])))
                title, shown = f"{name}: where the prediction looks", values
                how = (f"saliency and SmoothGrad (tf-keras-vis, the other inputs held fixed) and Grad-CAM at the image "
                       f"encoder's last feature map ({feature_layer.name}; taken with a gradient tape, since tf-keras-vis "
                       "reaches only layers of the explained network's own graph)")
            elif kind == "audio":
                # A spectrogram [frames, mel] drawn as a picture: mel bins up (low at the bottom), time to the right.
                maps = [(label, np.flip(np.swapaxes(values_map, 1, 2), axis=1)) for label, values_map in maps]
                shown = np.flip(np.swapaxes(normalized(values.reshape(len(values), -1)).reshape(values.shape), 1, 2), 1)[..., None]
                title = f"{name}: which times and frequencies the prediction depends on"
                how = "saliency and SmoothGrad (tf-keras-vis, the other inputs held fixed) of the log-mel spectrogram"
            else:
                embedding = self.network.get_layer(f"{name}_encoder").get_layer("embedding")
                with tf.GradientTape() as tape, recorded_outputs(embedding, tape) as embedded:
                    target = tf.reduce_sum(tf.gather(self.network(inputs, training=False)["logits"], predicted, batch_dims=1))
                norms = tf.norm(tape.gradient(target, embedded[0]), axis=-1).numpy()
                words = [[self._word(int(token)) for token in row if token] for row in values]
                saliency = normalized(np.where(values > 0, norms, 0.0))
                rows = [(row_words + [f"=> {self.class_names[k][:14]}"], np.append(row[: len(row_words)], np.nan))
                        for row_words, row, k in zip(words, saliency, predicted)]
                figures.append(Figure(
                    name=f"input_saliency_{name}", title=f"{name}: the words the prediction depends on", method="input-saliency",
                    description=(f"For {len(values)} test examples, the gradient norm of the predicted class's logit (last "
                                 "cell: that class) at each word's embedding "
                                 "(a gradient tape at the text encoder's embedding: word ids are integers), scaled to "
                                 "[0, 1] per example."),
                    png=token_figure(f"{name}: word saliency (darker: the prediction depends more on it)", rows, "saliency"),
                    arrays={"ids": values, "saliency": saliency, **arrays_common},
                ))
                continue
            figures.append(Figure(
                name=f"input_saliency_{name}", title=title, method="input-saliency",
                description=f"For {len(values)} test examples, {how}, of {about}.",
                png=maps_figure(title, shown, maps, captions),
                arrays={"inputs": values, **dict((label.lower().replace("-", ""), m) for label, m in maps), **arrays_common},
            ))
        return figures

    def _word(self, token: int) -> str:
        return "[UNK]" if token == 1 else str(self.preprocessor.vocabulary[token - 2])

    def _explain_modality_weights(self, data, num_samples, seed):
        from genkit.tasks.explanations import Figure, grouped_bar_figure

        arrays = self.split_arrays(data, data.scored_split)
        labels = arrays.pop(self.target).astype(np.int64)
        weights = self.predict_arrays(arrays)["modality_weights"]
        classes = [k for k in range(len(self.class_names)) if (labels == k).any()][:30]
        series = {name: [float(weights[labels == k, m].mean()) for k in classes]
                  for m, name in enumerate(self.preprocessor.input_names)}
        overall = ", ".join(f"{name} {weights[:, m].mean():.2f}" for m, name in enumerate(self.preprocessor.input_names))
        return [Figure(
            name="modality_weights", title="learned modality weights", method="modality-weights",
            description=(f"The {self.fusion} fusion's weight of each input, averaged over the test examples of each true class "
                         f"(first {len(classes)} classes with test examples); over all: {overall}."),
            png=grouped_bar_figure(f"{self.fusion} fusion: each input's weight per class",
                                   [self.class_names[k] for k in classes], series, "mean weight"),
            arrays={"weights": weights, "labels": labels},
        )]

    # -- evaluation ----------------------------------------------------------------------------

    def evaluation_metrics(self, data, num_samples=None, seed: int = 0, **options) -> dict:
        """Accuracy, macro-F1, top-5 and, per input, the accuracy without it and with it alone; learned weights."""
        from genkit.evaluation.classification import accuracy, macro_f1, top_k_accuracy

        self.check_options("evaluation", options)
        split = data.scored_split
        arrays = self.split_arrays(data, split)
        labels = arrays.pop(self.target).astype(np.int64)
        outputs = self.predict_arrays(arrays)
        probabilities = outputs["probabilities"]
        metrics = {
            "examples": int(len(labels)),
            "accuracy": accuracy(labels, probabilities),
            "macro_f1": macro_f1(labels, probabilities, len(self.class_names)),
        }
        if len(self.class_names) > 5:
            metrics["top5_accuracy"] = top_k_accuracy(labels, probabilities, 5)
        names = self.preprocessor.input_names
        if len(names) > 1:
            for m, name in enumerate(names):
                without = np.ones(len(names), np.float32)
                without[m] = 0
                metrics[f"accuracy_without_{name}"] = accuracy(labels, self.predict_arrays(arrays, without)["probabilities"])
                metrics[f"accuracy_only_{name}"] = accuracy(labels, self.predict_arrays(arrays, 1 - without)["probabilities"])
            if self.fusion in ("weighted", "gated", "attention"):
                for m, name in enumerate(names):
                    metrics[f"modality_weight_{name}"] = float(outputs["modality_weights"][:, m].mean())
        return metrics

    def export_metadata(self) -> dict:
        return {**super().export_metadata(), "class_names": self.class_names, "target": self.target}

    def export_quality(self, endpoint: str, run_export, data=None, num_samples: int = 1000, seed: int = 0) -> dict:
        """Accuracy of Keras and of the export on the same test examples, and how often they agree."""
        from genkit.evaluation.classification import accuracy
        from genkit.evaluation.export_cost import endpoint_runner, run_in_batches

        if data is None:
            return {"skipped": "the run's data is not available here"}
        inputs, arrays = self.evaluation_inputs(data, endpoint, num_samples)
        labels = arrays[self.target].astype(np.int64)
        keras_outputs = run_in_batches(endpoint_runner(self, endpoint), inputs)
        export_outputs = run_in_batches(run_export, inputs)
        keras_accuracy = accuracy(labels, keras_outputs["probabilities"])
        export_accuracy = accuracy(labels, export_outputs["probabilities"])
        agreement = float(np.mean(keras_outputs["class_id"] == export_outputs["class_id"]))
        return {
            "metric": "accuracy", "num_samples": int(len(labels)),
            "keras_accuracy": keras_accuracy, "export_accuracy": export_accuracy,
            "accuracy_delta": export_accuracy - keras_accuracy, "agreement": agreement,
            "summary": f"accuracy {export_accuracy - keras_accuracy:+.4f}, agree {agreement:.3f}",
        }

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

"""captioner: a CNN encoder keeping a grid of features and an LSTM/GRU decoder with visual attention over it."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from genkit.errors import UserError
from genkit.options import Option
from genkit.registry import register_model
from genkit.signatures import Endpoint
from genkit.models.captioner.caption_decoder import (
    BOUNDARY_ID, UNKNOWN_ID, build_initial_state_network, build_step_network, state_names,
)
from genkit.models.captioner.captioner_config import CaptionerConfig
from genkit.models.captioner.captioner_endpoints import (
    captioner_endpoints, decode_step_inputs, decoding_declarations, decoding_example,
)
from genkit.tasks.decoding.decoding_options import (
    BEAM_WIDTH_OPTION, LENGTH_PENALTY_OPTION, TEMPERATURE_OPTION, TOP_K_OPTION, TOP_P_OPTION,
)
from genkit.tasks.decoding.graph_decoding import beam_search, sample_sequences
from genkit.tasks.modality_encoders import image_grid_encoder
from genkit.tasks.paired_preprocessor import PairedPreprocessor
from genkit.tasks.paired_task import ImageTextTask
from genkit.training.loss_scaling import with_loss_scaling

DECODING_OPTIONS = (BEAM_WIDTH_OPTION, LENGTH_PENALTY_OPTION, TEMPERATURE_OPTION, TOP_K_OPTION, TOP_P_OPTION)
SAMPLING_OPTIONS = (
    Option("images", "captioners: PNG/JPEG files to caption", str, "IMAGE", nargs="+"),
    *DECODING_OPTIONS,
    Option("attention_out", "captioners: a folder for each word's attention map over its image (PNG)", str, "DIR"),
)


@register_model(
    "captioner",
    config=CaptionerConfig,
    family="captioner",
    description="Image captioning: CNN grid encoder + LSTM/GRU decoder with visual attention (Show, Attend and Tell); beam search",
    train_defaults={"epochs": 40, "batch_size": 64},
    tiny_overrides=["width=8", "image_filters=[4]", "embedding_dim=8", "units=8", "attention_units=4", "beam_width=2"],
)
class Captioner(ImageTextTask):
    """Keras subclass model: teacher-forced ``train_step``; greedy, beam and sampled decoding in the graph.

    Networks (each functional, from hyper-parameters): ``encoder`` (images
    [N, H, W, C] in [0, 1] -> features [N, cells, width]), ``initial_state``
    (features -> the decoder's first states) and ``step`` (one token ->
    the next token's logits, the next states and the attention over the
    cells; :mod:`genkit.models.captioner.caption_decoder`). Batches are dicts
    of the image input and the text input's word ids (the preprocessor
    tokenises in the graph, so serving takes images and returns strings).
    """

    pairing = "a captioner"
    sample_file_types = (".json",)
    prints_samples = True
    final_samples_file = None
    sampling_options = SAMPLING_OPTIONS
    evaluation_options = (DECODING_OPTIONS[0], DECODING_OPTIONS[1])

    def __init__(self, encoder, initial_state, step, preprocessor, cell="lstm", attention_regularization=1.0,
                 text_reference="first", beam_width=3, length_penalty=0.0, label_smoothing=0.0, **kwargs):
        super().__init__(**kwargs)
        self.encoder = encoder
        self.initial_state = initial_state
        self.step_network = step
        self.preprocessor = preprocessor
        self.cell = cell
        self.attention_regularization = float(attention_regularization)
        self.text_reference = text_reference
        self.beam_width = int(beam_width)
        self.length_penalty = float(length_penalty)
        self.label_smoothing = float(label_smoothing)
        self.state_names = state_names(cell)
        self.words = tf.constant(["", "[UNK]", *self.preprocessor.vocabulary])
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.cross_entropy_tracker = keras.metrics.Mean(name="cross_entropy")
        self.penalty_tracker = keras.metrics.Mean(name="attention_penalty")
        self.built = True

    @classmethod
    def from_hyperparameters(cls, config):
        encoder = image_grid_encoder(config, config.image_input)
        cells = encoder.output.shape[1]
        vocabulary_size = len(config.vocabulary) + 2
        return cls(
            encoder=encoder,
            initial_state=build_initial_state_network(cells, config.width, config.cell, config.units),
            step=build_step_network(config, vocabulary_size, cells),
            preprocessor=PairedPreprocessor.from_model_config(config),
            cell=config.cell,
            attention_regularization=config.attention_regularization,
            text_reference=config.text_reference,
            beam_width=config.beam_width,
            length_penalty=config.length_penalty,
            label_smoothing=config.label_smoothing,
            name="captioner",
        )

    @property
    def vocabulary_size(self) -> int:
        return self.preprocessor.vocabulary_size

    @property
    def max_length(self) -> int:
        """Decoding steps at most: the longest caption trained on, and its end."""
        return self.preprocessor.max_text_length + 1

    @property
    def cells(self) -> int:
        return int(self.encoder.output.shape[1])

    @property
    def feature_width(self) -> int:
        return int(self.encoder.output.shape[2])

    @property
    def units(self) -> int:
        return int(self.initial_state.outputs[0].shape[-1])

    # -- training ------------------------------------------------------------------------------

    @property
    def metrics(self):
        return [self.loss_tracker, self.cross_entropy_tracker, self.penalty_tracker]

    def _trainable_network_variables(self):
        return [
            *self.encoder.trainable_variables, *self.initial_state.trainable_variables,
            *self.step_network.trainable_variables,
        ]

    def compile_for_training(self, config, seed: int = 0):
        self.compile(optimizer=with_loss_scaling(keras.optimizers.Adam(config.learning_rate, global_clipnorm=5.0)))

    def checkpoint_objects(self):
        return {
            "encoder": self.encoder, "initial_state": self.initial_state, "step": self.step_network,
            "optimizer": self.optimizer,
        }

    def encode_images(self, images, training=False):
        """Features [N, cells, width] and the decoder's first states of images in [0, 1]."""
        features = self.encoder(images, training=training)
        states = self.initial_state(features, training=training)
        return features, list(states) if isinstance(states, (list, tuple)) else [states]

    def decoder_step(self, token, features, states, training=False):
        """(logits [N, V], next states, attention [N, cells]) of one step."""
        logits, *outputs = self.step_network([token, features, *states], training=training)
        return logits, outputs[:-1], outputs[-1]

    def teacher_forced(self, images, caption_ids, training=False):
        """Per-caption cross-entropy (mean over its words and end) and attention penalty, teacher-forced.

        ``caption_ids``: int32 [N, L] word ids, 0-padded (the preprocessor's). While training the targets are
        smoothed by ``label_smoothing`` (evaluation's cross-entropy and perplexity are of the true words).
        """
        batch = tf.shape(caption_ids)[0]
        boundary = tf.fill([batch, 1], BOUNDARY_ID)
        inputs = tf.concat([boundary, caption_ids], axis=1)
        targets = tf.concat([caption_ids, boundary], axis=1)
        lengths = tf.reduce_sum(tf.cast(caption_ids != 0, tf.int32), axis=1)
        mask = tf.cast(tf.range(self.max_length)[None, :] <= lengths[:, None], tf.float32)
        features, states = self.encode_images(images, training=training)
        losses, attention_total = [], 0.0
        for t in range(self.max_length):
            logits, states, attention = self.decoder_step(inputs[:, t], features, states, training=training)
            losses.append(self._token_loss(targets[:, t], logits, training))
            attention_total += attention * mask[:, t : t + 1]
        token_losses = tf.stack(losses, axis=1) * mask
        cross_entropy = tf.reduce_sum(token_losses, axis=1) / tf.reduce_sum(mask, axis=1)
        penalty = tf.reduce_mean(tf.square(1.0 - attention_total), axis=1)
        return cross_entropy, penalty, token_losses, mask

    def _token_loss(self, targets, logits, training):
        if not (training and self.label_smoothing):
            return tf.nn.sparse_softmax_cross_entropy_with_logits(labels=targets, logits=logits)
        smoothed = tf.one_hot(targets, self.vocabulary_size) * (1 - self.label_smoothing) + self.label_smoothing / self.vocabulary_size
        return tf.nn.softmax_cross_entropy_with_logits(labels=smoothed, logits=logits)

    def train_step(self, batch):
        with tf.GradientTape() as tape:
            cross_entropy, penalty, _, _ = self.teacher_forced(batch[self.image_input], batch[self.text_input], training=True)
            per_example = cross_entropy + self.attention_regularization * penalty
            loss = tf.nn.compute_average_loss(per_example)
        self.loss_tracker.update_state(self.minimize(tape, loss))
        self.cross_entropy_tracker.update_state(cross_entropy)
        self.penalty_tracker.update_state(penalty)
        return {metric.name: metric.result() for metric in self.metrics}

    def call(self, encoded, training=False):
        """Teacher-forced per-caption cross-entropy [N] of a batch of images and their caption ids."""
        return self.teacher_forced(encoded[self.image_input], encoded[self.text_input], training=training)[0]

    # -- decoding ------------------------------------------------------------------------------

    def _step_function(self):
        """The one-step decoder of genkit.tasks.beam_search: the features ride along as the first state."""

        def step(tokens, states):
            features, recurrent = states[0], states[1:]
            logits, next_states, attention = self.decoder_step(tokens, features, recurrent)
            return logits, [features, *next_states], attention

        return step

    def decode(self, images, beam_width, length_penalty, temperature, top_k, top_p, seed):
        """Token ids [N, max_length], lengths [N], log-probabilities [N] and attention [N, max_length, cells].

        Rows whose ``temperature`` is 0 are decoded by beam search of their ``beam_width`` (1: greedy); the others
        are sampled (temperature, top-k, top-p); the unknown-word id is never produced.
        """
        features, states = self.encode_images(images)
        step = self._step_function()
        sampled = temperature > 0
        options = dict(max_length=self.max_length, boundary_id=BOUNDARY_ID, banned_ids=(UNKNOWN_ID,), trace_size=self.cells)

        def search():
            return beam_search(step, [features, *states], beam_width, length_penalty=length_penalty, **options)

        def draw():
            return sample_sequences(step, [features, *states], temperature, top_k, top_p, seed, **options)

        # Each decoding runs only when some row asks for it (a request of sampled rows runs no beam search).
        searched = tf.cond(tf.reduce_all(sampled), draw, search)
        drawn = tf.cond(tf.reduce_any(sampled) & ~tf.reduce_all(sampled), draw, lambda: searched)
        return tuple(
            tf.where(tf.reshape(sampled, [-1] + [1] * (len(a.shape) - 1)), b, a) for a, b in zip(searched, drawn)
        )

    def captions_of(self, tokens, lengths):
        """Strings [N]: the words of each row's first ``lengths`` tokens, joined by spaces."""
        words = tf.gather(self.words, tokens)
        kept = tf.range(tf.shape(tokens)[1])[None, :] < lengths[:, None]
        return tf.strings.reduce_join(tf.ragged.boolean_mask(words, kept), axis=1, separator=" ")

    def caption_images(self, images, beam_width, length_penalty, temperature, top_k, top_p, seed):
        tokens, lengths, log_probabilities, _ = self.decode(images, beam_width, length_penalty, temperature, top_k, top_p, seed)
        return {"captions": self.captions_of(tokens, lengths), "scores": log_probabilities}

    def decoding_defaults(self) -> dict:
        """What ``serving_default`` decodes with: beam search of the model's width and length penalty."""
        return {"beam_width": self.beam_width, "length_penalty": self.length_penalty, "temperature": 0.0, "top_k": 0,
                "top_p": 1.0, "seed": 0}

    def default_decoding(self, count, **given) -> dict:
        """Per-row decoding parameters (numpy, as the ``caption`` endpoint declares them): ``given`` values, None
        for :meth:`decoding_defaults`. ``temperature`` 0 without a ``beam_width`` is greedy decoding (a beam of 1),
        as for the language models."""
        values = {**self.decoding_defaults(), **{name: value for name, value in given.items() if value is not None}}
        if given.get("temperature") == 0 and given.get("beam_width") is None:
            values["beam_width"] = 1
        return {d.name: np.full((count,), values[d.name], d.dtype) for d in self._decoding_declarations()}

    # -- endpoints (captioner_endpoints.py) ------------------------------------------------------

    def _decoding_declarations(self):
        return decoding_declarations(self.vocabulary_size)

    def endpoints(self) -> dict[str, Endpoint]:
        """Strings out for TF Serving (``serving_default``, ``caption_files``, ``caption``); the encoder and the one-step
        decoder for every format (``encode``, ``decode_step``: what an edge app loops over)."""
        return captioner_endpoints(self)

    def endpoint_inputs(self, endpoint: str, num_samples: int, seed: int, data=None) -> dict[str, np.ndarray]:
        if endpoint != "decode_step":
            return super().endpoint_inputs(endpoint, num_samples, seed, data)
        return decode_step_inputs(self, num_samples, seed, data)

    def example_input(self, declaration, num_samples: int, seed: int, data=None) -> np.ndarray:
        if declaration.name in self.decoding_defaults():
            return decoding_example(self, declaration, num_samples, seed)
        return super().example_input(declaration, num_samples, seed, data)

    # -- samples -------------------------------------------------------------------------------

    def generate_samples(self, num_samples: int, seed: int = 0, images=None, attention_out=None, **options):
        """A caption (and its score) for every one of ``images`` (files; ``num_samples`` does not cut them), decoded
        as the options say: beam search of the model's width by default, ``temperature`` 0 greedy, above 0 sampled."""
        from genkit.models.captioner.captioner_samples import caption_files

        decoding = {name: options.pop(name, None) for name in ("beam_width", "length_penalty", "temperature", "top_k", "top_p")}
        self.check_options("sampling", {"images": images, "attention_out": attention_out, **decoding, **options})
        if not images:
            raise UserError("--images: required for a captioner (PNG or JPEG files to caption)")
        return caption_files(self, list(images), seed, attention_out, decoding)

    def caption_arrays(self, images: np.ndarray, seed: int = 0, **decoding) -> dict:
        """Captions, scores, words and attention [words, cells] of images (float in [0, 1], or uint8), in batches."""
        from genkit.models.captioner.captioner_samples import caption_arrays

        return caption_arrays(self, images, seed, decoding)

    def samples_text(self, samples) -> str:
        return "".join(f"{sample['image']}: {sample['caption']}\n" for sample in samples)

    def write_samples(self, path, samples) -> None:
        from genkit.atomic import write_json

        write_json(Path(path), {"captions": samples})

    # -- explanations, evaluation, export cost (each in its own file) -----------------------------

    def explanation_methods(self):
        """Adds ``attention``: where the decoder looks in the image for each word of its caption."""
        from genkit.models.captioner.captioner_explanations import attention_explanation

        return {**super().explanation_methods(), "attention": attention_explanation(self)}

    def evaluation_metrics(self, data, num_samples=None, seed: int = 0, beam_width=None, length_penalty=None, **options) -> dict:
        """BLEU-1..4, CIDEr-D, perplexity, exact captions and vocabulary use on the test split, with two floors."""
        from genkit.models.captioner.captioner_evaluation import caption_evaluation

        self.check_options("evaluation", {"beam_width": beam_width, "length_penalty": length_penalty, **options})
        return caption_evaluation(self, data, num_samples, seed, beam_width, length_penalty)

    # -- export --------------------------------------------------------------------------------

    def export_metadata(self) -> dict:
        return {
            **super().export_metadata(),
            "caption": {
                "words": ["", "[UNK]", *self.preprocessor.vocabulary], "boundary_id": BOUNDARY_ID, "unknown_id": UNKNOWN_ID,
                "max_length": self.max_length, "state_names": list(self.state_names), "beam_width": self.beam_width,
                "length_penalty": self.length_penalty, "image_shape": list(self.preprocessor.image_shape),
                "note": "start from token boundary_id with encode's states; a caption ends when decode_step picks boundary_id; "
                        "genkit never picks unknown_id",
            },
        }

    def export_quality(self, endpoint: str, run_export, data=None, num_samples: int = 1000, seed: int = 0) -> dict:
        """Greedy captions with the export in place of Keras' ``encode`` or ``decode_step`` (captioner_export_cost)."""
        if endpoint not in ("encode", "decode_step"):
            return super().export_quality(endpoint, run_export, data=data, num_samples=num_samples, seed=seed)
        from genkit.models.captioner.captioner_export_cost import step_export_quality

        return step_export_quality(self, endpoint, run_export, data, num_samples)

    def get_config(self):
        return {
            **super().get_config(),
            "encoder": keras.saving.serialize_keras_object(self.encoder),
            "initial_state": keras.saving.serialize_keras_object(self.initial_state),
            "step": keras.saving.serialize_keras_object(self.step_network),
            "preprocessor": keras.saving.serialize_keras_object(self.preprocessor),
            "cell": self.cell,
            "attention_regularization": self.attention_regularization,
            "text_reference": self.text_reference,
            "beam_width": self.beam_width,
            "length_penalty": self.length_penalty,
            "label_smoothing": self.label_smoothing,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for name in ("encoder", "initial_state", "step", "preprocessor"):
            config[name] = keras.saving.deserialize_keras_object(config[name])
        return cls(**config)


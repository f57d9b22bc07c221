"""The causal language model capability: next-token training, prefill and generation, text endpoints, the step."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from genkit.data.text_tokenizer import OOV_TOKEN, TextTokenizer, graph_tokens
from genkit.errors import UserError
from genkit.options import PROMPT_OPTION, Option, positive_int
from genkit.signatures import TensorDeclaration
from genkit.tasks.decoding.decoding_options import (
    BEAM_WIDTH_OPTION, LENGTH_PENALTY_OPTION, TEMPERATURE_OPTION, TOP_K_OPTION, TOP_P_OPTION,
)
from genkit.tasks.decoding.graph_decoding import beam_search, sample_sequences
from genkit.tasks.task import Task
from genkit.tasks.language_modelling.language_model_endpoints import (
    MAX_GENERATION_LENGTH, MAX_PROMPT_TOKENS, MAX_PROMPTS, example_inputs, language_model_endpoints, text_declarations,
    text_metadata,
)

SAMPLING_OPTIONS = (
    PROMPT_OPTION,
    Option("length", "text models: tokens to generate", positive_int, "N"),
    TEMPERATURE_OPTION, TOP_K_OPTION, TOP_P_OPTION, BEAM_WIDTH_OPTION, LENGTH_PENALTY_OPTION,
)


class CausalLanguageModel(Task):
    """A token-level language model that predicts each token from the ones before it (keras-hub's ``CausalLM``).

    A network family implements four methods over a state it *declares*:

    - ``state_declarations()``: the step's state tensors (``TensorDeclaration`` with modality "state": name, dtype,
      shape per row) — an LSTM declares its [units] vectors, a transformer its fixed-size key/value cache;
    - ``call_with_state(tokens, state, position, training)``: logits [batch, time, vocabulary] (float32) of int32
      ``tokens`` [batch, time] read from ``state`` with the first at ``position`` [batch], and the state after them;
    - ``embed(tokens)`` and ``step_from_embedding(embedded, state, position)``: one step, cut at the token embedding
      (explanations take gradients there).

    ``context_length`` is None when the state holds any history (recurrent; evaluation streams the text), else the
    tokens the state can hold (evaluation slides a window). ``step_takes_position`` puts a ``position`` input in the
    step export. Everything else is here: ``train_step``, training windows, prompt prefill, generation through
    :func:`genkit.tasks.decoding.graph_decoding.sample_sequences`, the string serving signature and its bounds,
    ``score(texts)``, evaluation, explanations and the step export with its cost.
    """

    data_fields = ("corpus",)
    example_unit = "windows"
    sample_file_types = (".txt",)
    prints_samples = True
    final_samples_file = "samples.txt"
    sampling_options = SAMPLING_OPTIONS
    default_length = 200
    context_length: int | None = None
    step_takes_position = False

    def __init__(self, level, vocabulary, lowercase=False, sequence_length=128, **kwargs):
        super().__init__(**kwargs)
        self.level = level
        self.vocabulary = list(vocabulary)
        self.lowercase = lowercase
        self.sequence_length = sequence_length
        self.tokenizer = TextTokenizer(level, self.vocabulary, lowercase)
        self.lookup = keras.layers.StringLookup(
            vocabulary=self.vocabulary[1:], num_oov_indices=1, oov_token=OOV_TOKEN, mask_token=None,
            output_mode="int", name="lookup",
        )
        self.loss_tracker = keras.metrics.Mean(name="loss")

    # -- what a network family implements --------------------------------------------------------

    def state_declarations(self) -> tuple[TensorDeclaration, ...]:
        raise NotImplementedError(f"{type(self).__name__} must implement state_declarations().")

    def call_with_state(self, tokens, state, position, training=False):
        raise NotImplementedError(f"{type(self).__name__} must implement call_with_state().")

    def embed(self, tokens):
        raise NotImplementedError(f"{type(self).__name__} must implement embed().")

    def step_from_embedding(self, embedded, state, position):
        raise NotImplementedError(f"{type(self).__name__} must implement step_from_embedding().")

    # -- the step ---------------------------------------------------------------------------------

    @property
    def metrics(self):
        return [self.loss_tracker]

    @property
    def end_id(self) -> int:
        return self.tokenizer.end_id

    @property
    def state_names(self) -> list[str]:
        return [declaration.name for declaration in self.state_declarations()]

    def initial_state(self, batch_size) -> list:
        """The state before the first token: zeros of every declared state tensor."""
        return [tf.zeros([batch_size, *d.shape], d.dtype) for d in self.state_declarations()]

    def step(self, tokens, state, position):
        """(int32 tokens [batch], state, int32 position [batch]) -> (float32 logits [batch, vocabulary], state)."""
        return self.step_from_embedding(self.embed(tokens), state, position)

    def call(self, tokens, training=False):
        """Logits [batch, time, vocabulary] of int32 ``tokens`` [batch, time], from the initial state."""
        batch = tf.shape(tokens)[0]
        logits, _ = self.call_with_state(tokens, self.initial_state(batch), tf.zeros([batch], tf.int32), training)
        return logits

    def train_step(self, batch):
        tokens = batch["tokens"] if isinstance(batch, dict) else batch  # plain Keras fit(windows) too
        inputs, targets = tokens[:, :-1], tokens[:, 1:]
        with tf.GradientTape() as tape:
            logits = self(inputs, training=True)
            per_token = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=targets, logits=logits)
            # Mean over the positions of a window, averaged over the global batch.
            loss = tf.nn.compute_average_loss(tf.reduce_mean(per_token, axis=1))
        self.loss_tracker.update_state(self.minimize(tape, loss))
        return {metric.name: metric.result() for metric in self.metrics}

    # -- training data ----------------------------------------------------------------------------

    @classmethod
    def data_options(cls, model_config) -> dict:
        return {"validation_fraction": model_config.validation_fraction, "encoding_errors": model_config.encoding_errors}

    @classmethod
    def complete_config(cls, model_config, corpus, spec: str):
        """Fills the vocabulary from the corpus' training part; tokenises it (``corpus.train_ids``)."""
        if model_config.vocabulary is None:
            vocabulary = TextTokenizer.build_vocabulary(
                model_config.level, corpus.train_documents, model_config.lowercase, model_config.max_vocabulary,
            )
            model_config = model_config.replace("data", vocabulary=vocabulary)
        tokenizer = TextTokenizer(model_config.level, model_config.vocabulary, model_config.lowercase)
        corpus.train_ids = np.asarray(tokenizer.encode_documents(corpus.train_documents), np.int32)
        window = model_config.sequence_length + 1
        if len(corpus.train_ids) < window:
            raise UserError(
                f"--dataset {corpus.name}: the training text ({corpus.source}) has {len(corpus.train_ids)} tokens, "
                f"shorter than one training window of sequence_length + 1 = {window} tokens"
            )
        return model_config

    def training_dataset(self, data, batch_size: int, shuffle_seed: int):
        """``{"tokens": windows of sequence_length + 1}``, from an offset that changes every epoch, shuffled."""
        ids = data.train_ids
        length = self.sequence_length
        windows = (len(ids) - 1) // length
        slack = len(ids) - 1 - windows * length
        offset = int(np.random.default_rng(shuffle_seed).integers(0, slack + 1))
        starts = offset + length * np.arange(windows)
        sequences = ids[starts[:, None] + np.arange(length + 1)]
        dataset = tf.data.Dataset.from_tensor_slices({"tokens": sequences})
        dataset = dataset.shuffle(len(sequences), seed=shuffle_seed, reshuffle_each_iteration=False)
        return dataset.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)

    def preprocessing_description(self) -> dict:
        description = self.tokenizer.description()
        description.pop("vocabulary")
        return {
            "tokenizer": {**description, "vocabulary_size": len(self.vocabulary)},
            "sequence_length": self.sequence_length,
        }

    def training_callbacks(self, run, num_samples: int, seed: int) -> list:
        from genkit.atomic import write_json
        from genkit.tasks.language_modelling.text_samples import TextSamples

        write_json(Path(run.path) / "vocabulary.json", self.tokenizer.description())
        return [TextSamples(run.samples_dir, length=self.default_length, seed=seed)]

    # -- generation -------------------------------------------------------------------------------

    def encode_prompts(self, prompts):
        """Padded int32 ids [batch, max(1, longest)] and lengths [batch] >= 1; an empty prompt is the end token.
        A prompt keeps its last ``MAX_PROMPT_TOKENS`` tokens (what the continuation depends on most)."""
        tokens = graph_tokens(prompts, self.level, self.lowercase)
        ids = tf.ragged.map_flat_values(lambda t: tf.cast(self.lookup(t), tf.int32), tokens)[:, -MAX_PROMPT_TOKENS:]
        lengths = tf.cast(ids.row_lengths(), tf.int32)
        padded = ids.to_tensor(default_value=self.end_id)
        padded = tf.pad(padded, [[0, 0], [0, tf.maximum(1 - tf.shape(padded)[1], 0)]], constant_values=self.end_id)
        return padded, tf.maximum(lengths, 1)

    def prefill(self, prompt_ids, prompt_lengths):
        """The state after every prompt token but the last, row by row (a row stops at its own length - 1).

        Returns ``(state, last tokens [batch], their positions [batch])``: what generation starts from.
        """
        batch = tf.shape(prompt_ids)[0]
        last = prompt_lengths - 1

        def read(t, state):
            _, next_state = self.step(prompt_ids[:, t], state, tf.fill([batch], t))
            active = t < last
            return t + 1, [tf.where(tf.reshape(active, [-1] + [1] * (len(s.shape) - 1)), new, s)
                           for new, s in zip(next_state, state)]

        _, state = tf.while_loop(
            lambda t, _: t < tf.reduce_max(last), read, (tf.constant(0), self.initial_state(batch)),
        )
        return state, tf.gather(prompt_ids, last, batch_dims=1), last

    def _decoding_step(self, tokens, carried):
        """The one-step decoder of genkit.tasks.decoding.graph_decoding: the positions ride along as the first state."""
        position, *state = carried
        logits, next_state = self.step(tokens, state, position)
        return logits, [position + 1, *next_state], tf.zeros([tf.shape(tokens)[0], 1])

    def generate_ids(self, prompt_ids, prompt_lengths, length, temperature, top_k, top_p, seed):
        """Generated ids [batch, max(length)] and a mask of the ones that count (within length, before an end token)."""
        state, last_tokens, positions = self.prefill(prompt_ids, prompt_lengths)
        steps = tf.maximum(tf.reduce_max(tf.concat([length, [0]], 0)), 0)
        tokens, lengths, _, _ = sample_sequences(
            self._decoding_step, [positions, *state], temperature, top_k, top_p, seed, steps, boundary_id=self.end_id,
            start_tokens=last_tokens,
        )
        return tokens, tf.range(steps)[None, :] < tf.minimum(lengths, length)[:, None]

    def beam_search_ids(self, prompt_ids, prompt_lengths, length, beam_width, length_penalty):
        """The likeliest continuation of each prompt by beam search (``beam_width`` [batch], 1 is greedy decoding):
        ids [batch, length], a mask of the ones that count (before an end token) and their log-probabilities [batch].
        ``length_penalty`` [batch] is the alpha of the beams' length normalisation (0: rank by log-probability)."""
        state, last_tokens, positions = self.prefill(prompt_ids, prompt_lengths)
        tokens, lengths, log_probabilities, _ = beam_search(
            self._decoding_step, [positions, *state], beam_width, length, length_penalty, boundary_id=self.end_id,
            start_tokens=last_tokens,
        )
        return tokens, tf.range(length)[None, :] < lengths[:, None], log_probabilities

    def continuations(self, prompts, tokens, mask):
        """Strings: ``text`` (prompt + continuation) and ``generated`` (the tokens under ``mask``) [batch]."""
        strings = tf.ragged.boolean_mask(tf.gather(tf.constant(self.vocabulary), tokens), mask)
        joiner = self.tokenizer.joiner
        generated = tf.strings.reduce_join(strings, axis=1, separator=joiner)
        separator = tf.where((strings.row_lengths() > 0) & (tf.strings.length(prompts) > 0), joiner, "")
        return {"text": prompts + separator + generated, "generated": generated}

    def generate_text(self, prompts, length, temperature, top_k, top_p, seed):
        """Strings: ``text`` (prompt + continuation) and ``generated`` (the continuation) [batch].

        A request out of bounds fails before any step with an InvalidArgumentError
        whose message names the input (what TF Serving puts in its error response).
        """
        with tf.control_dependencies([tf.debugging.assert_greater_equal(  # also false for NaN
            temperature, 0.0, message="temperature must be >= 0 (0 is greedy)",
        )]):
            length = tf.identity(length)
        prompt_ids, prompt_lengths = self.encode_prompts(prompts)
        tokens, mask = self.generate_ids(prompt_ids, prompt_lengths, length, temperature, top_k, top_p, seed)
        return self.continuations(prompts, tokens, mask)

    def sample_inputs(self, num_samples, seed):
        return self.generation_inputs([""] * num_samples, self.default_length, 1.0, 0, 1.0, seed)

    @staticmethod
    def generation_inputs(prompts, length, temperature, top_k, top_p, seed) -> dict:
        count = len(prompts)
        return {
            "prompt": np.array(prompts, dtype=str),
            "length": np.full((count,), length, np.int32),
            "temperature": np.full((count,), temperature, np.float32),
            "top_k": np.full((count,), top_k or 0, np.int32),
            "top_p": np.full((count,), 1.0 if top_p is None else top_p, np.float32),
            "seed": np.full((count,), seed, np.int32),
        }

    _generate_function = None

    def generate(self, prompt, length, temperature, top_k, top_p, seed):
        if self._generate_function is None:
            self._generate_function = tf.function(self.generate_text, input_signature=self._text_signature())
        texts = []
        for start in range(0, len(prompt), MAX_PROMPTS):  # a request takes at most MAX_PROMPTS prompts
            chunk = slice(start, start + MAX_PROMPTS)
            chunk_seed = seed[chunk] + start  # later chunks draw their own tokens, not the first chunk's again
            outputs = self._generate_function(
                prompt[chunk], length[chunk], temperature[chunk], top_k[chunk], top_p[chunk], chunk_seed,
            )
            texts += [text.decode("utf-8") for text in outputs["text"].numpy()]
        return texts

    _beam_search_function = None

    def beam_search_texts(self, prompts, length: int, beam_width: int, length_penalty: float = 0.0) -> list[str]:
        """Prompt + likeliest continuation of at most ``length`` tokens, by beam search, for each prompt."""
        if self._beam_search_function is None:
            def search(prompts, length, beam_width, length_penalty):
                prompt_ids, prompt_lengths = self.encode_prompts(prompts)
                tokens, mask, _ = self.beam_search_ids(prompt_ids, prompt_lengths, length, beam_width, length_penalty)
                return self.continuations(prompts, tokens, mask)

            self._beam_search_function = tf.function(search, input_signature=[
                tf.TensorSpec([None], tf.string), tf.TensorSpec([], tf.int32), tf.TensorSpec([None], tf.int32),
                tf.TensorSpec([None], tf.float32),
            ])
        texts = []
        for start in range(0, len(prompts), MAX_PROMPTS):
            chunk = np.array(prompts[start:start + MAX_PROMPTS], dtype=str)
            outputs = self._beam_search_function(
                chunk, np.int32(length), np.full(len(chunk), beam_width, np.int32),
                np.full(len(chunk), length_penalty, np.float32),
            )
            texts += [text.decode("utf-8") for text in outputs["text"].numpy()]
        return texts

    def generate_samples(self, num_samples: int, seed: int = 0, prompt=None, length=None, temperature=None,
                         top_k=None, top_p=None, beam_width=None, length_penalty=None, **options):
        """``num_samples`` texts: ``prompt`` (default: none, start of a document) and ``length`` tokens after it,
        sampled, or the likeliest continuation by beam search when ``beam_width`` is given."""
        self.check_options("sampling", options)
        if length is not None and length > MAX_GENERATION_LENGTH:
            raise UserError(f"--length {length}: at most {MAX_GENERATION_LENGTH} tokens per sample")
        length = self.default_length if length is None else length
        if beam_width is None and length_penalty is not None:
            raise UserError("--length-penalty ranks the beams of a search: give --beam-width K too")
        if beam_width is not None:
            if temperature or top_k is not None or top_p is not None:
                raise UserError(
                    f"--beam-width {beam_width}: beam search keeps the likeliest continuation; "
                    "leave out --temperature, --top-k and --top-p (they sample)"
                )
            # One search: it is deterministic, so every sample is the same text.
            return self.beam_search_texts([prompt or ""], length, beam_width, length_penalty or 0.0) * num_samples
        inputs = self.generation_inputs(
            [prompt or ""] * num_samples, length, 1.0 if temperature is None else temperature, top_k, top_p, seed,
        )
        return self.generate(**inputs)

    def samples_text(self, samples) -> str:
        """One text, or every text under a ``=== sample N ===`` line."""
        samples = list(samples)
        return samples[0] + "\n" if len(samples) == 1 else "".join(
            f"=== sample {index + 1} ===\n{sample}\n\n" for index, sample in enumerate(samples)
        )

    def write_samples(self, path, samples) -> None:
        """:meth:`samples_text` in UTF-8, written atomically."""
        from genkit.atomic import write_bytes

        write_bytes(Path(path), self.samples_text(samples).encode("utf-8"))

    # -- scoring, evaluation, explanations --------------------------------------------------------

    def score(self, texts) -> np.ndarray:
        """float64 [len(texts)]: the log-likelihood (nats) of each text as a whole document (its tokens and its end
        token, after the end token that starts a document)."""
        from genkit.tasks.language_modelling.language_model_evaluation import text_log_likelihoods

        return text_log_likelihoods(self, list(texts))

    @classmethod
    def evaluation_data(cls, metadata: dict, dataset: str | None = None, data_dir: str | None = None):
        from genkit.tasks.language_modelling.language_model_evaluation import evaluation_corpus

        return evaluation_corpus(metadata, dataset)

    def evaluation_metrics(self, data, num_samples: int | None = None, seed: int = 0, **options) -> dict:
        """cross_entropy (nats per token), perplexity and bits_per_char over held-out text
        (:func:`genkit.tasks.language_modelling.language_model_evaluation.text_metrics`)."""
        from genkit.tasks.language_modelling.language_model_evaluation import text_metrics

        self.check_options("evaluation", options)
        return text_metrics(self, data)

    def explanation_methods(self):
        """Adds ``token-saliency`` and ``next-token`` (:mod:`genkit.tasks.language_modelling.language_model_explanations`)."""
        from genkit.tasks.language_modelling.language_model_explanations import language_model_explanations

        return {**super().explanation_methods(), **language_model_explanations(self)}

    # -- serving and export -----------------------------------------------------------------------

    def _text_declarations(self) -> tuple[TensorDeclaration, ...]:
        return text_declarations(self)

    def _text_signature(self):
        return [declaration.tensor_spec() for declaration in self._text_declarations()]

    def endpoints(self):
        """``serving_default``: strings in, strings out (the tokeniser in the graph; SavedModel only);
        ``step``: one token (its position where the model takes one) and the declared state in, logits and the
        next state (``next_{name}``) out (edge exports)."""
        return language_model_endpoints(self)

    def endpoint_inputs(self, endpoint: str, num_samples: int, seed: int, data=None) -> dict:
        if endpoint in ("step", "serving_default"):
            return example_inputs(self, endpoint, num_samples, seed, data)
        return super().endpoint_inputs(endpoint, num_samples, seed, data)

    def export_quality(self, endpoint: str, run_export, data=None, num_samples: int = 1000, seed: int = 0) -> dict:
        """The step model's cost: bits per character over held-out text, Keras vs export, and greedy agreement."""
        if endpoint != "step":
            return super().export_quality(endpoint, run_export, data=data, num_samples=num_samples, seed=seed)
        from genkit.tasks.language_modelling.step_export_cost import step_export_quality

        return step_export_quality(self, run_export, data, num_samples=num_samples, seed=seed)

    def export_metadata(self) -> dict:
        """genkit.json "text": the tokenizer and the step's declared state (language_model_endpoints.text_metadata)."""
        return {"text": text_metadata(self)}

    def get_config(self):
        return {
            **super().get_config(), "level": self.level, "vocabulary": self.vocabulary, "lowercase": self.lowercase,
            "sequence_length": self.sequence_length,
        }

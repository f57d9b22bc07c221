"""Recurrent language models: teacher-forced next-token training, sampling, perplexity and a single-step model."""

from __future__ import annotations

import math
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from genkit.data.text_corpus import load_text_corpus
from genkit.data.text_tokenizer import OOV_TOKEN, TextTokenizer, graph_tokens
from genkit.errors import UserError
from genkit.layers import TokenEmbedding
from genkit.options import PROMPT_OPTION, Option, non_negative_float, positive_int, probability
from genkit.signatures import Endpoint, TensorDeclaration
from genkit.tasks.generative_task import GenerativeTask
from genkit.tasks.learning_rate_schedule import scheduled_learning_rate
from genkit.tasks.loss_scaling import with_loss_scaling
from genkit.models.language_model.language_model_network import build_language_model_network, state_names
from genkit.tasks.token_sampling import choose_next

EVALUATION_STREAMS = 32
EVALUATION_CHUNK = 256
SAMPLING_OPTIONS = (
    PROMPT_OPTION,
    Option("length", "text models: tokens to generate", positive_int, "N"),
    Option("temperature", "text models: 0 is greedy", non_negative_float, "T"),
    Option("top_k", "text models: sample from the K likeliest", positive_int, "K"),
    Option("top_p", "text models: nucleus sampling, cumulative probability P", probability, "P"),
)


# What one generation request may ask for (fixed in every export): its cost is about prompts x (prompt + length)
# recurrent steps, so a request cannot hold a TF Serving worker for hours. Longer prompts keep their last tokens.
MAX_GENERATION_LENGTH = 4096
MAX_PROMPT_TOKENS = 4096
MAX_PROMPTS = 256


class LanguageModel(GenerativeTask):
    """A token-level recurrent language model (the base of ``char-lstm`` and ``word-lstm``).

    Args:
        network: the functional network of :func:`build_language_model_network`
            (tokens and initial states -> logits and final states).
        level: "char" or "word".
        cell: "lstm" or "gru".
        num_layers: recurrent layers; units: their size.
        vocabulary: the tokens, index = token id (0: OOV, 1: end of text).
        lowercase: lowercase text before tokenising.
        sequence_length: tokens per training window.

    ``train_step`` takes int32 windows [batch, sequence_length + 1] and
    predicts every token from the ones before it. Text generation runs the
    recurrent cells one step at a time (the same weights as the network), in
    a graph that the string serving signature and ``genkit sample`` share.
    """

    data_fields = ("corpus",)
    example_unit = "windows"
    sample_file_types = (".txt",)
    prints_samples = True
    final_samples_file = "samples.txt"
    sampling_options = SAMPLING_OPTIONS
    default_length = 200

    def __init__(self, network, level, cell, num_layers, units, vocabulary, lowercase=False, sequence_length=128,
                 **kwargs):
        super().__init__(**kwargs)
        self.network = network
        self.level = level
        self.cell = cell
        self.num_layers = num_layers
        self.units = units
        self.vocabulary = list(vocabulary)
        self.lowercase = lowercase
        self.sequence_length = sequence_length
        self.tokenizer = TextTokenizer(level, self.vocabulary, lowercase)
        self.state_names = state_names(cell, num_layers)
        self.lookup = keras.layers.StringLookup(
            vocabulary=self.vocabulary[1:], num_oov_indices=1, oov_token=OOV_TOKEN, mask_token=None,
            output_mode="int", name="lookup",
        )
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.base_learning_rate, self.learning_rate_schedule = None, "constant"  # set by compile_for_training
        self.built = True

    @classmethod
    def from_hyperparameters(cls, config):
        return cls(
            network=build_language_model_network(config),
            level=config.level,
            cell=config.cell,
            num_layers=config.layers,
            units=config.units,
            vocabulary=config.vocabulary,
            lowercase=config.lowercase,
            sequence_length=config.sequence_length,
            name=cls.registered_name.replace("-", "_"),
        )

    @property
    def metrics(self):
        return [self.loss_tracker]

    @property
    def end_id(self) -> int:
        return self.tokenizer.end_id

    def _trainable_network_variables(self):
        return self.network.trainable_variables

    def compile_for_training(self, config, seed: int = 0):
        """Adam(``config.learning_rate``), decayed by ``config.learning_rate_schedule`` over the planned training."""
        optimizer = keras.optimizers.Adam(config.learning_rate, global_clipnorm=config.clip_norm or None)
        self.compile(optimizer=with_loss_scaling(optimizer))
        self.base_learning_rate, self.learning_rate_schedule = config.learning_rate, config.learning_rate_schedule

    def set_training_progress(self, progress: float) -> None:
        if self.learning_rate_schedule != "constant":
            self.optimizer.learning_rate = scheduled_learning_rate(
                self.base_learning_rate, self.learning_rate_schedule, progress
            )

    def checkpoint_objects(self):
        return {"network": self.network, "optimizer": self.optimizer}

    def zero_states(self, batch_size) -> list:
        return [tf.zeros([batch_size, self.units]) for _ in self.state_names]

    def call(self, tokens, training=False):
        """Logits [batch, time, vocabulary] of int32 ``tokens`` [batch, time], from zero state."""
        logits, *_ = self.network([tokens, *self.zero_states(tf.shape(tokens)[0])], training=training)
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

    # -- training data -------------------------------------------------------------------------

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
        from genkit.models.language_model.text_samples import TextSamples
        from genkit.atomic import write_json

        write_json(Path(run.path) / "vocabulary.json", self.tokenizer.description())
        return [TextSamples(run.samples_dir, length=self.default_length, seed=seed)]

    # -- generation ----------------------------------------------------------------------------

    def step(self, token, states):
        """One step of the recurrent cells: (int32 [batch], states) -> (float32 logits [batch, vocabulary], states)."""
        return self.step_from_embedding(self.network.get_layer("embedding")(token), states)

    def step_from_embedding(self, x, states):
        """:meth:`step` from the token's embedding ``x`` [batch, embedding_dim] (explanations take gradients there)."""
        network = self.network
        new_states = []
        per_layer = 2 if self.cell == "lstm" else 1
        for index in range(self.num_layers):
            layer_states = list(states[index * per_layer : (index + 1) * per_layer])
            x, next_states = network.get_layer(f"rnn_{index}").cell(x, layer_states, training=False)
            new_states += list(next_states) if isinstance(next_states, (list, tuple)) else [next_states]
        embedding = network.get_layer("embedding")
        if isinstance(embedding, TokenEmbedding):
            if _has_layer(network, "tied_projection"):
                x = network.get_layer("tied_projection")(x)
            logits = embedding(x, project=True)
        else:
            logits = network.get_layer("logits")(x)
        return tf.cast(logits, tf.float32), [tf.cast(s, tf.float32) for s in new_states]

    def encode_prompts(self, prompts):
        """Padded int32 ids [batch, max(1, longest)] and lengths [batch] >= 1; an empty prompt is the end token.
        A prompt keeps its last ``MAX_PROMPT_TOKENS`` tokens (what the continuation depends on most)."""
        tokens = graph_tokens(prompts, self.level, self.lowercase)
        ids = tf.ragged.map_flat_values(lambda t: tf.cast(self.lookup(t), tf.int32), tokens)[:, -MAX_PROMPT_TOKENS:]
        lengths = tf.cast(ids.row_lengths(), tf.int32)
        padded = ids.to_tensor(default_value=self.end_id)
        padded = tf.pad(padded, [[0, 0], [0, tf.maximum(1 - tf.shape(padded)[1], 0)]], constant_values=self.end_id)
        return padded, tf.maximum(lengths, 1)

    def generate_ids(self, prompt_ids, prompt_lengths, length, temperature, top_k, top_p, seed):
        """Generated ids [batch, max(length)] and a mask of the ones that count (within length, before an end token)."""
        batch = tf.shape(prompt_ids)[0]
        states = self.zero_states(batch)
        logits = tf.zeros([batch, len(self.vocabulary)])

        def read_prompt(t, logits, states):
            next_logits, next_states = self.step(prompt_ids[:, t], states)
            active = (t < prompt_lengths)[:, None]
            states = [tf.where(active, new, old) for new, old in zip(next_states, states)]
            return t + 1, tf.where(active, next_logits, logits), states

        _, logits, states = tf.while_loop(
            lambda t, *_: t < tf.shape(prompt_ids)[1], read_prompt, (tf.constant(0), logits, states),
        )
        steps = tf.maximum(tf.reduce_max(tf.concat([length, [0]], 0)), 0)
        seed = seed[0] if seed.shape.rank else seed

        def generate(t, logits, states, tokens):
            token = choose_next(logits, temperature, top_k, top_p, seed, t)
            next_logits, next_states = self.step(token, states)
            return t + 1, next_logits, next_states, tokens.write(t, token)

        _, _, _, tokens = tf.while_loop(
            lambda t, *_: t < steps, generate,
            (tf.constant(0), logits, states, tf.TensorArray(tf.int32, size=steps, element_shape=[None])),
        )
        tokens = tf.reshape(tf.transpose(tokens.stack()), [batch, steps])
        positions = tf.range(steps)[None, :]
        before_end = tf.cumsum(tf.cast(tokens == self.end_id, tf.int32), axis=1) == 0
        return tokens, (positions < length[:, None]) & before_end

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
        strings = tf.ragged.boolean_mask(tf.gather(tf.constant(self.vocabulary), tokens), mask)
        joiner = self.tokenizer.joiner
        generated = tf.strings.reduce_join(strings, axis=1, separator=joiner)
        separator = tf.where((strings.row_lengths() > 0) & (tf.strings.length(prompts) > 0), joiner, "")
        return {"text": prompts + separator + generated, "generated": generated}

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

    _generate_function = None

    def generate_samples(self, num_samples: int, seed: int = 0, prompt=None, length=None, temperature=None,
                         top_k=None, top_p=None, **options):
        """``num_samples`` texts: ``prompt`` (default: none, start of a document) and ``length`` tokens after it."""
        self.check_options("sampling", options)
        if length is not None and length > MAX_GENERATION_LENGTH:
            raise UserError(f"--length {length}: at most {MAX_GENERATION_LENGTH} tokens per sample")
        inputs = self.generation_inputs(
            [prompt or ""] * num_samples, self.default_length if length is None else length,
            1.0 if temperature is None else temperature, top_k, top_p, seed,
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

    # -- explanations --------------------------------------------------------------------------

    def explanation_methods(self):
        """Adds ``token-saliency`` (which prompt tokens the next-token prediction depends on) and ``next-token``
        (the distribution at each step of a generated sample)."""
        from genkit.tasks.explanations import ExplanationMethod

        methods = super().explanation_methods()
        methods["token-saliency"] = ExplanationMethod(
            "token-saliency", "how much each token of held-out text moves the prediction of the next token",
            self._explain_token_saliency,
        )
        methods["next-token"] = ExplanationMethod(
            "next-token", "the most probable next tokens and their probabilities at each step of a generated sample",
            self._explain_next_tokens, needs_data=False,
        )
        return methods

    EXPLAINED_TOKENS = 24

    def _token_text(self, token_id: int) -> str:
        return "<end>" if token_id == self.end_id else "<unk>" if token_id == 0 else str(self.vocabulary[token_id])

    def _explain_token_saliency(self, data, num_samples, seed):
        """|d logit(predicted next token) / d embedding| per token, by a gradient tape at the embedding.

        Not tf-keras-vis's ``Saliency``: tokens are integers (no gradient reaches them), and the network cannot
        be cut at the embedding into one functional sub-network (tied embeddings project the output too), so
        the same quantity is taken here with a tape at the embedding's output, step by step.
        """
        from genkit.tasks.explanations import ExplanationSkipped, Figure, normalized, token_figure, visible

        documents = data.validation_documents or data.train_documents
        ids = np.asarray(self.tokenizer.encode_documents(documents), np.int32)
        length = self.EXPLAINED_TOKENS
        if len(ids) <= length:
            raise ExplanationSkipped(f"{data.name}: fewer than {length + 1} tokens of held-out text")
        rng = np.random.default_rng(seed)
        starts = np.sort(rng.choice(len(ids) - length, min(num_samples, len(ids) - length), replace=False))
        windows = np.stack([ids[start : start + length] for start in starts])
        embedded = tf.convert_to_tensor(self.network.get_layer("embedding")(windows))
        with tf.GradientTape() as tape:
            tape.watch(embedded)
            states = self.zero_states(len(windows))
            for position in range(length):
                logits, states = self.step_from_embedding(embedded[:, position], states)
            predicted = tf.argmax(logits, axis=-1, output_type=tf.int32)
            score = tf.reduce_sum(tf.gather(logits, predicted, batch_dims=1))
        saliency = normalized(tf.norm(tape.gradient(score, embedded), axis=-1).numpy())
        probabilities = tf.nn.softmax(logits).numpy()
        rows = []
        for window, values, token, probability in zip(windows, saliency, predicted.numpy(), probabilities):
            tokens = [visible(self._token_text(int(t))) for t in window]
            tokens.append(f"=> {visible(self._token_text(int(token)))} {probability[token]:.2f}")
            rows.append((tokens, np.append(values, np.nan)))
        return [Figure(
            name="token_saliency", title="token saliency", method="token-saliency",
            description=(f"For {len(windows)} windows of {length} held-out tokens: the gradient norm of the logit of the "
                         "predicted next token (last cell, with its probability) at each token's embedding, scaled to "
                         "[0, 1] per row: the tokens the prediction depends on. Taken with a gradient tape at the "
                         "embedding rather than tf-keras-vis's Saliency, since token ids are integers."),
            png=token_figure("token saliency (darker: the prediction depends more on it)", rows, "saliency"),
            arrays={"tokens": windows, "saliency": saliency, "predicted": predicted.numpy()},
        )]

    def _explain_next_tokens(self, data, num_samples, seed, top: int = 5):
        from genkit.tasks.explanations import Figure, probability_figure

        steps = self.EXPLAINED_TOKENS
        rng = np.random.default_rng(seed)
        token = tf.constant([self.end_id], tf.int32)
        states = self.zero_states(1)
        chosen, candidates, probabilities = [], [], []
        for _ in range(steps):
            logits, states = self.step(token, states)
            distribution = tf.nn.softmax(logits[0]).numpy().astype(np.float64)
            best = np.argsort(-distribution)[:top]
            picked = int(rng.choice(len(distribution), p=distribution / distribution.sum()))
            chosen.append(self._token_text(picked))
            candidates.append([self._token_text(int(k)) for k in best])
            probabilities.append(distribution[best])
            token = tf.constant([picked], tf.int32)
        return [Figure(
            name="next_token", title="next-token distribution", method="next-token",
            description=(f"A sample of {steps} tokens drawn at temperature 1 (seed {seed}) from the start of a text; each "
                         f"column: the {top} most probable tokens at that step with their probabilities, the drawn token "
                         "below. Spread-out columns: the model is unsure there."),
            png=probability_figure("next-token distribution of a generated sample", chosen, candidates, np.asarray(probabilities)),
            arrays={"probabilities": np.asarray(probabilities)},
        )]

    # -- evaluation ----------------------------------------------------------------------------

    @classmethod
    def evaluation_data(cls, metadata: dict, dataset: str | None = None, data_dir: str | None = None):
        """The run's held-out text, or all of ``dataset``'s text (with the run's vocabulary)."""
        config = metadata["config"]
        if dataset:
            return load_text_corpus(dataset, 0.0, config.get("encoding_errors", "strict"))
        corpus = load_text_corpus(metadata["data"]["name"], config["validation_fraction"], config["encoding_errors"])
        if not corpus.validation_documents:
            raise UserError(
                f"{metadata['data']['name']}: the run held out no validation text (validation_fraction 0); "
                "pass --dataset text:PATH"
            )
        return corpus

    def evaluation_metrics(self, data, num_samples: int | None = None, seed: int = 0, **options) -> dict:
        """cross_entropy (nats per token), perplexity and bits_per_char over the characters of the text.

        The text (validation part, or all of a --dataset) is read as one
        stream in 32 parallel contiguous parts whose state carries over from
        chunk to chunk; each document ends with the end token, which is
        predicted too. Word models' bits per character divide the same total
        by the number of characters, so char and word models compare.
        """
        self.check_options("evaluation", options)
        documents = data.validation_documents or data.train_documents
        ids = np.asarray([self.end_id, *self.tokenizer.encode_documents(documents)], np.int32)
        predictions = len(ids) - 1
        if predictions < 1:
            raise UserError(f"{data.name}: no text to evaluate on")
        streams = min(EVALUATION_STREAMS, predictions)
        per_stream = predictions // streams
        inputs = ids[: streams * per_stream].reshape(streams, per_stream)
        targets = ids[1 : streams * per_stream + 1].reshape(streams, per_stream)
        states = self.zero_states(streams)
        total = 0.0
        chunk_loss = tf.function(self._chunk_loss, reduce_retracing=True)
        for start in range(0, per_stream, EVALUATION_CHUNK):
            stop = start + EVALUATION_CHUNK
            loss, states = chunk_loss(tf.constant(inputs[:, start:stop]), tf.constant(targets[:, start:stop]), states)
            total += float(loss)
        evaluated = streams * per_stream
        cross_entropy = total / evaluated
        characters = sum(len(document) for document in documents)
        tokens = predictions
        return {
            "cross_entropy": cross_entropy,
            "perplexity": math.exp(cross_entropy),
            "bits_per_char": cross_entropy * tokens / max(characters, 1) / math.log(2),
            "tokens": tokens,
            "characters": characters,
            "oov_rate": float(np.mean(ids[1:] == 0)),
        }

    def _chunk_loss(self, inputs, targets, states):
        logits, *states = self.network([inputs, *states], training=False)
        loss = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=targets, logits=tf.cast(logits, tf.float32))
        return tf.reduce_sum(loss), states

    # -- serving and export --------------------------------------------------------------------

    def _text_declarations(self) -> tuple[TensorDeclaration, ...]:
        return (
            TensorDeclaration("prompt", "text", "string", (), description="the text to continue (may be empty)"),
            TensorDeclaration("length", "parameter", "int32", (), (0, MAX_GENERATION_LENGTH), description="tokens to generate"),
            TensorDeclaration("temperature", "parameter", "float32", (), description="0 is greedy"),
            TensorDeclaration("top_k", "parameter", "int32", (), (0, len(self.vocabulary)), description="0: no top-k cut"),
            TensorDeclaration("top_p", "parameter", "float32", (), value_range=(0.0, 1.0), description="1: no nucleus cut"),
            TensorDeclaration("seed", "parameter", "int32", (), description="the same seed gives the same text"),
        )

    def _text_signature(self):
        return [declaration.tensor_spec() for declaration in self._text_declarations()]

    def endpoints(self):
        """``serving_default``: strings in, strings out (the tokeniser in the graph; SavedModel only);
        ``step``: one token and the recurrent states in, logits and the next states out (edge exports)."""

        def serve(prompt, length, temperature, top_k, top_p, seed):
            return self.generate_text(prompt, length, temperature, top_k, top_p, seed)

        def step(token, *states):
            logits, next_states = self.step(token, list(states))
            return {"logits": logits, **{f"next_{name}": s for name, s in zip(self.state_names, next_states)}}

        texts = (
            TensorDeclaration("text", "text", "string", (), description="the prompt and its continuation"),
            TensorDeclaration("generated", "text", "string", (), description="the continuation alone"),
        )
        states = tuple(TensorDeclaration(name, "state", "float32", (self.units,)) for name in self.state_names)
        step_outputs = (
            TensorDeclaration("logits", "logits", "float32", (len(self.vocabulary),)),
            *(TensorDeclaration(f"next_{d.name}", "state", "float32", d.shape) for d in states),
        )
        token = TensorDeclaration(
            "token", "tokens", "int32", (), value_range=(0, len(self.vocabulary) - 1), description="the current token id",
        )
        return {
            "serving_default": Endpoint(
                "serving_default", serve, self._text_declarations(), texts, edge=False, max_rows=MAX_PROMPTS, row_name="prompts",
            ),
            "step": Endpoint("step", step, (token, *states), step_outputs, serving=False),
        }

    def endpoint_inputs(self, endpoint: str, num_samples: int, seed: int, data=None) -> dict:
        rng = np.random.default_rng(seed)
        if endpoint == "step":
            inputs = {"token": rng.integers(0, len(self.vocabulary), num_samples).astype(np.int32)}
            if data is not None and getattr(data, "train_ids", None) is not None:
                inputs["token"] = rng.choice(data.train_ids, num_samples).astype(np.int32)
            for name in self.state_names:
                inputs[name] = (0.5 * rng.standard_normal((num_samples, self.units))).astype(np.float32)
            return inputs
        if endpoint == "serving_default":
            prompts = ["", "The ", "And the"]
            if data is not None and data.train_documents:
                text = data.train_documents[0]
                starts = rng.integers(0, max(len(text) - 20, 1), num_samples)
                prompts = [text[s : s + 12] for s in starts]
            prompts = [prompts[i % len(prompts)] for i in range(num_samples)]
            inputs = self.generation_inputs(prompts, 16, 1.0, 0, 1.0, seed)
            inputs["temperature"] = np.array([(0.0, 0.8, 1.2)[i % 3] for i in range(num_samples)], np.float32)
            inputs["top_k"] = np.array([(0, 5, 0)[i % 3] for i in range(num_samples)], np.int32)
            inputs["top_p"] = np.array([(1.0, 1.0, 0.9)[i % 3] for i in range(num_samples)], np.float32)
            return inputs
        return super().endpoint_inputs(endpoint, num_samples, seed, data)

    def export_quality(self, endpoint: str, run_export, data=None, num_samples: int = 1000, seed: int = 0) -> dict:
        """The step model's cost: bits per character over held-out text, Keras vs export, and greedy agreement."""
        if endpoint != "step":
            return super().export_quality(endpoint, run_export, data=data, num_samples=num_samples, seed=seed)
        from genkit.models.language_model.step_export_cost import step_export_quality

        return step_export_quality(self, run_export, data, num_samples=num_samples, seed=seed)

    def export_metadata(self) -> dict:
        return {
            "text": {
                **self.tokenizer.description(),
                "state_names": list(self.state_names),
                "state_sizes": [self.units] * len(self.state_names),
            }
        }

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "network": keras.saving.serialize_keras_object(self.network),
                "level": self.level,
                "cell": self.cell,
                "num_layers": self.num_layers,
                "units": self.units,
                "vocabulary": self.vocabulary,
                "lowercase": self.lowercase,
                "sequence_length": self.sequence_length,
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["network"] = keras.saving.deserialize_keras_object(config["network"])
        return cls(**config)


def _has_layer(network, name) -> bool:
    return any(layer.name == name for layer in network.layers)


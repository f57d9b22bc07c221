"""Bits per token of held-out text within a bounded context, and the log-likelihood of given texts.

Two protocols, one per kind of state: a model whose state holds any history (``context_length`` None: recurrent
cells) reads the text as 32 parallel streams whose state carries over from chunk to chunk; a model with a fixed
context slides a window of ``context_length`` tokens with a stride of half of it, so that every position is scored
exactly once and, past the first window, with at least half a context of history.
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

from genkit.data.text_corpus import load_text_corpus
from genkit.errors import UserError

EVALUATION_STREAMS = 32
EVALUATION_CHUNK = 256
WINDOW_BATCH = 32


def evaluation_corpus(metadata: dict, dataset: str | None = None):
    """The run's held-out text, or all of ``dataset``'s text (to be read with the run's vocabulary)."""
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


def streamed_cross_entropy(model, ids: np.ndarray) -> tuple[float, int]:
    """Summed cross-entropy (nats) of predicting ``ids[1:]`` from what comes before, and how many predictions.

    ``ids`` is cut into ``EVALUATION_STREAMS`` contiguous parts read in parallel, chunk by chunk, the state carried
    from chunk to chunk (what is left over at the end of the division is not scored).
    """
    predictions = len(ids) - 1
    streams = min(EVALUATION_STREAMS, predictions)
    per_stream = predictions // streams
    inputs = ids[: streams * per_stream].reshape(streams, per_stream)
    targets = ids[1 : streams * per_stream + 1].reshape(streams, per_stream)
    state = model.initial_state(streams)

    def chunk_loss(inputs, targets, state, position):
        logits, state = model.call_with_state(inputs, state, position)
        loss = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=targets, logits=tf.cast(logits, tf.float32))
        return tf.reduce_sum(loss), state

    chunk_loss = tf.function(chunk_loss, reduce_retracing=True)
    total = 0.0
    for start in range(0, per_stream, EVALUATION_CHUNK):
        stop = start + EVALUATION_CHUNK
        position = tf.fill([streams], start)
        loss, state = chunk_loss(tf.constant(inputs[:, start:stop]), tf.constant(targets[:, start:stop]), state, position)
        total += float(loss)
    return total, streams * per_stream


def sliding_windows(count: int, context: int, stride: int) -> list[tuple[int, int, int]]:
    """``(start, stop, first_scored)`` windows over ``count`` predictions: window inputs are ``ids[start:stop]``
    (at most ``context``), targets ``ids[start + 1 : stop + 1]``; target positions from ``first_scored`` on are
    scored there. Each target is scored by exactly one window."""
    windows, scored_until, start = [], 0, 0
    while scored_until < count:
        stop = min(start + context, count)
        windows.append((start, stop, scored_until))
        scored_until = stop
        start += stride
    return windows


def windowed_cross_entropy(model, ids: np.ndarray, context: int, stride: int | None = None) -> tuple[float, int]:
    """:func:`streamed_cross_entropy` for a model that holds ``context`` tokens: a window of ``context`` tokens
    slides by ``stride`` (default half the context), each window read from the initial state."""
    stride = max(1, context // 2) if stride is None else stride
    if not 1 <= stride <= context:
        raise ValueError(f"stride {stride}: must be in [1, context = {context}]")
    count = len(ids) - 1
    windows = sliding_windows(count, context, stride)
    logits_of = tf.function(lambda tokens: model(tokens, training=False), reduce_retracing=True)
    total = 0.0
    for first in range(0, len(windows), WINDOW_BATCH):
        group = windows[first : first + WINDOW_BATCH]
        inputs = np.full((len(group), context), model.end_id, np.int32)
        targets = np.zeros((len(group), context), np.int32)
        mask = np.zeros((len(group), context), bool)
        for row, (start, stop, scored_from) in enumerate(group):
            inputs[row, : stop - start] = ids[start:stop]
            targets[row, : stop - start] = ids[start + 1 : stop + 1]
            mask[row, scored_from - start : stop - start] = True
        total += float(_token_losses(logits_of, inputs, targets)[mask].sum())
    return total, count


def _token_losses(logits_of, inputs: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Cross-entropy (nats) [rows, time] of each target after the inputs before it, from the initial state."""
    logits = tf.cast(logits_of(tf.constant(inputs)), tf.float32)
    return tf.nn.sparse_softmax_cross_entropy_with_logits(labels=targets, logits=logits).numpy()


def cross_entropy_of(model, ids: np.ndarray) -> tuple[float, int]:
    """The protocol the model's state allows: streamed, or by a sliding window of its context."""
    if model.context_length is None:
        return streamed_cross_entropy(model, ids)
    return windowed_cross_entropy(model, ids, model.context_length)


def text_metrics(model, data) -> dict:
    """cross_entropy (nats per token), perplexity and bits_per_char over the characters of the text.

    The text is the validation part (or all of a --dataset); each document ends with the end token, which is
    predicted too. Word models' bits per character divide the same total by the number of characters, so char
    and word models compare.
    """
    documents = data.validation_documents or data.train_documents
    ids = np.asarray([model.end_id, *model.tokenizer.encode_documents(documents)], np.int32)
    predictions = len(ids) - 1
    if predictions < 1:
        raise UserError(f"{data.name}: no text to evaluate on")
    total, evaluated = cross_entropy_of(model, ids)
    cross_entropy = total / evaluated
    characters = sum(len(document) for document in documents)
    return {
        "cross_entropy": cross_entropy,
        "perplexity": math.exp(cross_entropy),
        "bits_per_char": cross_entropy * predictions / max(characters, 1) / math.log(2),
        "tokens": predictions,
        "characters": characters,
        "oov_rate": float(np.mean(ids[1:] == 0)),
        "protocol": "streamed" if model.context_length is None else f"sliding window of {model.context_length}",
    }


def text_log_likelihoods(model, texts: list[str], batch_size: int = 64) -> np.ndarray:
    """log p(text and its end token | the start of a document), nats, per text.

    Texts that fit the model's context are scored in padded batches (later padding cannot change a causal model's
    earlier predictions); a longer text by :func:`windowed_cross_entropy`.
    """
    sequences = [np.asarray([model.end_id, *model.tokenizer.encode(text), model.end_id], np.int32) for text in texts]
    scores = np.zeros(len(sequences), np.float64)
    context = model.context_length
    short = [index for index, ids in enumerate(sequences) if context is None or len(ids) - 1 <= context]
    logits_of = tf.function(lambda tokens: model(tokens, training=False), reduce_retracing=True)
    for first in range(0, len(short), batch_size):
        rows = short[first : first + batch_size]
        width = max(len(sequences[index]) - 1 for index in rows)
        inputs = np.full((len(rows), width), model.end_id, np.int32)
        targets = np.zeros((len(rows), width), np.int32)
        mask = np.zeros((len(rows), width), bool)
        for row, index in enumerate(rows):
            ids = sequences[index]
            inputs[row, : len(ids) - 1], targets[row, : len(ids) - 1], mask[row, : len(ids) - 1] = ids[:-1], ids[1:], True
        scores[rows] = -(_token_losses(logits_of, inputs, targets) * mask).sum(axis=1)
    for index in sorted(set(range(len(sequences))) - set(short)):
        scores[index] = -windowed_cross_entropy(model, sequences[index], context)[0]
    return scores

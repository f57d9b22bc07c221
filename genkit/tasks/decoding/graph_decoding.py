"""Beam search and sampled decoding in a TensorFlow graph, over any one-step decoder.

A decoder is a function ``step(tokens [M], states) -> (logits [M, V], next states, trace [M, K])``
where ``states`` is a list of per-row tensors (recurrent states, a key/value cache and its position, and anything
per row the step reads, such as image features) and ``trace`` is recorded per step for the chosen sequence (attention
weights; zeros [M, 1] when there is nothing to record). A sequence starts from ``start_tokens`` (the last token of a
prompt, whose earlier tokens are already in ``states``) or else from ``boundary_id``, and ends when it emits
``boundary_id``.
"""

from __future__ import annotations

import tensorflow as tf

from genkit.tasks.decoding.token_sampling import choose_next

NEGATIVE_INFINITY = float("-inf")


def length_normalised(log_probabilities, lengths, length_penalty):
    """Wu et al. (2016)'s ranking score: log p / ((5 + length) / 6) ** alpha (alpha 0: the log-probability)."""
    penalty = tf.pow((5.0 + tf.cast(lengths, tf.float32)) / 6.0, length_penalty)
    return log_probabilities / penalty


def _banned(log_probabilities, banned_ids):
    """Log-probabilities [M, V] with the ``banned_ids`` columns at -inf."""
    if not banned_ids:
        return log_probabilities
    vocabulary_size = tf.shape(log_probabilities)[-1]
    mask = tf.reduce_sum(tf.one_hot(list(banned_ids), vocabulary_size), axis=0) > 0
    return tf.where(mask[None, :], NEGATIVE_INFINITY, log_probabilities)


def beam_search(step, states, beam_width, max_length, length_penalty, boundary_id: int = 0, banned_ids=(),
                trace_size: int = 1, start_tokens=None):
    """The best sequence of each row by beam search.

    Args:
        step: the one-step decoder (module docstring).
        states: per-row tensors [N, ...] (tiled over the beams here).
        beam_width: int32 [N] >= 1: each row keeps its own number of beams (the batch runs max(beam_width) and
            drops every candidate ranked beyond a row's width, so a row's result is what a search of its width alone
            gives). Width 1 is greedy decoding.
        max_length: steps at most (the boundary token counts as one).
        length_penalty: float32 [N], Wu et al.'s alpha used to rank the finished beams (0: by log-probability).
        banned_ids: tokens never chosen (e.g. an unknown-word id).
        start_tokens: int32 [N], the first token each row reads (default: ``boundary_id``).

    Returns ``(tokens int32 [N, max_length], lengths int32 [N], log_probabilities float32 [N], traces float32
    [N, max_length, trace_size])``: ``lengths`` counts the tokens before the boundary; ``tokens`` hold the boundary
    from there on.
    """
    beam_width = tf.maximum(tf.cast(beam_width, tf.int32), 1)
    batch = tf.shape(beam_width)[0]
    beams = tf.reduce_max(beam_width)
    rows = batch * beams
    states = [tf.repeat(state, beams, axis=0) for state in states]
    beam_index = tf.range(beams)[None, :]
    scores = tf.where(beam_index == 0, 0.0, NEGATIVE_INFINITY) + tf.zeros([batch, 1])
    finished = tf.zeros([batch, beams], tf.bool)
    steps_taken = tf.zeros([batch, beams], tf.int32)
    history = tf.fill([batch, beams, max_length], boundary_id)
    traces = tf.zeros([batch, beams, max_length, trace_size])
    tokens = _start(start_tokens, batch, boundary_id)
    tokens = tf.repeat(tokens, beams, axis=0)
    positions = tf.range(max_length)

    def body(t, tokens, states, scores, finished, steps_taken, history, traces):
        logits, next_states, trace = step(tokens, states)
        vocabulary_size = tf.shape(logits)[-1]
        log_probabilities = _banned(tf.nn.log_softmax(tf.cast(logits, tf.float32)), banned_ids)
        log_probabilities = tf.reshape(log_probabilities, [batch, beams, vocabulary_size])
        # A finished beam continues only with the boundary, at no cost: it stays one candidate with its score.
        ended = tf.where(tf.range(vocabulary_size) == boundary_id, 0.0, NEGATIVE_INFINITY)
        log_probabilities = tf.where(finished[..., None], ended[None, None, :], log_probabilities)
        candidates = tf.reshape(scores[..., None] + log_probabilities, [batch, beams * vocabulary_size])
        top_scores, top_index = tf.math.top_k(candidates, k=beams)
        top_scores = tf.where(beam_index < beam_width[:, None], top_scores, NEGATIVE_INFINITY)
        origin = top_index // vocabulary_size
        chosen = tf.cast(top_index % vocabulary_size, tf.int32)
        was_finished = tf.gather(finished, origin, batch_dims=1)
        steps_taken = tf.gather(steps_taken, origin, batch_dims=1) + tf.cast(~was_finished, tf.int32)
        history = tf.gather(history, origin, batch_dims=1)
        history = tf.where(positions[None, None, :] == t, chosen[..., None], history)
        flat_origin = tf.reshape(origin + tf.range(batch)[:, None] * beams, [rows])
        trace = tf.reshape(tf.gather(tf.cast(trace, tf.float32), flat_origin), [batch, beams, 1, trace_size])
        traces = tf.gather(traces, origin, batch_dims=1)
        traces = tf.where((positions == t)[None, None, :, None] & ~was_finished[..., None, None], trace, traces)
        states = [tf.gather(state, flat_origin) for state in next_states]
        finished = was_finished | (chosen == boundary_id)
        return t + 1, tf.reshape(chosen, [rows]), states, top_scores, finished, steps_taken, history, traces

    def running(t, tokens, states, scores, finished, *rest):
        alive = ~finished & (scores > NEGATIVE_INFINITY)
        return (t < max_length) & tf.reduce_any(alive)

    loop_variables = (tf.constant(0), tokens, states, scores, finished, steps_taken, history, traces)
    _, _, _, scores, finished, steps_taken, history, traces = tf.while_loop(
        running, body, loop_variables, shape_invariants=_unknown_sizes(loop_variables),
    )
    ranking = length_normalised(scores, steps_taken, tf.cast(length_penalty, tf.float32)[:, None])
    best = tf.argmax(ranking, axis=1, output_type=tf.int32)
    best_tokens = tf.gather(history, best, batch_dims=1)
    lengths = tf.reduce_sum(tf.cast(tf.cumsum(tf.cast(best_tokens == boundary_id, tf.int32), axis=1) == 0, tf.int32), 1)
    return best_tokens, lengths, tf.gather(scores, best, batch_dims=1), tf.gather(traces, best, batch_dims=1)


def _unknown_sizes(loop_variables):
    """Shape invariants with every dimension unknown (the beams' count is a tensor): only the ranks are fixed."""
    return tf.nest.map_structure(
        lambda x: x.element_shape if isinstance(x, tf.TensorArray) else tf.TensorShape([None] * x.shape.rank), loop_variables,
    )


def _start(start_tokens, batch, boundary_id):
    return tf.fill([batch], boundary_id) if start_tokens is None else tf.cast(start_tokens, tf.int32)


def sample_sequences(step, states, temperature, top_k, top_p, seed, max_length, boundary_id: int = 0,
                     banned_ids=(), trace_size: int = 1, start_tokens=None):
    """One sequence per row drawn token by token (temperature / top-k / top-p per row; temperature 0 is greedy).

    ``max_length`` may be a tensor. The draw of step ``t`` is seeded by (``seed``, ``t``): the same seed, step and
    logits give the same token. Returns what :func:`beam_search` returns; the log-probabilities are of the
    untempered model.
    """
    batch = tf.shape(temperature)[0]
    seed = tf.cast(seed[0] if seed.shape.rank else seed, tf.int32)
    tokens = _start(start_tokens, batch, boundary_id)
    log_probability = tf.zeros([batch])
    finished = tf.zeros([batch], tf.bool)
    history = tf.TensorArray(tf.int32, size=max_length, element_shape=[None])
    traces = tf.TensorArray(tf.float32, size=max_length, element_shape=[None, trace_size])

    def body(t, tokens, states, log_probability, finished, history, traces):
        logits, states, trace = step(tokens, states)
        logits = _banned(tf.cast(logits, tf.float32), banned_ids)
        chosen = choose_next(logits, temperature, top_k, top_p, seed, t)
        chosen = tf.where(finished, boundary_id, chosen)
        gained = tf.gather(tf.nn.log_softmax(logits), chosen, batch_dims=1)
        log_probability += tf.where(finished, 0.0, gained)
        traces = traces.write(t, tf.where(finished[:, None], 0.0, tf.cast(trace, tf.float32)))
        return t + 1, chosen, states, log_probability, finished | (chosen == boundary_id), history.write(t, chosen), traces

    _, _, _, log_probability, _, history, traces = tf.while_loop(
        lambda t, *_: t < max_length, body, (tf.constant(0), tokens, list(states), log_probability, finished, history, traces),
    )
    tokens = tf.reshape(tf.transpose(history.stack()), [batch, max_length])
    lengths = tf.reduce_sum(tf.cast(tf.cumsum(tf.cast(tokens == boundary_id, tf.int32), axis=1) == 0, tf.int32), 1)
    tokens = tf.where(tf.range(max_length)[None, :] < lengths[:, None], tokens, boundary_id)
    return tokens, lengths, log_probability, tf.transpose(traces.stack(), [1, 0, 2])

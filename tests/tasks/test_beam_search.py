"""Beam search and sampled decoding over a toy decoder whose best sequence is known."""

from __future__ import annotations

import math

import numpy as np
import pytest
import tensorflow as tf

from genkit.tasks.decoding.graph_decoding import beam_search, length_normalised, sample_sequences

# A first-order toy decoder over tokens 0 (the end), 1, 2, 3: row = the previous token, column = the next.
# Greedy follows 1 (0.5 > 0.4) and then keeps choosing 1 (0.36 > 0.34 > 0.3) until it runs out of steps; the best
# sequence is "2, end" with probability 0.4 x 0.9 = 0.36 (every sequence through 1 has at most 0.5 x 0.3 = 0.15).
TRANSITIONS = np.array([
    [0.1, 0.5, 0.4, 1e-6],
    [0.3, 0.36, 0.34, 1e-6],
    [0.9, 0.05, 0.05, 1e-6],
    [1.0, 1e-6, 1e-6, 1e-6],
])
MAX_LENGTH = 6


def toy_step(tokens, states):
    logits = tf.gather(tf.math.log(tf.constant(TRANSITIONS, tf.float32)), tokens)
    (counter,) = states
    return logits, [counter + 1.0], tf.one_hot(tokens, 4)  # trace: the token read, to check traces follow beams


def _search(widths, length_penalty=0.0, banned=()):
    count = len(widths)
    return beam_search(
        toy_step, [tf.zeros([count, 1])], tf.constant(widths, tf.int32), MAX_LENGTH,
        tf.fill([count], float(length_penalty)), banned_ids=banned, trace_size=4,
    )


def test_width_one_is_greedy_and_a_wider_beam_finds_the_known_best_sequence():
    tokens, lengths, log_probabilities, traces = (t.numpy() for t in _search([1, 2, 3]))
    assert list(tokens[0]) == [1] * MAX_LENGTH and lengths[0] == MAX_LENGTH  # greedy never ends
    np.testing.assert_allclose(log_probabilities[0], math.log(0.5) + (MAX_LENGTH - 1) * math.log(0.36), rtol=1e-5)
    for row in (1, 2):
        assert list(tokens[row]) == [2, 0, 0, 0, 0, 0] and lengths[row] == 1
        np.testing.assert_allclose(log_probabilities[row], math.log(0.36), rtol=1e-5)
    # The trace of the chosen beam: what each step read (the start, then 2); nothing after the end.
    np.testing.assert_array_equal(traces[1, :2].argmax(-1), [0, 2])
    assert traces[1, 2:].sum() == 0


def test_each_row_gets_what_a_search_of_its_own_width_gives():
    together = [t.numpy() for t in _search([1, 3, 2])]
    for row, width in enumerate([1, 3, 2]):
        alone = [t.numpy() for t in _search([width])]
        for combined, single in zip(together, alone):
            np.testing.assert_allclose(combined[row], single[0], rtol=1e-6)


def test_greedy_sampling_at_temperature_zero_equals_width_one():
    searched = [t.numpy() for t in _search([1, 1])]
    sampled = sample_sequences(
        toy_step, [tf.zeros([2, 1])], tf.zeros([2]), tf.zeros([2], tf.int32), tf.ones([2]), tf.constant([0, 0]),
        MAX_LENGTH, trace_size=4,
    )
    for a, b in zip(searched, sampled):
        np.testing.assert_allclose(a, b.numpy(), rtol=1e-6)


def test_banned_tokens_are_never_chosen():
    tokens, *_ = _search([1, 3], banned=(2,))
    assert 2 not in tokens.numpy()


def test_sampling_is_seeded_and_draws_by_the_model():
    def draw(seed):
        return sample_sequences(
            toy_step, [tf.zeros([2000, 1])], tf.ones([2000]), tf.zeros([2000], tf.int32), tf.ones([2000]),
            tf.constant([seed] * 2000), MAX_LENGTH, trace_size=4,
        )

    tokens, lengths, log_probabilities, _ = (t.numpy() for t in draw(5))
    np.testing.assert_array_equal(tokens, draw(5)[0].numpy())
    # First tokens: 0 (an empty sequence), 1 or 2 with probabilities 0.1, 0.5, 0.4.
    shares = np.bincount(tokens[:, 0], minlength=4)[:3] / len(tokens)
    np.testing.assert_allclose(shares, [0.1, 0.5, 0.4], atol=0.04)
    # The reported log-probability is the sequence's under the model.
    row = int(np.flatnonzero(lengths == 2)[0])
    path = [0, *tokens[row, :2], 0]
    expected = sum(math.log(TRANSITIONS[a, b]) for a, b in zip(path, path[1:]))
    np.testing.assert_allclose(log_probabilities[row], expected, rtol=1e-5)


@pytest.mark.parametrize("alpha", [0.0, 0.6, 1.0])
def test_length_normalisation_is_wu_et_al(alpha):
    value = length_normalised(tf.constant([-3.0]), tf.constant([4]), alpha).numpy()[0]
    np.testing.assert_allclose(value, -3.0 / ((5 + 4) / 6) ** alpha, rtol=1e-6)

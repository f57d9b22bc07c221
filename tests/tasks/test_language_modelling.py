"""The causal language modelling capability: evaluation protocols, score(texts), prompt decoding, declared state."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from genkit.config import TrainConfig, parse_overrides
from genkit.evaluation.export_cost import endpoint_runner
from genkit.registry import get_model_entry
from genkit.tasks.decoding.graph_decoding import beam_search, sample_sequences
from genkit.tasks.decoding.step_loop import StepDecoder, log_softmax, zero_state
from genkit.tasks.language_modelling.language_model_evaluation import (
    sliding_windows, streamed_cross_entropy, windowed_cross_entropy,
)

APPS = Path(__file__).resolve().parents[2] / "apps"


@pytest.fixture(scope="module")
def char_model(tiny_text):
    entry = get_model_entry("char-lstm")
    config = entry.config_class.from_dict(parse_overrides(["units=16", "embedding_dim=8", "sequence_length=16"]))
    data, config = entry.model_class.prepare_data(config, TrainConfig.from_dict({"dataset": f"text:{tiny_text}"}))
    keras.utils.set_random_seed(0)
    model = entry.model_class.from_hyperparameters(config)
    model.compile_for_training(config)
    batch = next(iter(model.training_dataset(data, 16, shuffle_seed=0)))
    for _ in range(10):
        model.train_step(batch)
    return model, data


@pytest.mark.parametrize("count, context, stride", [(1, 4, 2), (10, 4, 2), (11, 4, 1), (9, 4, 4), (3, 8, 4), (100, 16, 8)])
def test_sliding_windows_score_every_position_once_with_half_a_context_of_history(count, context, stride):
    scored = np.zeros(count, int)
    for start, stop, first in sliding_windows(count, context, stride):
        assert 0 <= start <= first < stop <= count and stop - start <= context
        scored[first:stop] += 1
        if start > 0:
            assert first - start >= context - stride  # history before the first scored position
    assert (scored == 1).all()


def test_a_window_holding_the_whole_text_scores_what_the_stream_scores(char_model):
    model, data = char_model
    ids = np.asarray([model.end_id, *model.tokenizer.encode_documents(data.train_documents)[:150]], np.int32)
    streamed, count = streamed_cross_entropy(model, ids[:33])  # 32 streams of one token: the whole history is 1
    windowed, windowed_count = windowed_cross_entropy(model, ids[:33], context=1)
    assert count == windowed_count == 32 and windowed == pytest.approx(streamed, rel=1e-5)
    whole, whole_count = windowed_cross_entropy(model, ids, context=len(ids))
    expected = -sum(
        log_softmax(logits)[0, target]
        for logits, target in zip(StepDecoder(endpoint_runner(model, "step"), zero_state(model.state_declarations(), 1))
                                  .read(ids[None, :-1]), ids[1:])
    )
    assert whole_count == len(ids) - 1 and whole == pytest.approx(expected, rel=1e-4)
    shorter, _ = windowed_cross_entropy(model, ids, context=8)
    assert shorter != pytest.approx(whole, rel=1e-6)  # less history: another number, the same positions


def test_score_is_the_log_likelihood_of_each_text_and_its_end_whatever_the_batch(char_model):
    model, _ = char_model
    texts = ["And God said", "", "Let there be light, and there was light."]
    scores = model.score(texts)
    assert scores.shape == (3,) and (scores < 0).all()
    for text, score in zip(texts, scores):
        ids = [model.end_id, *model.tokenizer.encode(text), model.end_id]
        decoder = StepDecoder(endpoint_runner(model, "step"), zero_state(model.state_declarations(), 1))
        expected = sum(log_softmax(decoder([token]))[0, target] for token, target in zip(ids[:-1], ids[1:]))
        assert score == pytest.approx(expected, rel=1e-4)
        assert model.score([text])[0] == pytest.approx(score, rel=1e-5)  # alone, without padding


def test_the_step_export_declares_its_state_in_genkit_json(char_model):
    model, _ = char_model
    text = model.export_metadata()["text"]
    assert text["state"] == [{"name": "state_h_0", "dtype": "float32", "shape": [16]},
                             {"name": "state_c_0", "dtype": "float32", "shape": [16]}]
    assert text["position_input"] is False and text["context_length"] is None
    assert [d.name for d in model.endpoints()["step"].inputs] == ["token", "state_h_0", "state_c_0"]


def _counting_step(inputs):
    """A step over a declared int32 counter and a float state: logits favour (token + position + counter) % 5."""
    token, position, counter = inputs["token"], inputs["position"], inputs["counter"]
    logits = np.zeros((len(token), 5), np.float32)
    logits[np.arange(len(token)), (token + position + counter[:, 0]) % 5] = 1.0
    return {"logits": logits, "next_counter": counter + 1, "next_memory": inputs["memory"] * 0.5 + 1.0}


def test_the_numpy_step_loops_of_genkit_and_of_the_edge_app_carry_any_declared_state_and_the_position():
    spec = importlib.util.spec_from_file_location("generate_text_app", APPS / "generate_text.py")
    app = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(APPS))
    try:
        spec.loader.exec_module(app)
    finally:
        sys.path.remove(str(APPS))
    state = {"counter": np.zeros((1, 1), np.int32), "memory": np.zeros((1, 3), np.float32)}
    genkit_loop = StepDecoder(_counting_step, state, position=0)
    genkit_tokens = genkit_loop.greedy([2], 6)[0]
    inputs = {"token": {"dtype": "int32", "shape": [None]}, "position": {"dtype": "int32", "shape": [None]},
              "counter": {"dtype": "int32", "shape": [None, 1]}, "memory": {"dtype": "float32", "shape": [None, 3]}}
    app_loop = app.StepDecoder(lambda **feed: _counting_step(feed), inputs)
    assert app_loop.state["counter"].dtype == np.int32
    token, app_tokens = 2, []
    for _ in range(6):
        token = int(np.argmax(app_loop(token)))
        app_tokens.append(token)
    assert genkit_tokens == app_tokens
    expected, token = [], 2
    for step in range(6):  # position and counter both advance by one a step
        token = (token + 2 * step) % 5
        expected.append(token)
    assert genkit_tokens == expected and int(genkit_loop.state["counter"][0, 0]) == 6


def _table_step(tokens, states):
    """A decoder whose next-token logits are a fixed row of a table per current token; no state."""
    table = tf.constant([[0.0, 2.0, 1.0, 0.5], [3.0, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, 4.0], [2.5, 0.0, 3.0, 0.0]])
    return tf.gather(table, tokens), states, tf.zeros([tf.shape(tokens)[0], 1])


def test_decoding_from_start_tokens_continues_a_prompt():
    start = tf.constant([2, 3, 1], tf.int32)
    options = dict(max_length=5, boundary_id=0)
    tokens, lengths, _, _ = sample_sequences(
        _table_step, [], tf.zeros([3]), tf.zeros([3], tf.int32), tf.ones([3]), tf.constant([0]), start_tokens=start,
        **options,
    )
    # Greedy from 2: 3 (logit 4), then 2, 3, 2, 3; from 3: 2, 3, ...; from 1: 0 (the boundary) at once.
    assert tokens.numpy().tolist()[:2] == [[3, 2, 3, 2, 3], [2, 3, 2, 3, 2]] and lengths.numpy().tolist() == [5, 5, 0]
    searched, searched_lengths, _, _ = beam_search(
        _table_step, [], tf.constant([2, 2, 2]), length_penalty=tf.zeros([3]), start_tokens=start, **options,
    )
    # By log-probability: from 2, "3 <end>" (-1.11) beats "3 2 3 <end>" (-1.73); from 3 and 1 the end at once.
    assert searched_lengths.numpy().tolist() == [1, 0, 0] and searched.numpy()[0, 0] == 3


def test_language_model_beam_search_of_width_one_is_greedy_sampling(char_model):
    model, _ = char_model
    for prompt in ["And God said", "", "light"]:
        greedy = model.generate_samples(1, prompt=prompt, length=24, temperature=0)
        assert model.generate_samples(2, prompt=prompt, length=24, beam_width=1) == greedy * 2
        assert model.beam_search_texts([prompt], 24, 1) == greedy


def test_language_model_beam_search_as_wide_as_the_vocabulary_finds_the_likeliest_continuation(char_model):
    # Two steps with a beam per token are exhaustive: compare with every continuation of at most two tokens.
    model, _ = char_model
    vocabulary = len(model.vocabulary)
    assert vocabulary <= 64, "the search is capped at 64 beams"
    ids = model.tokenizer.encode("And God")
    state = model.initial_state(1)
    for position, token in enumerate(ids):
        logits, state = model.step(tf.constant([token], tf.int32), state, tf.constant([position]))
    first = tf.nn.log_softmax(logits[0]).numpy()
    tiled = [tf.repeat(s, vocabulary, axis=0) for s in state]
    logits, _ = model.step(tf.range(vocabulary, dtype=tf.int32), tiled, tf.fill([vocabulary], len(ids)))
    totals = first[:, None] + tf.nn.log_softmax(logits).numpy()
    totals[model.end_id, :] = -np.inf  # nothing follows the end
    best_pair = np.unravel_index(np.argmax(totals), totals.shape)
    best = max(totals[best_pair], first[model.end_id])

    prompt_ids, prompt_lengths = model.encode_prompts(tf.constant(["And God"]))
    tokens, mask, log_probabilities = model.beam_search_ids(
        prompt_ids, prompt_lengths, tf.constant(2), tf.constant([vocabulary]), tf.zeros([1]),
    )
    assert log_probabilities.numpy()[0] == pytest.approx(best, rel=1e-4)
    if best == totals[best_pair]:
        assert tokens.numpy()[0].tolist() == list(best_pair) and mask.numpy()[0].tolist() == [True, True]
    # A narrower search never finds a likelier continuation.
    _, _, narrow = model.beam_search_ids(prompt_ids, prompt_lengths, tf.constant(2), tf.constant([2]), tf.zeros([1]))
    assert narrow.numpy()[0] <= log_probabilities.numpy()[0] + 1e-5


def test_language_model_beam_search_refuses_sampling_flags_in_one_line(char_model):
    from genkit.errors import UserError

    model, _ = char_model
    with pytest.raises(UserError, match=r"^--beam-width 3: beam search keeps the likeliest continuation; leave out"):
        model.generate_samples(1, beam_width=3, temperature=0.7)
    with pytest.raises(UserError, match=r"^--length-penalty ranks the beams of a search: give --beam-width K too$"):
        model.generate_samples(1, length_penalty=1.0)
    texts = model.generate_samples(1, prompt="And God", length=12, beam_width=3, length_penalty=0.6)
    assert texts[0].startswith("And God")

"""Text models: tokenisation, training, sampling, greedy decoding with the step model, serving, bad input."""

from __future__ import annotations

import json
import math
import re

import keras
import numpy as np
import pytest
import tensorflow as tf

from conftest import run_cli, run_genkit, run_python
from genkit.config import TrainConfig, parse_overrides
from genkit.data.text_corpus import load_text_corpus
from genkit.data.text_tokenizer import WORD_PATTERN, TextTokenizer, graph_tokens
from genkit.errors import UserError
from genkit.tasks.decoding.token_sampling import choose_next, filter_logits
from genkit.registry import get_model_entry
from genkit.runtime.trainer import Trainer
from genkit.runtime.training_checkpoint import TrainingCheckpoint

TINY = {"char-lstm": ["units=16", "embedding_dim=8", "sequence_length=16"],
        "word-lstm": ["units=16", "embedding_dim=8", "sequence_length=8", "max_vocabulary=300"]}
TRICKY = "Héllo, WORLD! it's  a\ttest:\nÄ 3.5x\u00a0y — «quoted» don't\r\n"


def _build(name, text_path, extra=(), seed=0):
    entry = get_model_entry(name)
    model_config = entry.config_class.from_dict(parse_overrides([*TINY[name], *extra]))
    data, model_config = entry.model_class.prepare_data(
        model_config, TrainConfig.from_dict({"dataset": f"text:{text_path}", "batch_size": 16})
    )
    keras.utils.set_random_seed(seed)
    model = entry.model_class.from_hyperparameters(model_config)
    model.compile_for_training(model_config, seed=seed)
    return model, data


def _train_steps(model, data, steps):
    batch = next(iter(model.training_dataset(data, 16, shuffle_seed=0)))
    losses = []
    for _ in range(steps):
        model.loss_tracker.reset_state()  # the tracker averages over an epoch: one step's loss each time
        losses.append(float(model.train_step(batch)["loss"]))
    return losses


@pytest.fixture(scope="module")
def trained_char(tiny_text):
    model, data = _build("char-lstm", tiny_text, ["learning_rate=0.02"])
    _train_steps(model, data, 30)
    return model, data


@pytest.fixture(scope="module")
def char_run(tmp_path_factory, tiny_text):
    run_dir = tmp_path_factory.mktemp("runs") / "char"
    process = run_cli(
        "train", "char-lstm", "--dataset", f"text:{tiny_text}", "--epochs", 1, "--batch-size", 16,
        "--out", run_dir, "--quiet", *[f for item in TINY["char-lstm"] for f in ("--set", item)],
    )
    (run_dir.parent / "char_train_stdout.txt").write_text(process.stdout)
    return run_dir


def test_quiet_training_writes_text_samples_without_printing_them(char_run):
    samples = (char_run / "samples" / "epoch_001.txt").read_text(encoding="utf-8")
    assert "--- epoch 1, temperature 0.0 ---" in samples
    assert "--- epoch" not in (char_run.parent / "char_train_stdout.txt").read_text()


# -- tokenisation ------------------------------------------------------------------------------

@pytest.mark.parametrize("level", ["char", "word"])
@pytest.mark.parametrize("lowercase", [False, True])
def test_python_and_graph_tokenisation_agree(level, lowercase):
    tokenizer = TextTokenizer(level, ["[UNK]", "<|endoftext|>"], lowercase)
    graph = [t.decode("utf-8") for t in graph_tokens(tf.constant([TRICKY]), level, lowercase)[0].numpy()]
    assert graph == tokenizer.tokens(TRICKY)
    if level == "word":
        assert graph == re.findall(WORD_PATTERN, TRICKY.lower() if lowercase else TRICKY)


def test_tokenizer_round_trip_and_reserved_tokens():
    documents = [TRICKY, "more text"]
    vocabulary = TextTokenizer.build_vocabulary("char", documents, lowercase=False, max_size=None)
    assert vocabulary[:2] == ["[UNK]", "<|endoftext|>"]
    char = TextTokenizer("char", vocabulary)
    assert char.decode(char.encode(TRICKY)) == TRICKY
    assert char.encode_documents(documents).count(char.end_id) == 2
    assert char.encode("\u2603") == [0]  # out of vocabulary

    words = TextTokenizer("word", TextTokenizer.build_vocabulary("word", documents, True, None), lowercase=True)
    assert words.decode(words.encode(TRICKY)) == " ".join(re.findall(WORD_PATTERN, TRICKY.lower()))
    small = TextTokenizer.build_vocabulary("word", documents, True, max_size=5)
    assert len(small) == 5


# -- training ----------------------------------------------------------------------------------

@pytest.mark.parametrize("name,extra", [("char-lstm", []), ("word-lstm", ["cell=gru", "layers=2"])])
def test_loss_decreases_within_a_few_steps(tiny_text, name, extra):
    model, data = _build(name, tiny_text, [*extra, "learning_rate=0.02"])
    losses = _train_steps(model, data, 8)
    assert losses[-1] < losses[0] - 0.1, losses


def test_training_windows_are_teacher_forced_sequences(tiny_text):
    model, data = _build("char-lstm", tiny_text)
    batch = next(iter(model.training_dataset(data, 16, shuffle_seed=3)))["tokens"].numpy()
    assert batch.shape == (16, 17) and batch.dtype == np.int32
    ids = data.train_ids
    row = batch[0]
    starts = [i for i in range(len(ids) - 16) if np.array_equal(ids[i : i + 17], row)]
    assert starts, "a window is a contiguous piece of the training text"


@pytest.mark.parametrize("schedule", ["linear", "cosine", "constant"])
def test_learning_rate_follows_its_schedule_over_the_planned_steps(tiny_text, tmp_path, schedule):
    model, data = _build("char-lstm", tiny_text, [f"learning_rate_schedule={schedule}", "learning_rate=0.01"])
    rates = []

    class RecordRate(keras.callbacks.Callback):  # after each step: the rate that step used
        def on_train_batch_end(self, batch, logs=None):
            rates.append(float(model.optimizer.learning_rate))

    steps = int(model.training_dataset(data, 16, shuffle_seed=0).cardinality())
    trainer = Trainer(model, tf.distribute.get_strategy(), TrainingCheckpoint(model, tmp_path, 1))
    trainer.fit(lambda epoch: model.training_dataset(data, 16, shuffle_seed=epoch), 2, steps, [RecordRate()], verbose=0)
    progress = np.arange(2 * steps) / (2 * steps)
    expected = {"linear": 0.01 * (1 - progress), "cosine": 0.005 * (1 + np.cos(np.pi * progress)),
                "constant": np.full(2 * steps, 0.01)}[schedule]
    np.testing.assert_allclose(rates, expected, rtol=1e-5)


def test_trainer_feeds_every_epoch_without_tf_data_autotuning(tiny_text, tmp_path, monkeypatch):
    # With autotuning, an epoch's end often waited seconds for tf.data's tuning thread (benchmarks/epoch_end.py).
    model, data = _build("char-lstm", tiny_text)
    strategy = tf.distribute.get_strategy()
    distribute, options = strategy.experimental_distribute_dataset, []
    monkeypatch.setattr(strategy, "experimental_distribute_dataset", lambda d: options.append(d.options()) or distribute(d))
    steps = int(model.training_dataset(data, 16, shuffle_seed=0).cardinality())
    trainer = Trainer(model, strategy, TrainingCheckpoint(model, tmp_path, 1))
    trainer.fit(lambda epoch: model.training_dataset(data, 16, shuffle_seed=epoch), 2, steps, [], verbose=0)
    assert len(options) == 2 and all(o.autotune.enabled is False for o in options)
    assert all(o.experimental_distribute.auto_shard_policy == tf.data.experimental.AutoShardPolicy.DATA for o in options)


def test_training_progress_is_the_further_of_steps_and_time_limit():
    trainer = Trainer(model=None, strategy=None, checkpoint=None, time_limit_seconds=100)
    assert trainer._progress(10, 100, seconds=50.0) == 0.5
    assert trainer._progress(80, 100, seconds=50.0) == 0.8
    assert trainer._progress(10, 100, seconds=500.0) == 1.0
    assert Trainer(None, None, None)._progress(30, 100, seconds=500.0) == 0.3


# -- sampling ----------------------------------------------------------------------------------

def test_sampling_is_reproducible_for_a_seed(trained_char):
    model, _ = trained_char
    first = model.generate_samples(3, seed=7, prompt="And ", length=40, temperature=1.0, top_p=0.95)
    again = model.generate_samples(3, seed=7, prompt="And ", length=40, temperature=1.0, top_p=0.95)
    other = model.generate_samples(3, seed=8, prompt="And ", length=40, temperature=1.0, top_p=0.95)
    assert first == again
    assert first != other
    assert all(text.startswith("And ") for text in first)


def test_greedy_step_model_decoding_equals_full_model_decoding(trained_char):
    model, _ = trained_char
    prompt = "In the beginning"
    step, signature = model.edge_endpoints()["step"]
    assert [spec.name for spec in signature] == ["token", "state_h_0", "state_c_0"]

    # The edge loop: one token at a time through the step endpoint.
    ids = model.tokenizer.encode(prompt)
    states = {spec.name: np.zeros((1, model.units), np.float32) for spec in signature[1:]}
    for token in ids:
        outputs = step(tf.constant([token], tf.int32), *[tf.constant(states[n]) for n in states])
        states = {name: outputs[f"next_{name}"].numpy() for name in states}
    step_ids = []
    for _ in range(30):
        token = int(np.argmax(outputs["logits"].numpy()[0]))
        step_ids.append(token)
        outputs = step(tf.constant([token], tf.int32), *[tf.constant(states[n]) for n in states])
        states = {name: outputs[f"next_{name}"].numpy() for name in states}

    # The Keras model: the whole sequence again at every step.
    sequence = list(ids)
    for _ in range(30):
        logits = model(tf.constant([sequence], tf.int32)).numpy()[0, -1]
        sequence.append(int(np.argmax(logits)))
    assert step_ids == sequence[len(ids):]

    text = model.generate_samples(1, prompt=prompt, length=30, temperature=0.0)[0]
    assert text == prompt + model.tokenizer.decode([t for t in step_ids if t != model.end_id])[: len(text) - len(prompt)]


def test_top_k_and_top_p_never_pick_outside_their_sets():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(64, 50)).astype(np.float32) * 3
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    for step in range(20):
        chosen = choose_next(
            tf.constant(logits), tf.fill([64], 1.0), tf.fill([64], 5), tf.fill([64], 1.0), 11, step
        ).numpy()
        top5 = np.argsort(-logits, axis=1)[:, :5]
        assert all(c in row for c, row in zip(chosen, top5))

        chosen = choose_next(
            tf.constant(logits), tf.fill([64], 1.0), tf.fill([64], 0), tf.fill([64], 0.6), 11, step
        ).numpy()
        for row, c in enumerate(chosen):
            order = np.argsort(-probabilities[row])
            needed = int(np.searchsorted(np.cumsum(probabilities[row][order]), 0.6) + 1)
            assert c in order[:needed]
    kept = filter_logits(tf.constant(logits), tf.fill([64], 0), tf.fill([64], 1.0)).numpy()
    assert np.isfinite(kept).all()  # no filtering when top_k is 0 and top_p is 1
    greedy = choose_next(tf.constant(logits), tf.zeros([64]), tf.zeros([64], tf.int32), tf.ones([64]), 0, 0)
    np.testing.assert_array_equal(greedy.numpy(), logits.argmax(axis=1))


# -- the run folder: CLI, serving, evaluation ------------------------------------------------------

def test_cli_sample_writes_text_and_rejects_image_options(char_run, tmp_path):
    out = tmp_path / "s.txt"
    run_cli("sample", char_run, "--prompt", "And", "--length", 20, "--temperature", 0, "-n", 2, "--out", out)
    text = out.read_text(encoding="utf-8")
    assert text.count("=== sample") == 2 and "\nAnd" in text
    printed = run_cli("sample", char_run, "--prompt", "And", "--length", 20, "--temperature", 0, "-n", 2)
    assert printed.stdout == text  # without --out the same texts go to standard output
    bad = run_cli("sample", char_run, "--out", tmp_path / "s.png", check=False)
    assert bad.returncode == 2 and "allowed: .txt" in bad.stderr
    bad = run_cli("sample", char_run, "--label", 1, "--out", out, check=False)
    assert bad.returncode == 2 and "--label" in bad.stderr
    metadata = json.loads((char_run / "genkit.json").read_text())
    assert metadata["data"]["tokenizer"]["level"] == "char"
    vocabulary = json.loads((char_run / "vocabulary.json").read_text())
    assert vocabulary["vocabulary"][:2] == ["[UNK]", "<|endoftext|>"]


@pytest.mark.slow
def test_string_savedmodel_generates_text_without_genkit(char_run):
    code = (
        "import sys, tensorflow as tf\n"
        f"serving = tf.saved_model.load({str(char_run / 'serving' / '1')!r})\n"
        "f = serving.signatures['serving_default']\n"
        "args = dict(prompt=tf.constant(['And God', '']), length=tf.constant([12, 5]),\n"
        "            temperature=tf.constant([0.0, 1.0]), top_k=tf.constant([0, 3]), top_p=tf.constant([1.0, 0.9]),\n"
        "            seed=tf.constant([4, 4]))\n"
        "a, b = f(**args), f(**args)\n"
        "assert 'genkit' not in sys.modules\n"
        "print(repr([t.decode() for t in a['text'].numpy()]))\n"
        "print(repr([t.decode() for t in b['text'].numpy()]))\n"
        "print(repr([t.decode() for t in a['generated'].numpy()]))\n"
    )
    texts, again, generated = [eval(line) for line in run_python(code).strip().splitlines()]  # noqa: S307
    assert texts == again
    assert texts[0].startswith("And God") and texts[0] == "And God" + generated[0]
    import genkit.models  # noqa: F401

    model = keras.saving.load_model(char_run / "model.keras")
    assert model.generate_samples(1, prompt="And God", length=12, temperature=0.0) == [texts[0]]


@pytest.mark.slow
def test_the_string_savedmodel_refuses_requests_out_of_bounds_before_any_step(char_run):
    """What a TF Serving client could send: each out-of-bounds value gets an error naming it, from a process
    without genkit; a long prompt keeps its last tokens."""
    code = (
        "import sys, time, tensorflow as tf\n"
        f"f = tf.saved_model.load({str(char_run / 'serving' / '1')!r}).signatures['serving_default']\n"
        "ok = dict(prompt=['And'], length=[5], temperature=[1.0], top_k=[0], top_p=[1.0], seed=[1])\n"
        "bad = [dict(length=[10**9]), dict(length=[-1]), dict(temperature=[float('nan')]), dict(temperature=[float('inf')]),\n"
        "       dict(temperature=[-1.0]), dict(top_k=[-2]), dict(top_p=[1.5]), dict(prompt=['a'] * 257, length=[1] * 257,\n"
        "       temperature=[1.0] * 257, top_k=[0] * 257, top_p=[1.0] * 257, seed=[1] * 257)]\n"
        "for change in bad:\n"
        "    request = {k: tf.constant(v) for k, v in {**ok, **change}.items()}\n"
        "    started = time.monotonic()\n"
        "    try:\n"
        "        f(**request)\n"
        "        print('ACCEPTED', sorted(change))\n"
        "    except tf.errors.InvalidArgumentError as error:\n"
        "        print('REFUSED', round(time.monotonic() - started, 3), ' '.join(error.message.split()))\n"
        "long = f(**{k: tf.constant(v) for k, v in {**ok, 'prompt': ['And God said ' * 1000 + 'Let'], 'length': [3]}.items()})\n"
        "print('LONG', long['text'].numpy()[0].decode()[-40:])\n"
        "assert 'genkit' not in sys.modules\n"
    )
    lines = run_python(code).strip().splitlines()
    refused = [line for line in lines if line.startswith("REFUSED")]
    assert len(refused) == 8, lines
    # The declared inputs' checks (ranges, finite floats) come first, then the generation's own (prompts, temperature).
    for line, expected in zip(refused, ["input length must be in [0, 4096]", "input length must be in [0, 4096]",
                                        "input temperature must be finite", "input temperature must be finite",
                                        "temperature must be >= 0", "input top_k must be in [0, ",
                                        "input top_p must be in [0, 1]", "at most 256 prompts per request"]):
        assert expected in line, (expected, line)
    assert lines[-1].startswith("LONG ") and "said Let" in lines[-1]
    bad = run_cli("sample", char_run, "--length", 5000, check=False)
    assert bad.returncode == 2 and "--length 5000: at most 4096 tokens" in bad.stderr


def test_evaluate_writes_cross_entropy_perplexity_and_bits_per_char(char_run, tmp_path):
    result = run_cli("evaluate", char_run)
    metrics = json.loads((char_run / "metrics.json").read_text())
    assert {"cross_entropy", "perplexity", "bits_per_char"} <= set(metrics)
    assert math.isclose(metrics["perplexity"], math.exp(metrics["cross_entropy"]), rel_tol=1e-6)
    assert "bits_per_char" in result.stdout
    other = tmp_path / "other.txt"
    other.write_text("And the LORD spake unto Moses, saying,\n" * 20, encoding="utf-8")
    run_cli("evaluate", char_run, "--dataset", f"text:{other}")
    assert json.loads((char_run / "metrics.json").read_text())["dataset"] == f"text:{other}"


def test_word_bits_per_char_counts_characters_of_the_text(tiny_text):
    model, data = _build("word-lstm", tiny_text)
    metrics = model.evaluation_metrics(data)
    characters = sum(len(d) for d in data.validation_documents)
    assert metrics["characters"] == characters
    expected = metrics["cross_entropy"] * metrics["tokens"] / characters / math.log(2)
    assert math.isclose(metrics["bits_per_char"], expected, rel_tol=1e-9)
    with pytest.raises(UserError, match="--features"):
        model.evaluation_metrics(data, features="inception")


def test_export_metadata_describes_the_tokenizer_and_states(trained_char):
    model, _ = trained_char
    text = model.export_metadata()["text"]
    assert text["level"] == "char" and text["vocabulary"] == model.vocabulary
    assert text["state_names"] == ["state_h_0", "state_c_0"] and text["state_sizes"] == [16, 16]
    assert text["end_token"] == text["vocabulary"][1] and text["oov_token"] == text["vocabulary"][0]


# -- bad input ---------------------------------------------------------------------------------

def test_empty_file_is_a_clear_error(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    with pytest.raises(UserError, match=f"{re.escape(str(empty))}: empty text"):
        load_text_corpus(f"text:{empty}")


def test_corpus_shorter_than_one_window_is_a_clear_error(tmp_path):
    short = tmp_path / "short.txt"
    short.write_text("Too short.", encoding="utf-8")
    with pytest.raises(UserError, match="shorter than one training window"):
        _build("char-lstm", short, ["validation_fraction=0"])


def test_non_utf8_bytes_name_the_file_and_offset_unless_replaced(tmp_path):
    bad = tmp_path / "latin1.txt"
    bad.write_bytes("caf".encode() + b"\xe9 au lait " * 5)
    with pytest.raises(UserError) as error:
        load_text_corpus(f"text:{bad}")
    message = str(error.value)
    assert str(bad) in message and "byte offset 3" in message and "encoding_errors=replace" in message
    assert "\n" not in message
    corpus = load_text_corpus(f"text:{bad}", 0.0, "replace")
    assert "caf\ufffd" in corpus.train_documents[0]


def test_folder_of_txt_files_and_bad_specs(tmp_path):
    (tmp_path / "a.txt").write_text("first document " * 10, encoding="utf-8")
    (tmp_path / "b.txt").write_text("second document " * 10, encoding="utf-8")
    (tmp_path / "ignored.md").write_text("not text", encoding="utf-8")
    corpus = load_text_corpus(f"text:{tmp_path}", 0.6)
    assert corpus.train_documents[0].startswith("first") and corpus.validation_documents[-1].startswith("second")
    with pytest.raises(UserError, match="yields images, labels, but a text model needs corpus; datasets that do: embedded, text:PATH"):
        load_text_corpus("fashion_mnist")
    with pytest.raises(UserError, match="no such file"):
        load_text_corpus(f"text:{tmp_path / 'missing.txt'}")


def test_embedded_corpus_is_the_king_james_version():
    corpus = load_text_corpus(None, 0.1)
    assert corpus.train_documents[0].startswith("Ge1:1 In the beginning God created the heaven and the earth.")
    assert corpus.train_characters + corpus.validation_characters == 4404412
    assert corpus.validation_documents[-1].rstrip().endswith("Amen.")


def test_step_model_matches_the_network_for_gru_tied_and_stacked_layers(tiny_text):
    model, data = _build("word-lstm", tiny_text, ["cell=gru", "layers=2", "learning_rate=0.02"])
    _train_steps(model, data, 5)
    step, signature = model.edge_endpoints()["step"]
    assert [spec.name for spec in signature] == ["token", "state_h_0", "state_h_1"]
    ids = data.train_ids[:12]
    full = model(tf.constant([ids], tf.int32)).numpy()[0]
    states = [tf.zeros([1, model.units]) for _ in signature[1:]]
    for position, token in enumerate(ids):
        outputs = step(tf.constant([token], tf.int32), *states)
        np.testing.assert_allclose(outputs["logits"].numpy()[0], full[position], atol=1e-5)
        states = [outputs[f"next_{spec.name}"] for spec in signature[1:]]


@pytest.mark.slow
def test_mixed_precision_on_two_devices_then_resume(tiny_text, tmp_path):
    run_dir = tmp_path / "run"
    flags = [f for item in TINY["word-lstm"] for f in ("--set", item)]
    run_genkit(
        "train", "word-lstm", "--dataset", f"text:{tiny_text}", "--epochs", 1, "--batch-size", 16, "--devices", 2,
        "--mixed-precision", "mixed_float16", "--out", run_dir, "--quiet", *flags,
    )
    run_genkit("train", "word-lstm", "--resume", "--epochs", 2, "--out", run_dir, "--quiet")
    history = json.loads((run_dir / "history.json").read_text())
    assert [record["epoch"] for record in history] == [1, 2]
    assert all(math.isfinite(record["loss"]) for record in history)
    assert (run_dir / "samples" / "epoch_002.txt").is_file()


def test_step_endpoint_converts_to_builtin_tflite_ops_only(trained_char, tmp_path):
    model, _ = trained_char
    function, signature = model.edge_endpoints()["step"]
    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(name="step", fn=function, input_signature=signature)
    archive.write_out(str(tmp_path / "step"), verbose=False)
    converter = tf.lite.TFLiteConverter.from_saved_model(str(tmp_path / "step"), signature_keys=["step"])
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]  # no Flex: fails if any op needs it
    flatbuffer = converter.convert()
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=flatbuffer)
    runner = interpreter.get_signature_runner()
    states = {name: np.zeros((1, model.units), np.float32) for name in model.state_names}
    outputs = runner(token=np.array([5], np.int32), **states)
    expected = function(tf.constant([5], tf.int32), *[tf.constant(states[n]) for n in model.state_names])
    np.testing.assert_allclose(outputs["logits"], expected["logits"].numpy(), atol=1e-5)

"""benchmarks/peers/keras_io_captioning.py: keras-io's captioner trains (CNN included) and captions in training words.

Tiny random data (64 images, captions over a 10-word vocabulary) at image_size 32 (EfficientNetB0 then gives a
single cell). The functions run eagerly: tracing EfficientNetB0's train step alone takes about 10 s here, the
eager steps well under one; the benchmark's smoke runs exercise the traced path.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository root: benchmarks.peers
from benchmarks.peers import keras_io_captioning as peer  # noqa: E402

@pytest.fixture
def eager():
    import tensorflow as tf

    previous = tf.config.functions_run_eagerly()
    tf.config.run_functions_eagerly(True)
    yield
    tf.config.run_functions_eagerly(previous)


WORDS = ("red", "green", "blue", "cat", "dog", "big", "small", "face", "heart", "star")


def tiny_data(count: int, seed: int):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (count, 32, 32, 3)).astype(np.uint8)
    references = [
        tuple(" ".join(rng.choice(WORDS, rng.integers(1, 5))) for _ in range(rng.integers(1, 4)))
        for _ in range(count)
    ]
    return images, references


def test_vocabulary_tokenises_as_genkit_and_truncates():
    vocabulary = peer.Vocabulary(["Grinning face", "face: grin", "face with tears of joy"])
    assert vocabulary.tokens[:3] == [peer.PAD, peer.START, peer.END]
    assert vocabulary.tokens[3] == "face"  # the most frequent word first
    assert ":" in vocabulary.ids  # genkit's WORD_PATTERN keeps punctuation as tokens
    ids = vocabulary.encode("FACE with tears of joy", max_length=3)
    assert ids[0] == peer.START_ID and ids[-1] == peer.END_ID and len(ids) == 5
    assert vocabulary.decode(ids[1:]) == "face with tears"
    sequences, counts = peer.encode_references([("face",), ("grin", "face grin")], vocabulary, max_length=3)
    assert sequences.shape == (2, 2, 5) and counts.tolist() == [1, 2]
    assert (sequences[0, 1] == peer.PAD_ID).all()


def test_train_step_changes_cnn_encoder_and_decoder_weights(eager):
    import keras

    keras.utils.set_random_seed(0)
    images, references = tiny_data(8, seed=1)
    vocabulary = peer.Vocabulary(caption for refs in references for caption in refs)
    sequences, _ = peer.encode_references(references, vocabulary, max_length=4)
    captioner = peer.build_captioner(len(vocabulary), max_length=4, image_size=32)
    step = peer.make_train_step(captioner, keras.optimizers.Adam(1e-3))
    watched = {
        "cnn": captioner.cnn.get_layer("stem_conv").kernel,
        "encoder": captioner.encoder.projection.kernel,
        "decoder": captioner.decoder.logits.kernel,
    }
    before = {name: np.array(variable) for name, variable in watched.items()}
    losses = [float(step(images, sequences[:, 0])[0]) for _ in range(2)]
    assert all(np.isfinite(losses))
    for name, variable in watched.items():
        assert not np.array_equal(before[name], np.array(variable)), f"{name} weights did not change"


def test_train_and_caption_returns_one_caption_of_training_words_per_test_image(eager):
    train_images, train_references = tiny_data(64, seed=2)
    test_images, _ = tiny_data(5, seed=3)
    result = peer.train_and_caption(
        train_images, train_references, test_images, minutes=0.05, max_length=6, batch_size=16, image_size=32
    )
    assert len(result["captions"]) == len(test_images)
    for caption in result["captions"]:
        assert isinstance(caption, str) and len(caption.split()) <= 6
        assert set(caption.split()) <= set(WORDS)
    assert result["steps"] >= 1 and result["epochs"] == result["steps"] * 16 / 64
    assert result["image_size"] == 32 and result["parameters"] > 4_000_000  # EfficientNetB0 alone is 4M
    assert result["seconds"] > 0

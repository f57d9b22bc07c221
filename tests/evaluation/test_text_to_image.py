"""Text-to-image metrics: R-precision's known answers, subgroup accuracy, and the shipped classifier and dual
encoder that score them (their cards' numbers reproduced)."""

from __future__ import annotations

import numpy as np
import pytest

from genkit.evaluation import load_feature_extractor
from genkit.evaluation.classifier_features import read_card
from genkit.evaluation.text_to_image import r_precision, subgroup_accuracy


def _unit(x):
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_r_precision_known_answers():
    basis = np.eye(150, dtype=np.float32)
    texts = [f"text {i}" for i in range(150)]
    assert r_precision(basis, basis, texts) == 1.0  # each image matches its own text only
    assert r_precision(basis, np.roll(basis, 1, axis=0), texts) == 0.0  # each image matches another text
    # Half the images carry their own text's direction, half a random one: about half (exactly those) rank first.
    rng = np.random.default_rng(0)
    images = basis.copy()
    images[75:] = _unit(rng.standard_normal((75, 150)).astype(np.float32) - 5 * basis[75:])
    assert r_precision(images, basis, texts, seed=1) == pytest.approx(0.5, abs=0.02)


def test_r_precision_never_counts_a_duplicate_of_the_true_text_as_a_wrong_candidate():
    vectors = np.eye(3, dtype=np.float32)
    texts = ["cat", "cat", "dog"]
    # Images 0 and 1 share the text "cat": their only wrong candidate is "dog"; ties would count as misses.
    images = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1]], np.float32)
    assert r_precision(images, vectors, texts) == 1.0


def test_subgroup_accuracy_needs_the_classifiers_classes():
    class Classifier:
        name, label_names = "emoji", ["a", "b"]

        def predict_labels(self, images):
            return np.array([0, 1, 1])

    assert subgroup_accuracy(np.zeros((3, 2, 2, 3)), [0, 1, 0], ["a", "b"], Classifier()) == pytest.approx(2 / 3)
    assert subgroup_accuracy(np.zeros((3, 2, 2, 3)), [0, 1, 0], ["x", "y"], Classifier()).startswith("n/a")


def test_the_shipped_emoji_classifier_reproduces_its_cards_test_accuracy():
    from genkit.data.emoji import load_embedded

    card = read_card("emoji")
    test = load_embedded().split("test")
    extractor = load_feature_extractor("emoji")
    predicted = extractor.predict_labels(test["image"].astype(np.float32) / 255.0)
    assert extractor.label_names == load_embedded().label_names["label"] and len(extractor.label_names) == 99
    assert float(np.mean(predicted == test["label"])) == pytest.approx(card["test_accuracy"], abs=1e-4)
    assert card["test_accuracy"] > 0.3  # 99 subgroups: chance is 1%
    # 64x64 images (the full emoji set's size) are resized in the graph; other channel counts are refused.
    resized = np.repeat(np.repeat(test["image"][:8].astype(np.float32) / 255.0, 2, axis=1), 2, axis=2)
    assert extractor.features(resized).shape == (8, card["feature_dim"])


def test_the_shipped_dual_encoder_loads_and_ranks_real_pairs_far_above_chance():
    from genkit.data.emoji import load_embedded
    from genkit.evaluation.text_image_scorer import load_text_image_scorer

    scorer = load_text_image_scorer()
    test = load_embedded().split("test")
    texts = [refs[0] for refs in test["text"]]
    images = scorer.embed_images(test["image"].astype(np.float32) / 255.0)
    vectors = scorer.embed_texts(texts)
    np.testing.assert_allclose(np.linalg.norm(images, axis=1), 1.0, atol=1e-5)
    recall = float(np.mean(np.argmax(vectors @ images.T, axis=1) == np.arange(len(texts))))
    assert recall == pytest.approx(scorer.card["test_retrieval"]["text_to_image_recall@1"], abs=1e-6)
    assert r_precision(images, vectors, texts) > 10 * (1 / 100)


@pytest.mark.slow
def test_the_classifier_script_trains_an_emoji_card_that_the_extractor_reads(tmp_path):
    import subprocess
    import sys

    from genkit.evaluation.classifier_features import EmojiFeatures

    # A fresh process: the script turns on TensorFlow's op determinism, which would stay on in this one.
    subprocess.run([sys.executable, "-m", "genkit.evaluation.train_classifier", "--classifier", "emoji", "--epochs", "1",
                    "--out", str(tmp_path)], check=True, capture_output=True, timeout=300)
    card = read_card("emoji", tmp_path)
    assert card["architecture"]["num_classes"] == 99 and 0 <= card["test_group_accuracy"] <= 1
    assert len(card["group_of_label"]) == 99 and card["training"]["epochs"] == 1
    extractor = EmojiFeatures(weights_dir=tmp_path)
    assert extractor.predict_labels(np.zeros((2, 32, 32, 3), np.float32)).shape == (2,)
    with pytest.raises(Exception, match="takes \\[32, 32, 3\\] images"):
        extractor.features(np.zeros((2, 32, 32, 1), np.float32))

"""The vocabulary of paired data: lowercased words by count, rare ones left to the unknown word."""

from __future__ import annotations

from genkit.tasks.paired_task import build_vocabulary


def test_the_vocabulary_is_ordered_by_count_and_keeps_words_seen_often_enough():
    texts = ["Red apple", "green apple", "red car", "a red apple's core"]
    # "apple's" is one word (apostrophes stay inside words); ties are in alphabetical order.
    assert build_vocabulary(texts, 100) == ["red", "apple", "a", "apple's", "car", "core", "green"]
    assert build_vocabulary(texts, 100, min_count=2) == ["red", "apple"]
    assert build_vocabulary(texts, 1, min_count=2) == ["red"]

"""Character and word tokenisation that plain Python and a TensorFlow graph apply identically.

Word tokens are the matches of :data:`WORD_PATTERN` (runs of ASCII letters,
digits and apostrophes; every other character that is not ASCII whitespace
is a token of its own) -- ``re.findall(WORD_PATTERN, text)`` in Python. In a
graph the same tokens come from putting spaces around every single-character
token and splitting on ASCII whitespace, which RE2 and TensorFlow do exactly
as Python's ``re`` does. Characters are Unicode code points in both.
"""

from __future__ import annotations

import collections
import re

import tensorflow as tf

WORD_PATTERN = r"[A-Za-z0-9']+|[^A-Za-z0-9' \t\n\r\f\v]"
_SINGLE_CHARACTER_TOKEN = r"([^A-Za-z0-9' \t\n\r\f\v])"
OOV_TOKEN = "[UNK]"
END_TOKEN = "<|endoftext|>"
LEVELS = ("char", "word")


class TextTokenizer:
    """Splits text into tokens and maps tokens to ids (``vocabulary[id]``); id 0 is OOV, id 1 the end token."""

    def __init__(self, level: str, vocabulary, lowercase: bool = False):
        self.level = level
        self.vocabulary = list(vocabulary)
        self.lowercase = lowercase
        self.ids = {token: index for index, token in enumerate(self.vocabulary)}
        self.joiner = "" if level == "char" else " "

    @property
    def end_id(self) -> int:
        return self.ids[END_TOKEN]

    def tokens(self, text: str) -> list[str]:
        if self.lowercase:
            text = text.lower()
        return list(text) if self.level == "char" else re.findall(WORD_PATTERN, text)

    def encode(self, text: str) -> list[int]:
        ids = self.ids
        return [ids.get(token, 0) for token in self.tokens(text)]

    def encode_documents(self, documents) -> list[int]:
        """Every document's ids followed by the end token."""
        ids = []
        for document in documents:
            ids.extend(self.encode(document))
            ids.append(self.end_id)
        return ids

    def decode(self, ids) -> str:
        return self.joiner.join(self.vocabulary[int(i)] for i in ids)

    def description(self) -> dict:
        """The tokenizer as JSON: enough to tokenise and detokenise without TensorFlow."""
        return {
            "level": self.level,
            "vocabulary": self.vocabulary,
            "oov_token": OOV_TOKEN,
            "end_token": END_TOKEN,
            "lowercase": self.lowercase,
            "split_pattern": WORD_PATTERN if self.level == "word" else None,
            "joiner": self.joiner,
        }

    @staticmethod
    def build_vocabulary(level: str, documents, lowercase: bool, max_size: int | None) -> list[str]:
        """[OOV, END, tokens by descending count (ties by token)], at most ``max_size`` entries in all."""
        counts = collections.Counter()
        splitter = TextTokenizer(level, [OOV_TOKEN, END_TOKEN], lowercase)
        for document in documents:
            counts.update(splitter.tokens(document))
        counts.pop(OOV_TOKEN, None)
        counts.pop(END_TOKEN, None)
        ordered = sorted(counts, key=lambda token: (-counts[token], token))
        if max_size is not None:
            ordered = ordered[: max(max_size - 2, 0)]
        return [OOV_TOKEN, END_TOKEN, *ordered]


def graph_tokens(text: tf.Tensor, level: str, lowercase: bool) -> tf.RaggedTensor:
    """String tokens [batch, (tokens)] of a string tensor [batch], the same as :meth:`TextTokenizer.tokens`."""
    if lowercase:
        text = tf.strings.lower(text, encoding="utf-8")
    if level == "char":
        return tf.strings.unicode_split(text, "UTF-8")
    spaced = tf.strings.regex_replace(text, _SINGLE_CHARACTER_TOKEN, r" \1 ")
    return tf.strings.split(spaced)

"""Retrieval metrics in NumPy: recall@k and median rank of matching pairs."""

from __future__ import annotations

import numpy as np


def ranks_of_matches(similarity: np.ndarray) -> np.ndarray:
    """For queries (rows) whose match is the candidate (column) of the same index: the match's 1-based rank.

    Ties count against the match (a candidate scoring equal to it ranks before it).
    """
    matching = np.diag(similarity)[:, None]
    return np.sum(similarity >= matching, axis=1)


def recall_at_k(similarity: np.ndarray, k: int) -> float:
    """The share of queries whose match is among the ``k`` most similar candidates."""
    return float(np.mean(ranks_of_matches(similarity) <= k))

"""Decoding from numpy over a one-step decoder called as ``{input: array} -> {output: array}`` — Keras' endpoint or
an exported file — so that export costs compare the two the same way.

A step reads ``token`` (int32 [batch]), its declared state tensors (each ``name`` in, ``next_{name}`` out), an int32
``position`` where it declares one, and any per-row constants (a captioner's image features); it returns ``logits``
[batch, vocabulary]. The edge apps keep their own copies of this loop (they cannot import genkit), pinned to
genkit's by parity tests.
"""

from __future__ import annotations

import numpy as np


def zero_state(declarations, batch: int) -> dict[str, np.ndarray]:
    """Zeros of each declared state tensor (``TensorDeclaration`` with name, dtype, shape), for ``batch`` rows."""
    return {d.name: np.zeros((batch, *d.shape), d.dtype) for d in declarations}


class StepDecoder:
    """One call of the step per token, the state carried from call to call.

    Args:
        run_step: ``{input: array} -> {output: array}``.
        state: the state to start from (:func:`zero_state`, or what an encoder gave).
        constants: inputs that stay the same at every step (e.g. image features).
        position: the first position (models whose step declares a ``position`` input), else None.
    """

    def __init__(self, run_step, state: dict, constants: dict | None = None, position: int | None = None):
        self.run_step, self.state, self.constants, self.position = run_step, dict(state), dict(constants or {}), position

    def __call__(self, tokens) -> np.ndarray:
        """float64 logits [batch, vocabulary] after reading ``tokens`` [batch]."""
        tokens = np.asarray(tokens, np.int32)
        inputs = {"token": tokens, **self.constants, **self.state}
        if self.position is not None:
            inputs["position"] = np.full(len(tokens), self.position, np.int32)
            self.position += 1
        outputs = self.run_step(inputs)
        self.state = {name: outputs[f"next_{name}"] for name in self.state}
        return np.asarray(outputs["logits"], np.float64)

    def read(self, tokens) -> list[np.ndarray]:
        """The logits after each of ``tokens`` [batch, time], read in order."""
        tokens = np.asarray(tokens, np.int32)
        return [self(tokens[:, t]) for t in range(tokens.shape[1])]

    def greedy(self, start_tokens, steps: int, boundary_id: int | None = None, banned_ids=()) -> list[list[int]]:
        """The likeliest token at each of ``steps`` steps from ``start_tokens`` [batch]; a row stops at
        ``boundary_id`` (not included; None: never) and never picks ``banned_ids``. Stops when every row has."""
        token = np.asarray(start_tokens, np.int32)
        chosen = [[] for _ in range(len(token))]
        done = np.zeros(len(token), bool)
        for _ in range(steps):
            logits = self(token)
            logits[:, list(banned_ids)] = -np.inf
            token = np.argmax(logits, axis=1).astype(np.int32)
            ended = token == boundary_id if boundary_id is not None else np.zeros(len(token), bool)
            for row in np.flatnonzero(~done & ~ended):
                chosen[row].append(int(token[row]))
            done |= ended
            if done.all():
                break
        return chosen


def log_softmax(logits: np.ndarray) -> np.ndarray:
    logits = np.asarray(logits, np.float64)
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))

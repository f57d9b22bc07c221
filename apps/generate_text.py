"""Text from an exported genkit language model's step model — numpy and LiteRT or ONNX Runtime only.

    python apps/generate_text.py EXPORT_DIR --prompt TEXT --length N [--temperature T] [--top-k K] [--top-p P] [--seed S]

The export's step signature maps one token and the model's declared state to
the next token's logits and the next state: inputs ``token`` (int32 [batch]),
``position`` (int32 [batch], the token's index, where the model declares one)
and each state tensor (any dtype and shape, as the signature declares them:
an LSTM's ``state_h_{i}`` / ``state_c_{i}`` vectors, a transformer's key/value
cache), zeros at the start; outputs ``logits`` [batch, vocab] and
``next_{state}`` for each. genkit.json's "text" entry holds the vocabulary and
tokenizer. Temperature 0
is greedy decoding (the same text as ``genkit sample --temperature 0``); other
temperatures sample with numpy's generator seeded by ``--seed`` (reproducible,
but not the same draws as genkit's TensorFlow sampler).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from edge_runtime import (  # noqa: E402
    BOOLEAN, PATTERN, TEXT, AppError, Model, Optional, Rule, check_section, choose_runtime, fail, read_export,
)

APP = "generate_text"
RUNTIME_CHOICES = ("litert", "onnx")


NAME_OR_NONE = Rule(lambda value: value is None or TEXT.test(value), "a string or null")
# genkit.json "text" of a language model export.
TOKENIZER = {
    "vocabulary": [TEXT], "level": Optional(Rule(lambda value: value in ("char", "word"), "char or word")),
    "oov_token": Optional(NAME_OR_NONE), "end_token": Optional(NAME_OR_NONE), "lowercase": Optional(BOOLEAN),
    "split_pattern": Optional(Rule(lambda value: value is None or PATTERN.test(value), "a regular expression or null")),
    "joiner": Optional(TEXT),
}


class Tokenizer:
    """genkit.json "text": level (char|word), vocabulary (index = id), oov_token, end_token, lowercase, split_pattern, joiner."""

    def __init__(self, text: dict):
        self.level = text.get("level", "char")
        self.vocabulary = list(text["vocabulary"])
        self.ids = {token: index for index, token in enumerate(self.vocabulary)}
        self.oov_token = text.get("oov_token")
        self.end_token = text.get("end_token")
        self.lowercase = bool(text.get("lowercase", False))
        self.split_pattern = text.get("split_pattern")
        self.joiner = text.get("joiner", "" if self.level == "char" else " ")

    def tokens(self, text: str) -> list[str]:
        if self.lowercase:
            text = text.lower()
        if self.level == "char":
            return list(text)
        return re.findall(self.split_pattern, text) if self.split_pattern else text.split()

    def encode(self, text: str) -> list[int]:
        fallback = self.ids.get(self.oov_token)
        ids = []
        for token in self.tokens(text):
            if token in self.ids:
                ids.append(self.ids[token])
            elif fallback is not None:
                ids.append(fallback)
            else:
                raise AppError(f"--prompt: {token!r} is not in the model's vocabulary (and it has no OOV token)")
        return ids

    def decode(self, ids) -> str:
        return self.joiner.join(self.vocabulary[i] for i in ids)


def step_signature(document: dict) -> str:
    for name, entry in document["signatures"].items():
        if "token" in entry["inputs"] and "logits" in entry["outputs"]:
            return name
    raise AppError(f"this export ({document.get('model')}) has no step signature (inputs token, state_*; output logits)")


class StepDecoder:
    """The step called one token at a time, its declared state (zeros of each input's dtype and shape at the start)
    carried from call to call — as genkit.tasks.decoding.step_loop.StepDecoder."""

    def __init__(self, model, inputs: dict):
        self.model = model
        self.takes_position = "position" in inputs
        self.state = {
            name: np.zeros((1, *spec["shape"][1:]), np.dtype(spec.get("dtype", "float32")))
            for name, spec in inputs.items() if name not in ("token", "position")
        }
        self.position = 0

    def __call__(self, token: int) -> np.ndarray:
        """The logits [vocab] after reading ``token``."""
        inputs = {"token": np.array([token], np.int32), **self.state}
        if self.takes_position:
            inputs["position"] = np.array([self.position], np.int32)
        self.position += 1
        outputs = self.model(**inputs)
        self.state = {name: outputs[f"next_{name}"] for name in self.state}
        return outputs["logits"][0]


def choose_next(logits: np.ndarray, rng, temperature: float, top_k: int | None, top_p: float | None) -> int:
    """Greedy at temperature 0; else a draw from softmax(logits / T) kept to the top-k and the top-p nucleus.

    As genkit: tokens tied with the last one kept are kept too.
    """
    logits = np.asarray(logits, np.float64)
    if temperature == 0:
        return int(np.argmax(logits))
    logits = logits / temperature
    if top_k is not None and 0 < top_k < len(logits):
        logits = np.where(logits < np.sort(logits)[::-1][top_k - 1], -np.inf, logits)
    if top_p is not None and top_p < 1.0:
        ordered = np.sort(logits)[::-1]
        probabilities = np.exp(ordered - ordered[0])
        probabilities /= probabilities.sum()
        before = np.cumsum(probabilities) - probabilities  # probability of the likelier tokens
        kept = max(int(np.sum(before < top_p)), 1)
        logits = np.where(logits < ordered[kept - 1], -np.inf, logits)
    probabilities = np.exp(logits - np.max(logits))
    probabilities /= probabilities.sum()
    return int(rng.choice(len(probabilities), p=probabilities))


def generate(folder, prompt: str, length: int, temperature: float = 1.0, top_k=None, top_p=None, seed: int = 0,
             runtime=None) -> str:
    """The prompt followed by ``length`` generated tokens (fewer when the end token comes first)."""
    folder = Path(folder)
    document = read_export(folder)
    if "text" not in document:
        raise AppError(f"{folder}: not a text model export (genkit.json has no 'text' vocabulary)")
    check_section(folder, document, "text", TOKENIZER)
    tokenizer = Tokenizer(document["text"])
    runtime = choose_runtime(document, folder, runtime)
    name = step_signature(document)
    entry = document["signatures"][name]
    model = Model(folder, name, entry, runtime)
    ids = tokenizer.encode(prompt)
    end_id = tokenizer.ids.get(tokenizer.end_token) if tokenizer.end_token is not None else None
    if not ids:  # as genkit: an empty prompt starts a new document (the end token)
        if end_id is None:
            raise AppError("--prompt: needs at least one token (the model has no end token to start from)")
        ids = [end_id]
    decoder = StepDecoder(model, entry["inputs"])
    rng = np.random.default_rng(seed)
    for token in ids[:-1]:
        decoder(token)
    token, generated = ids[-1], []
    for _ in range(length):
        token = choose_next(decoder(token), rng, temperature, top_k, top_p)
        if token == end_id:
            break
        generated.append(token)
    separator = tokenizer.joiner if generated and prompt else ""
    return prompt + separator + tokenizer.decode(generated)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog=APP, description=__doc__.split("\n")[0])
    parser.add_argument("export_dir", metavar="EXPORT_DIR")
    parser.add_argument("--prompt", required=True, metavar="TEXT", help='"" starts a new document')
    parser.add_argument("--length", type=int, default=200, metavar="N", help="tokens to generate")
    parser.add_argument("--temperature", type=float, default=1.0, metavar="T", help="0 is greedy")
    parser.add_argument("--top-k", type=int, metavar="K")
    parser.add_argument("--top-p", type=float, metavar="P")
    parser.add_argument("--seed", type=int, default=0, metavar="S")
    parser.add_argument("--runtime", choices=RUNTIME_CHOICES, help="default: the file the folder holds")
    args = parser.parse_args(argv)
    try:
        if args.length < 1:
            raise AppError(f"--length {args.length}: must be >= 1")
        if args.temperature < 0:
            raise AppError(f"--temperature {args.temperature}: must be >= 0")
        if args.top_k is not None and args.top_k < 1:
            raise AppError(f"--top-k {args.top_k}: must be >= 1")
        if args.top_p is not None and not 0 < args.top_p <= 1:
            raise AppError(f"--top-p {args.top_p}: must be in (0, 1]")
        text = generate(
            args.export_dir, args.prompt, args.length, args.temperature, args.top_k, args.top_p, args.seed, args.runtime
        )
    except AppError as error:
        fail(APP, error)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

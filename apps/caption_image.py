"""Caption images with an exported genkit captioner — numpy, Pillow and LiteRT or ONNX Runtime only.

    python apps/caption_image.py EXPORT_DIR IMAGE [IMAGE ...] [--beam-width K] [--length-penalty A]
                                 [--runtime litert|onnx] [--json OUT.json]

EXPORT_DIR is a folder written by ``genkit export`` of a ``captioner`` run: its
``encode`` signature (images [N, H, W, C] in [0, 1] -> ``features`` and the
decoder's first states) and its ``decode_step`` signature (``token``,
``features``, states -> ``logits``, ``next_*`` states, ``attention``); its
genkit.json's "caption" entry holds the words and the token ids. Images are
read as genkit's ``caption_files`` signature reads them (apps/classify.py's
``load_image``: the export's channels, resized like ``tf.image.resize``).

Decoding is genkit's (genkit.tasks.decoding.graph_decoding), step for step: a search of
``--beam-width`` beams (default: the model's; 1 is greedy, the captions of
``genkit sample --temperature 0``) ranked at the end by Wu et al.'s length
normalisation with ``--length-penalty`` alpha; the unknown-word id is never
chosen. Each image prints ``IMAGE: caption``; ``--json`` also writes the
captions with their log-probabilities.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from classify import load_image  # noqa: E402
from edge_runtime import (  # noqa: E402
    COUNT, INDEX, NUMBER, TEXT, AppError, Model, Rule, check_section, choose_runtime, fail, read_export,
)

APP = "caption_image"
RUNTIME_CHOICES = ("litert", "onnx")
BATCH = 64


def log_softmax(logits: np.ndarray) -> np.ndarray:
    logits = np.asarray(logits, np.float32)
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


# genkit.json "caption" of a captioner export.
CAPTION = {
    "state_names": [TEXT], "boundary_id": INDEX, "unknown_id": INDEX, "max_length": INDEX, "beam_width": COUNT,
    "length_penalty": NUMBER, "words": [TEXT],
    "image_shape": Rule(lambda value: isinstance(value, list) and len(value) == 3 and all(COUNT.test(d) for d in value),
                        "[height, width, channels]"),
}


class Captioner:
    """The two signatures of a captioner export and its decoding settings."""

    def __init__(self, folder, runtime=None):
        folder = Path(folder)
        document = read_export(folder)
        if "caption" not in document or not {"encode", "decode_step"} <= set(document["signatures"]):
            raise AppError(f"{folder}: not a captioner export (needs genkit.json 'caption' and the signatures encode, decode_step)")
        check_section(folder, document, "caption", CAPTION)
        if len(document["signatures"]["encode"]["inputs"]) != 1:
            raise AppError(f"{folder / 'genkit.json'}: signatures.encode must take one input (the images)")
        self.caption = document["caption"]
        runtime = choose_runtime(document, folder, runtime)
        self.encode = Model(folder, "encode", document["signatures"]["encode"], runtime)
        self.step = Model(folder, "decode_step", document["signatures"]["decode_step"], runtime)
        self.state_names = list(self.caption["state_names"])
        self.image_shape = list(self.caption["image_shape"])
        (self.image_input,) = document["signatures"]["encode"]["inputs"]

    def run_step(self, tokens, features, states):
        outputs = {}
        for start in range(0, len(tokens), BATCH):
            part = slice(start, start + BATCH)
            result = self.step(token=tokens[part], features=features[part], **{n: s[part] for n, s in states.items()})
            for name, value in result.items():
                outputs.setdefault(name, []).append(np.asarray(value))
        return {name: np.concatenate(values) for name, values in outputs.items()}

    def beam_search(self, images: np.ndarray, beam_width: int, length_penalty: float):
        """(token ids per image, log-probabilities) as genkit.tasks.decoding.graph_decoding.beam_search gives them."""
        boundary, unknown, max_length = self.caption["boundary_id"], self.caption["unknown_id"], self.caption["max_length"]
        encoded = {}
        for start in range(0, len(images), BATCH):
            for name, value in self.encode(**{self.image_input: images[start : start + BATCH]}).items():
                encoded.setdefault(name, []).append(np.asarray(value))
        encoded = {name: np.concatenate(values) for name, values in encoded.items()}
        count, beams = len(images), beam_width
        features = np.repeat(encoded["features"], beams, axis=0)
        states = {name: np.repeat(encoded[name], beams, axis=0) for name in self.state_names}
        scores = np.where(np.arange(beams)[None, :] == 0, 0.0, -np.inf).astype(np.float32) + np.zeros((count, 1), np.float32)
        finished = np.zeros((count, beams), bool)
        steps_taken = np.zeros((count, beams), np.int32)
        history = np.full((count, beams, max_length), boundary, np.int32)
        tokens = np.full(count * beams, boundary, np.int32)
        for t in range(max_length):
            if not (~finished & (scores > -np.inf)).any():
                break
            outputs = self.run_step(tokens, features, states)
            log_probabilities = log_softmax(outputs["logits"])
            log_probabilities[:, unknown] = -np.inf
            vocabulary = log_probabilities.shape[-1]
            log_probabilities = log_probabilities.reshape(count, beams, vocabulary)
            ended = np.where(np.arange(vocabulary) == boundary, 0.0, -np.inf).astype(np.float32)
            log_probabilities = np.where(finished[..., None], ended, log_probabilities)
            candidates = (scores[..., None] + log_probabilities).reshape(count, beams * vocabulary)
            order = np.argsort(-candidates, axis=1, kind="stable")[:, :beams]  # ties: the lower index, as top_k
            top_scores = np.take_along_axis(candidates, order, axis=1)
            origin, chosen = order // vocabulary, (order % vocabulary).astype(np.int32)
            was_finished = np.take_along_axis(finished, origin, axis=1)
            steps_taken = np.take_along_axis(steps_taken, origin, axis=1) + (~was_finished).astype(np.int32)
            history = np.take_along_axis(history, origin[..., None], axis=1)
            history[:, :, t] = chosen
            flat = (origin + np.arange(count)[:, None] * beams).reshape(-1)
            states = {name: outputs[f"next_{name}"][flat] for name in self.state_names}
            features = features[flat]
            finished = was_finished | (chosen == boundary)
            scores, tokens = top_scores.astype(np.float32), chosen.reshape(-1)
        ranking = scores / np.power((5.0 + steps_taken.astype(np.float32)) / 6.0, np.float32(length_penalty))
        best = np.argmax(ranking, axis=1)
        results = []
        for row in range(count):
            ids = list(history[row, best[row]])
            ids = ids[: ids.index(boundary)] if boundary in ids else ids
            results.append((ids, float(scores[row, best[row]])))
        return results

    def captions(self, paths, beam_width=None, length_penalty=None) -> list[dict]:
        images = np.stack([load_image(path, self.image_shape, path) for path in paths]).astype(np.float32)
        width = int(self.caption["beam_width"] if beam_width is None else beam_width)
        alpha = float(self.caption["length_penalty"] if length_penalty is None else length_penalty)
        words = self.caption["words"]
        return [
            {"image": str(path), "caption": " ".join(words[i] for i in ids), "score": round(score, 6)}
            for path, (ids, score) in zip(paths, self.beam_search(images, width, alpha))
        ]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog=APP, description=__doc__.split("\n")[0])
    parser.add_argument("export_dir", metavar="EXPORT_DIR")
    parser.add_argument("images", nargs="+", metavar="IMAGE")
    parser.add_argument("--beam-width", type=int, metavar="K", help="beams (1: greedy; default: the model's)")
    parser.add_argument("--length-penalty", type=float, metavar="A", help="alpha of the length normalisation")
    parser.add_argument("--runtime", choices=RUNTIME_CHOICES, help="default: the file the folder holds")
    parser.add_argument("--json", metavar="OUT.json", help="also write the captions and their scores")
    args = parser.parse_args(argv)
    try:
        if args.beam_width is not None and not 1 <= args.beam_width <= 64:
            raise AppError(f"--beam-width {args.beam_width}: must be in [1, 64]")
        if args.length_penalty is not None and not 0 <= args.length_penalty <= 5:
            raise AppError(f"--length-penalty {args.length_penalty}: must be in [0, 5]")
        results = Captioner(args.export_dir, args.runtime).captions(args.images, args.beam_width, args.length_penalty)
        if args.json:
            path = Path(args.json)
            temporary = path.with_name(f".{path.name}.tmp")
            temporary.write_text(json.dumps({"captions": results}, indent=1) + "\n", encoding="utf-8")
            temporary.replace(path)
    except AppError as error:
        fail(APP, error)
    for result in results:
        print(f"{result['image']}: {result['caption']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

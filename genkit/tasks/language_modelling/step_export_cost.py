"""What an exported step model costs a language model: bits per character and greedy text against Keras."""

from __future__ import annotations

import math

import numpy as np

from genkit.evaluation.export_cost import endpoint_runner
from genkit.tasks.decoding.step_loop import StepDecoder, log_softmax, zero_state

STREAMS = 32
GREEDY_PROMPTS = 4
GREEDY_LENGTH = 64


def _decoder(model, run_step, batch: int) -> StepDecoder:
    return StepDecoder(run_step, zero_state(model.state_declarations(), batch), position=0 if model.step_takes_position else None)


def _cross_entropy(model, run_step, inputs: np.ndarray, targets: np.ndarray) -> float:
    """Summed cross-entropy (nats) of ``targets`` [streams, steps] given ``inputs``, state carried along."""
    logits = _decoder(model, run_step, len(inputs)).read(inputs)
    return -sum(float(np.take_along_axis(log_softmax(step), targets[:, t : t + 1], axis=1).sum())
                for t, step in enumerate(logits))


def _greedy(model, run_step, prompt_ids: list[int], length: int) -> list[int]:
    decoder = _decoder(model, run_step, 1)
    decoder.read(np.array([prompt_ids[:-1]], np.int32))
    return decoder.greedy([prompt_ids[-1]], length)[0]


def step_export_quality(model, run_export, data, num_samples: int, seed: int) -> dict:
    """bits_per_char of Keras' and of the exported step model over ``num_samples`` tokens of held-out text,
    their delta, and how often greedy decoding from the same prompts gives the same tokens."""
    documents = (data.validation_documents or data.train_documents) if data is not None else None
    if not documents:
        return {"skipped": "the run's text is not available here"}
    ids = np.asarray([model.end_id, *model.tokenizer.encode_documents(documents)], np.int32)
    characters_per_token = sum(len(d) + 1 for d in documents) / max(len(ids) - 1, 1)
    tokens = min(max(int(num_samples), STREAMS), len(ids) - 1)
    streams = min(STREAMS, tokens)
    per_stream = tokens // streams
    inputs = ids[: streams * per_stream].reshape(streams, per_stream)
    targets = ids[1 : streams * per_stream + 1].reshape(streams, per_stream)
    run_keras = endpoint_runner(model, "step")
    result = {"metric": "bits_per_char", "tokens": streams * per_stream}
    for side, run_step in (("keras", run_keras), ("export", run_export)):
        cross_entropy = _cross_entropy(model, run_step, inputs, targets) / (streams * per_stream)
        result[side] = {
            "cross_entropy": cross_entropy,
            "bits_per_char": cross_entropy / characters_per_token / math.log(2),
        }
    result["bits_per_char_delta"] = result["export"]["bits_per_char"] - result["keras"]["bits_per_char"]

    rng = np.random.default_rng(seed)
    text = documents[0]
    agreements, identical = [], 0
    for _ in range(GREEDY_PROMPTS):
        start = int(rng.integers(0, max(len(text) - 40, 1)))
        prompt_ids = model.tokenizer.encode(text[start : start + 32]) or [model.end_id]
        keras_ids = _greedy(model, run_keras, prompt_ids, GREEDY_LENGTH)
        export_ids = _greedy(model, run_export, prompt_ids, GREEDY_LENGTH)
        agreements.append(float(np.mean(np.array(keras_ids) == np.array(export_ids))))
        identical += keras_ids == export_ids
    result["greedy_token_agreement"] = float(np.mean(agreements))
    result["greedy_identical"] = f"{identical}/{GREEDY_PROMPTS}"
    result["summary"] = (
        f"bpc {result['bits_per_char_delta']:+.4f}, greedy {identical}/{GREEDY_PROMPTS} identical "
        f"({result['greedy_token_agreement']:.0%} tokens)"
    )
    return result

"""A causal language model's endpoints: the string serving signature with its bounds, and the one-step export."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from genkit.signatures import Endpoint, TensorDeclaration

# What one generation request may ask for (fixed in every export): its cost is about prompts x (prompt + length)
# steps, so a request cannot hold a TF Serving worker for hours. Longer prompts keep their last tokens.
MAX_GENERATION_LENGTH = 4096
MAX_PROMPT_TOKENS = 4096
MAX_PROMPTS = 256


def text_declarations(model) -> tuple[TensorDeclaration, ...]:
    """The string serving signature's inputs, with their bounds."""
    return (
        TensorDeclaration("prompt", "text", "string", (), description="the text to continue (may be empty)"),
        TensorDeclaration("length", "parameter", "int32", (), (0, MAX_GENERATION_LENGTH), description="tokens to generate"),
        TensorDeclaration("temperature", "parameter", "float32", (), description="0 is greedy"),
        TensorDeclaration("top_k", "parameter", "int32", (), (0, len(model.vocabulary)), description="0: no top-k cut"),
        TensorDeclaration("top_p", "parameter", "float32", (), value_range=(0.0, 1.0), description="1: no nucleus cut"),
        TensorDeclaration("seed", "parameter", "int32", (), description="the same seed gives the same text"),
    )


def step_inputs(model) -> tuple[TensorDeclaration, ...]:
    """The step's inputs: ``token``, ``position`` where the model takes one, and the declared state."""
    token = TensorDeclaration(
        "token", "tokens", "int32", (), value_range=(0, len(model.vocabulary) - 1), description="the current token id",
    )
    position = (TensorDeclaration(
        "position", "parameter", "int32", (), value_range=(0, model.context_length - 1),
        description="the current token's index in the sequence",
    ),) if model.step_takes_position else ()
    return (token, *position, *model.state_declarations())


def language_model_endpoints(model) -> dict[str, Endpoint]:
    """``serving_default``: strings in, strings out (the tokeniser in the graph; SavedModel only);
    ``step``: one token (its position where the model takes one) and the declared state in, logits and the
    next state (``next_{name}``) out (edge exports)."""
    names = model.state_names

    def step(token, *rest):
        position, state = (rest[0], rest[1:]) if model.step_takes_position else (tf.zeros_like(token), rest)
        logits, next_state = model.step(token, list(state), position)
        return {"logits": logits, **{f"next_{name}": s for name, s in zip(names, next_state)}}

    texts = (
        TensorDeclaration("text", "text", "string", (), description="the prompt and its continuation"),
        TensorDeclaration("generated", "text", "string", (), description="the continuation alone"),
    )
    step_outputs = (
        TensorDeclaration("logits", "logits", "float32", (len(model.vocabulary),)),
        *(TensorDeclaration(f"next_{d.name}", "state", d.dtype, d.shape) for d in model.state_declarations()),
    )
    return {
        "serving_default": Endpoint(
            "serving_default", model.generate_text, text_declarations(model), texts, edge=False,
            max_rows=MAX_PROMPTS, row_name="prompts",
        ),
        "step": Endpoint("step", step, step_inputs(model), step_outputs, serving=False),
    }


def example_inputs(model, endpoint: str, num_samples: int, seed: int, data=None) -> dict:
    """Example inputs of ``step`` (tokens of the training text where it is here) or ``serving_default``."""
    rng = np.random.default_rng(seed)
    if endpoint == "step":
        inputs = {"token": rng.integers(0, len(model.vocabulary), num_samples).astype(np.int32)}
        if data is not None and getattr(data, "train_ids", None) is not None:
            inputs["token"] = rng.choice(data.train_ids, num_samples).astype(np.int32)
        if model.step_takes_position:
            inputs["position"] = rng.integers(0, model.context_length, num_samples).astype(np.int32)
        for d in model.state_declarations():
            shape = (num_samples, *d.shape)
            inputs[d.name] = (0.5 * rng.standard_normal(shape)).astype(d.dtype) if d.dtype.startswith("float") \
                else np.zeros(shape, d.dtype)
        return inputs
    # serving_default: greedy, tempered and top-k, nucleus rows in turn
    prompts = ["", "The ", "And the"]
    if data is not None and data.train_documents:
        text = data.train_documents[0]
        starts = rng.integers(0, max(len(text) - 20, 1), num_samples)
        prompts = [text[s : s + 12] for s in starts]
    prompts = [prompts[i % len(prompts)] for i in range(num_samples)]
    inputs = model.generation_inputs(prompts, 16, 1.0, 0, 1.0, seed)
    inputs["temperature"] = np.array([(0.0, 0.8, 1.2)[i % 3] for i in range(num_samples)], np.float32)
    inputs["top_k"] = np.array([(0, 5, 0)[i % 3] for i in range(num_samples)], np.int32)
    inputs["top_p"] = np.array([(1.0, 1.0, 0.9)[i % 3] for i in range(num_samples)], np.float32)
    return inputs


def text_metadata(model) -> dict:
    """genkit.json "text": the tokenizer, the step's declared state (``state``: name, dtype, shape per row;
    ``state_names``; ``state_sizes`` where every state is a vector), ``position_input`` and ``context_length``."""
    declarations = model.state_declarations()
    vectors = all(len(d.shape) == 1 and d.dtype == "float32" for d in declarations)
    return {
        **model.tokenizer.description(),
        "state": [{"name": d.name, "dtype": d.dtype, "shape": list(d.shape)} for d in declarations],
        "state_names": [d.name for d in declarations],
        **({"state_sizes": [int(d.shape[0]) for d in declarations]} if vectors else {}),
        "position_input": model.step_takes_position,
        "context_length": model.context_length,
    }

"""What ``genkit explain`` shows of a causal language model: token saliency and the next-token distribution."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from genkit.tasks.explanations import (
    ExplanationMethod, ExplanationSkipped, Figure, normalized, probability_figure, token_figure, visible,
)

EXPLAINED_TOKENS = 24


def language_model_explanations(model) -> dict[str, ExplanationMethod]:
    return {
        "token-saliency": ExplanationMethod(
            "token-saliency", "how much each token of held-out text moves the prediction of the next token",
            lambda data, num_samples, seed: token_saliency(model, data, num_samples, seed),
        ),
        "next-token": ExplanationMethod(
            "next-token", "the most probable next tokens and their probabilities at each step of a generated sample",
            lambda data, num_samples, seed: next_tokens(model, num_samples, seed), needs_data=False,
        ),
    }


def token_text(model, token_id: int) -> str:
    return "<end>" if token_id == model.end_id else "<unk>" if token_id == 0 else str(model.vocabulary[token_id])


def token_saliency(model, data, num_samples, seed):
    """|d logit(predicted next token) / d embedding| per token, by a gradient tape at the embedding.

    Not tf-keras-vis's ``Saliency``: tokens are integers (no gradient reaches them), and the network cannot
    be cut at the embedding into one functional sub-network (tied embeddings project the output too), so
    the same quantity is taken here with a tape at the embedding's output, step by step.
    """
    documents = data.validation_documents or data.train_documents
    ids = np.asarray(model.tokenizer.encode_documents(documents), np.int32)
    length = EXPLAINED_TOKENS
    if len(ids) <= length:
        raise ExplanationSkipped(f"{data.name}: fewer than {length + 1} tokens of held-out text")
    rng = np.random.default_rng(seed)
    starts = np.sort(rng.choice(len(ids) - length, min(num_samples, len(ids) - length), replace=False))
    windows = np.stack([ids[start : start + length] for start in starts])
    embedded = tf.convert_to_tensor(model.embed(windows))
    with tf.GradientTape() as tape:
        tape.watch(embedded)
        state = model.initial_state(len(windows))
        for position in range(length):
            logits, state = model.step_from_embedding(embedded[:, position], state, tf.fill([len(windows)], position))
        predicted = tf.argmax(logits, axis=-1, output_type=tf.int32)
        score = tf.reduce_sum(tf.gather(logits, predicted, batch_dims=1))
    saliency = normalized(tf.norm(tape.gradient(score, embedded), axis=-1).numpy())
    probabilities = tf.nn.softmax(logits).numpy()
    rows = []
    for window, values, token, probability in zip(windows, saliency, predicted.numpy(), probabilities):
        tokens = [visible(token_text(model, int(t))) for t in window]
        tokens.append(f"=> {visible(token_text(model, int(token)))} {probability[token]:.2f}")
        rows.append((tokens, np.append(values, np.nan)))
    return [Figure(
        name="token_saliency", title="token saliency", method="token-saliency",
        description=(f"For {len(windows)} windows of {length} held-out tokens: the gradient norm of the logit of the "
                     "predicted next token (last cell, with its probability) at each token's embedding, scaled to "
                     "[0, 1] per row: the tokens the prediction depends on. Taken with a gradient tape at the "
                     "embedding rather than tf-keras-vis's Saliency, since token ids are integers."),
        png=token_figure("token saliency (darker: the prediction depends more on it)", rows, "saliency"),
        arrays={"tokens": windows, "saliency": saliency, "predicted": predicted.numpy()},
    )]


def next_tokens(model, num_samples, seed, top: int = 5):
    steps = EXPLAINED_TOKENS
    rng = np.random.default_rng(seed)
    token = tf.constant([model.end_id], tf.int32)
    state = model.initial_state(1)
    chosen, candidates, probabilities = [], [], []
    for position in range(steps):
        logits, state = model.step(token, state, tf.constant([position], tf.int32))
        distribution = tf.nn.softmax(logits[0]).numpy().astype(np.float64)
        best = np.argsort(-distribution)[:top]
        picked = int(rng.choice(len(distribution), p=distribution / distribution.sum()))
        chosen.append(token_text(model, picked))
        candidates.append([token_text(model, int(k)) for k in best])
        probabilities.append(distribution[best])
        token = tf.constant([picked], tf.int32)
    return [Figure(
        name="next_token", title="next-token distribution", method="next-token",
        description=(f"A sample of {steps} tokens drawn at temperature 1 (seed {seed}) from the start of a text; each "
                     f"column: the {top} most probable tokens at that step with their probabilities, the drawn token "
                     "below. Spread-out columns: the model is unsure there."),
        png=probability_figure("next-token distribution of a generated sample", chosen, candidates, np.asarray(probabilities)),
        arrays={"probabilities": np.asarray(probabilities)},
    )]

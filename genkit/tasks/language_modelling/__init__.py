"""Causal language modelling as a capability any token-level language model composes, whatever its network:
training on windows of text, prompt prefill and generation through the shared samplers, the text serving endpoints
and their bounds, evaluation in bits per token, ``score(texts)``, and the one-step export and its cost.

A family supplies its network and a step over a *declared* state (:class:`CausalLanguageModel`).
"""

"""Capabilities that model families compose: the shared task base, image generation, class conditioning, paired data,
encoder-decoder training, language modelling, decoding and explanations (the training utilities every family uses,
noise, loss scaling and schedules, are in :mod:`genkit.training`)."""

from genkit.tasks.task import Task

GenerativeTask = Task  # the old name, kept for plugin families registered through the `genkit.models` entry point

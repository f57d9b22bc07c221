"""Capabilities that model families compose: the shared task base, image generation, class conditioning,
encoder-decoder training, and the training utilities every family uses (noise, loss scaling, schedules)."""

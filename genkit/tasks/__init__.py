"""Capabilities that model families compose: the shared task base, image generation, class conditioning, paired data,
encoder-decoder training, and the training utilities every family uses (noise, loss scaling, schedules)."""

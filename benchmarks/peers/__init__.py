"""Peer implementations that genkit's models are benchmarked against (outside genkit's training runtime)."""

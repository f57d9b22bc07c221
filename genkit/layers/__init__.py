"""Layers genkit adds to Keras."""

from genkit.layers.replica_dropout import ReplicaDropout

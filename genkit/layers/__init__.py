"""Layers genkit adds to Keras."""

from genkit.layers.replica_dropout import ReplicaDropout
from genkit.layers.spectral_normalization import SpectralNormalization

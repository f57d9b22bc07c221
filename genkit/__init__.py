"""genkit: generative models on Keras 3 and TensorFlow, from desktop training to edge export."""

__version__ = "0.1.0"

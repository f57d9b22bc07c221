"""Datasets: the registry of ``--dataset`` specs, their loaders, the embedded data, and the tf.data pipelines.

Importing this package does not import TensorFlow (the command line reads the
dataset registry while it parses); the pipelines live in
:mod:`genkit.data.image_pipeline`.
"""

from genkit.data.image_dataset import ImageDataset
from genkit.data.loading import DEFAULT_DATASET, find_fashion_mnist_dir, load_image_dataset

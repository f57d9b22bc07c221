"""Image datasets: readers for each source, the embedded default, and the tf.data pipeline."""

from genkit.data.image_dataset import ImageDataset
from genkit.data.image_pipeline import image_pipeline, scale_description
from genkit.data.loading import DEFAULT_DATASET, find_fashion_mnist_dir, load_image_dataset

"""The pixel-gaussian family: importing it registers the model."""

from .pixel_gaussian import PixelGaussian
from .pixel_gaussian_config import PixelGaussianConfig

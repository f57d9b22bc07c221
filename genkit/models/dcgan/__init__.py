from genkit.models.dcgan.dcgan import DCGAN
from genkit.models.dcgan.dcgan_config import DCGANConfig
from genkit.models.dcgan.dcgan_discriminator import build_dcgan_discriminator
from genkit.models.dcgan.dcgan_generator import build_dcgan_generator

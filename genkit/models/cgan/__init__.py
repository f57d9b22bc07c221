from genkit.models.cgan.cgan import CGAN
from genkit.models.cgan.cgan_config import CGANConfig
from genkit.models.cgan.cgan_discriminator import build_cgan_discriminator
from genkit.models.cgan.cgan_generator import build_cgan_generator

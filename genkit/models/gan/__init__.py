"""The GAN family: dcgan, cgan, wgan-gp and text2image-gan on one GAN task (two optimizers, adversarial losses, moving average)."""

from genkit.models.gan.cgan import CGAN
from genkit.models.gan.cgan_config import CGANConfig
from genkit.models.gan.dcgan import DCGAN
from genkit.models.gan.dcgan_config import DCGANConfig
from genkit.models.gan.gan import GAN
from genkit.models.gan.gan_config import GANConfig
from genkit.models.gan.text2image_gan import TextToImageGAN
from genkit.models.gan.text2image_gan_config import TextToImageGANConfig
from genkit.models.gan.wgan_gp import WGANGP
from genkit.models.gan.wgan_gp_config import WGANGPConfig

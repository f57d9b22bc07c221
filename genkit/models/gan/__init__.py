"""What the GAN families share: config fields, networks, losses, gradient penalty, moving average, the GAN task."""

from genkit.models.gan.conv_discriminator import build_conv_discriminator
from genkit.models.gan.conv_generator import build_conv_generator
from genkit.models.gan.gan import GAN
from genkit.models.gan.gan_config import GANConfig
from genkit.models.gan.gan_losses import LOSSES, discriminator_loss, generator_loss
from genkit.models.gan.gradient_penalty import gradient_penalty
from genkit.models.gan.moving_average import build_moving_average, update_moving_average

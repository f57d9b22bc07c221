"""Every built-in model family; importing this package registers them."""

from genkit.models.cgan import CGAN, CGANConfig
from genkit.models.dcgan import DCGAN, DCGANConfig
from genkit.models.gan import GAN, GANConfig
from genkit.models.generative_task import GenerativeTask
from genkit.models.language_model import CharLSTM, CharLSTMConfig, WordLSTM, WordLSTMConfig
from genkit.models.wgan_gp import WGANGP, WGANGPConfig
from genkit.models.vae import CVAE, VAE, BetaVAE, BetaVAEConfig, CVAEConfig, VAEConfig
from genkit.models.autoencoder import Autoencoder, AutoencoderConfig, DenoisingAutoencoder, DenoisingAutoencoderConfig

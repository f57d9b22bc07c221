from genkit.models.wgan_gp.wgan_gp import WGANGP
from genkit.models.wgan_gp.wgan_gp_config import WGANGPConfig
from genkit.models.wgan_gp.wgan_gp_critic import build_wgan_gp_critic
from genkit.models.wgan_gp.wgan_gp_generator import build_wgan_gp_generator

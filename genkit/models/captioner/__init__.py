from genkit.models.captioner.captioner import Captioner
from genkit.models.captioner.captioner_config import CaptionerConfig

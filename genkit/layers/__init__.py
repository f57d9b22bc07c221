"""Layers genkit adds to Keras, and the convolutional trunks built of Keras layers that image families share
(:mod:`genkit.layers.conv_blocks`)."""

from genkit.layers.conditioning_augmentation import ConditioningAugmentation
from genkit.layers.imagenet_preprocessing import ImageNetPreprocessing
from genkit.layers.log_mel import LogMelSpectrogram
from genkit.layers.modality_fusion import AttentionFusion, ConcatFusion, GatedFusion, LowRankFusion, WeightedFusion
from genkit.layers.replica_dropout import ReplicaDropout
from genkit.layers.spectral_normalization import SpectralNormalization
from genkit.layers.token_embedding import TokenEmbedding
from genkit.layers.visual_attention import VisualAttention

"""Evaluation of generative models: feature extractors (the shipped Fashion-MNIST classifier, InceptionV3)
and image metrics (FID, KID, precision/recall, conditioning accuracy)."""

from genkit.evaluation.feature_extractor import DEFAULT_FEATURES, FEATURE_EXTRACTORS, FeatureExtractor, load_feature_extractor
from genkit.evaluation.feature_metrics import (
    feature_statistics,
    frechet_distance,
    frechet_feature_distance,
    kernel_inception_distance,
    polynomial_kernel,
    precision_recall,
    unbiased_mmd2,
)
from genkit.evaluation.image_generation_metrics import feature_set_metrics, image_generation_metrics
from genkit.evaluation.conditioning_accuracy import conditioning_accuracy, model_conditioning_accuracy

"""Evaluation of generative models: feature extractors and image metrics.

- Feature extractors (:func:`load_feature_extractor`): ``fashion_mnist``, the Fashion-MNIST classifier
  that genkit trained once (``python -m genkit.evaluation.train_classifier``) and ships in
  ``weights/`` — 92.67% accuracy on the 10,000 Fashion-MNIST test images, 128 features from its
  penultimate layer; ``emoji``, the emoji subgroup classifier shipped the same way (44.4% of the 99
  subgroups of the embedded test emoji); ``inception``, Keras' InceptionV3 pool3 features with the
  user's ImageNet weights.
- Text to image (:mod:`genkit.evaluation.text_to_image`): R-precision with the shipped emoji dual
  encoder (:mod:`genkit.evaluation.text_image_scorer`), subgroup accuracy, FID and the rest of one
  image per description, with the real images' ceiling and a retrieval floor.
- Metrics on feature arrays: :func:`frechet_distance` (FID), :func:`kernel_inception_distance` (KID),
  :func:`precision_recall` (k-NN manifolds); on images: :func:`image_generation_metrics`,
  :func:`conditioning_accuracy` and :func:`model_conditioning_accuracy` for conditional generators.
"""

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

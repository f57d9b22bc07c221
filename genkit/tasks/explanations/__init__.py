"""What ``genkit explain`` is made of: a family's explanation methods, the tf-keras-vis maps they use, and figures.

A family declares what can be explained by overriding
:meth:`~genkit.tasks.task.Task.explanation_methods`
(each capability adds its own and calls ``super()``); each method makes
:class:`Figure`\\ s (PNG bytes with a title and a description) or raises
:class:`ExplanationSkipped` with the reason it does not apply to this model.
A family keeps its own methods in a file beside its task (``gan_explanations.py``).

The parts, one module each:

- :mod:`~genkit.tasks.explanations.methods`: ``ExplanationMethod``, ``Figure``, ``ExplanationSkipped``, and the
  test images a method explains (``test_split_images``);
- :mod:`~genkit.tasks.explanations.attribution_maps`: saliency (vanilla and SmoothGrad), Grad-CAM, Grad-CAM++ and
  Score-CAM, tf-keras-vis's own (0.8.7 runs on Keras 3 functional networks: a family explains its functional
  sub-networks — a discriminator, the shipped classifier — not the subclassed task), and gradients at a nested layer;
- :mod:`~genkit.tasks.explanations.classifier_maps`: the shipped classifiers and their maps on a model's images;
- figures, by what they draw: :mod:`~genkit.tasks.explanations.image_figures` (images under heat maps, tables of
  images), :mod:`~genkit.tasks.explanations.chart_figures` (bars), :mod:`~genkit.tasks.explanations.token_figures`
  (tokens coloured by a value, next-token candidates), on :mod:`~genkit.tasks.explanations.figure_canvas`.

Every name is importable from ``genkit.tasks.explanations`` itself.
"""

from genkit.tasks.explanations.methods import ExplanationMethod, ExplanationSkipped, Figure, test_split_images
from genkit.tasks.explanations.attribution_maps import (
    CAM_METHODS,
    class_activation_maps,
    gradcam_from,
    last_layer_with_spatial_output,
    normalized,
    recorded_outputs,
    saliency_maps,
    with_fixed_inputs,
    with_fixed_second_input,
)
from genkit.tasks.explanations.image_figures import image_table_figure, maps_figure
from genkit.tasks.explanations.chart_figures import bar_figure, grouped_bar_figure
from genkit.tasks.explanations.token_figures import probability_figure, token_figure, visible
from genkit.tasks.explanations.classifier_maps import (
    class_name,
    classifier_cam_figure,
    classifier_images,
    shipped_classifier,
)

__all__ = [
    "CAM_METHODS", "ExplanationMethod", "ExplanationSkipped", "Figure", "bar_figure", "class_activation_maps",
    "class_name", "classifier_cam_figure", "classifier_images", "gradcam_from", "grouped_bar_figure",
    "image_table_figure", "last_layer_with_spatial_output", "maps_figure", "normalized", "probability_figure",
    "recorded_outputs", "saliency_maps", "shipped_classifier", "test_split_images", "token_figure", "visible",
    "with_fixed_inputs", "with_fixed_second_input",
]

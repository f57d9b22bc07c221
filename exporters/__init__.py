"""Exporters of trained genkit runs to TF Serving SavedModels, TFLite (LiteRT) and ONNX.

``exporters.export(run_dir, format="all", quantize="none", ...)`` is what
``genkit export`` runs. Exporters find what to export through the model's
hooks (``serving_endpoints()``, ``edge_endpoints()``, ``endpoint_inputs()``,
``export_metadata()``, ``export_quality()``); they never special-case a
family by name. One module per format (``savedmodel``, ``tflite``, ``onnx``)
plus the shared checks (parity, latency), quality, report and metadata code.
"""

from exporters.export import FORMAT_CHOICES, FORMATS, QUANTIZATIONS, export

__all__ = ["FORMATS", "FORMAT_CHOICES", "QUANTIZATIONS", "export"]

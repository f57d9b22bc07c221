"""Exporters of trained genkit runs to TF Serving SavedModels, TFLite (LiteRT) and ONNX.

``exporters.export(run_dir, format="all", quantize="none", ...)`` is what
``genkit export`` runs. Exporters find what to export in the model's declared
endpoints (``endpoints()``: inputs and outputs with modality, dtype, shape,
range and noise distribution) and its hooks (``endpoint_inputs()``,
``export_metadata()``, ``export_quality()``); they never special-case a
family by name. One module per format (``savedmodel``, ``tflite``, ``onnx``)
plus the shared checks (parity, latency), the report (with what each export
costs in the task's metric) and the metadata.
"""

from exporters.export import FORMAT_CHOICES, FORMATS, QUANTIZATIONS, export

__all__ = ["FORMATS", "FORMAT_CHOICES", "QUANTIZATIONS", "export"]

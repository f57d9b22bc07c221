"""Exporters of trained genkit runs to TF Serving, TFLite (LiteRT) and ONNX (filled by the exporters issue).

Exporters find what to export through the model registry and each model's
``serving_endpoints()``; they never special-case a family by name.
"""

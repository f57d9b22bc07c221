"""The library versions a run or a shipped artefact records, and what ``genkit --version`` prints."""

from __future__ import annotations

import importlib.metadata
import platform
import sys

# What genkit export converts and checks with (pyproject.toml's dependencies), by distribution name.
EXPORT_LIBRARIES = ("tf2onnx", "onnx", "onnxruntime", "ai-edge-litert")


def library_versions() -> dict:
    import keras
    import numpy
    import tensorflow as tf

    import genkit

    return {
        "genkit": genkit.__version__,
        "python": sys.version.split()[0],
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": numpy.__version__,
        "platform": platform.platform(),
    }


def export_library_versions() -> dict:
    """The installed version of each of :data:`EXPORT_LIBRARIES` ("not installed" for a missing one), read from
    the package metadata without importing them."""
    versions = {}
    for name in EXPORT_LIBRARIES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def version_text() -> str:
    """``genkit --version``: genkit's version, then one ``name version`` line per library it runs on."""
    versions = library_versions()
    genkit_version, platform_name = versions.pop("genkit"), versions.pop("platform")
    versions.update(export_library_versions())
    return "\n".join([f"genkit {genkit_version}", *(f"  {name} {version}" for name, version in versions.items()),
                      f"  platform {platform_name}"])

"""The library versions a run or a shipped artefact records."""

from __future__ import annotations

import platform
import sys


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

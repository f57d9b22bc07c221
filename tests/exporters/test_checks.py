"""exporters/checks.py: the parity verdict of an export against Keras."""

import numpy as np
import pytest

from exporters.checks import parity
from genkit.errors import ExportCheckFailed


def test_float_outputs_decide_and_class_ids_report_their_agreement():
    reference = {"probabilities": np.array([[0.5, 0.5], [0.9, 0.1]], np.float32), "class_id": np.array([0, 0], np.int32)}
    # A near-tie flips the first class id while every probability is within the tolerance.
    exported = {"probabilities": reference["probabilities"] + np.float32(2e-5), "class_id": np.array([1, 0], np.int32)}
    result = parity(reference, exported, 1e-4)
    assert result["passed"] is True and result["max_abs_error"] == pytest.approx(2e-5, rel=1e-2)
    assert result["outputs"]["class_id"] == {"mismatches": 1, "agreement": 0.5}

    exported["probabilities"] = exported["probabilities"] + np.float32(1e-3)
    assert parity(reference, exported, 1e-4)["passed"] is False


def test_strings_must_agree_and_shapes_must_match():
    reference = {"label": np.array([b"cat", b"dog"], dtype=object)}
    assert parity(reference, {"label": np.array([b"cat", b"cow"], dtype=object)}, 1e-4)["passed"] is False
    with pytest.raises(ExportCheckFailed, match="output 'label' has shape"):
        parity(reference, {"label": np.array([b"cat"], dtype=object)}, 1e-4)

"""tf.distribute.MirroredStrategy on two logical CPU devices matches one device."""

from pathlib import Path

import keras
import numpy as np
import pytest

from conftest import read_json, run_genkit, tiny_set_flags

import genkit.models  # noqa: F401  (registers genkit's serialisable classes)


# Dropout off: its masks are the only randomness not drawn from the global-batch noise.
NO_DROPOUT = ["dropout_rate=0"]


def _generator_weights(run_dir: Path):
    model = keras.saving.load_model(run_dir / "model.keras")
    return [np.asarray(w) for w in model.generator.weights]


@pytest.mark.slow
def test_two_mirrored_devices_match_one_device(tmp_path, tiny_npz):
    runs = {}
    for devices in (1, 2):
        runs[devices] = tmp_path / f"devices-{devices}"
        run_genkit(
            "train", "dcgan", "--dataset", f"npz:{tiny_npz}", "--epochs", 1, "--batch-size", 64,
            "--devices", devices, "--out", runs[devices], "--quiet", *tiny_set_flags(NO_DROPOUT),
        )
    strategy = read_json(runs[2] / "genkit.json")["training"]["strategy"]
    assert strategy == {"name": "MirroredStrategy", "num_replicas": 2}
    one, two = _generator_weights(runs[1]), _generator_weights(runs[2])
    assert len(one) == len(two)
    for a, b in zip(one, two):
        np.testing.assert_allclose(a, b, atol=1e-4, rtol=1e-3)
    assert read_json(runs[1] / "genkit.json")["training"]["global_steps"] == 4

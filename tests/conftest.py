"""Shared fixtures: a tiny real dataset, tiny model configs, and running the CLI in a fresh process."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from genkit.models.gan.gan_config import TINY_GAN

# Tiny DCGAN: seconds per epoch on a couple of hundred images (the GAN family's own tiny_overrides).
TINY_DCGAN = list(TINY_GAN)




def tiny_set_flags(extra=()):
    flags = []
    for assignment in [*TINY_DCGAN, *extra]:
        flags += ["--set", assignment]
    return flags


def run_genkit(*args, cwd=None, env=None, timeout=300, check=True):
    """Runs ``python -m genkit ARGS`` in a fresh process; returns the CompletedProcess."""
    environment = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    process = subprocess.run(
        [sys.executable, "-m", "genkit", *map(str, args)], cwd=cwd, env=environment,
        capture_output=True, text=True, timeout=timeout,
    )
    if check and process.returncode != 0:
        raise AssertionError(
            f"genkit {' '.join(map(str, args))} exited {process.returncode}\n"
            f"stdout:\n{process.stdout[-3000:]}\nstderr:\n{process.stderr[-3000:]}"
        )
    return process


@dataclasses.dataclass
class CommandResult:
    returncode: int
    stdout: str
    stderr: str


def run_cli(*args, check=True) -> CommandResult:
    """Runs ``genkit ARGS`` in this process (``genkit.cli.main``), capturing what it prints.

    For everything but what needs a fresh process (logical devices, environment variables, signals,
    reloads without genkit): that is :func:`run_genkit`. ``check``: fail unless it exits 0 (as run_genkit).
    """
    import contextlib
    import io

    from genkit.cli import main

    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = main([str(arg) for arg in args])
    if check and code != 0:
        raise AssertionError(
            f"genkit {' '.join(map(str, args))} exited {code}\nstdout:\n{stdout.getvalue()[-3000:]}\n"
            f"stderr:\n{stderr.getvalue()[-3000:]}"
        )
    return CommandResult(code, stdout.getvalue(), stderr.getvalue())


def run_python(code: str, timeout=300, env=None) -> str:
    """Runs Python ``code`` in a fresh process and returns its stdout."""
    process = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout,
        env={**os.environ, **(env or {})},
    )
    if process.returncode != 0:
        raise AssertionError(f"python -c exited {process.returncode}\nstderr:\n{process.stderr[-3000:]}")
    return process.stdout


def read_json(path: Path):
    return json.loads(Path(path).read_text())


@pytest.fixture(scope="session")
def tiny_npz(tmp_path_factory) -> Path:
    """256 real Fashion-MNIST train images (and 64 test) from the embedded subset, as an .npz file."""
    from genkit.data import load_image_dataset

    data = load_image_dataset("embedded")
    path = tmp_path_factory.mktemp("data") / "tiny.npz"
    np.savez(
        path,
        x_train=data.train_images[:256], y_train=data.train_labels[:256],
        x_test=data.test_images[:64], y_test=data.test_labels[:64], label_names=np.array(data.label_names),
    )
    return path


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory, tiny_npz) -> Path:
    """One tiny DCGAN run folder, trained once through the CLI and shared by read-only tests."""
    run_dir = tmp_path_factory.mktemp("runs") / "dcgan-tiny"
    run_cli(
        "train", "dcgan", "--dataset", f"npz:{tiny_npz}", "--epochs", 2, "--batch-size", 64,
        "--out", run_dir, "--quiet", *tiny_set_flags(["train.num_sample_images=16"]),
    )
    return run_dir


@pytest.fixture(scope="session")
def tiny_text(tmp_path_factory) -> Path:
    """The first 12,000 characters of the embedded King James Version, as a UTF-8 text file."""
    import gzip

    from genkit.data.text_corpus import EMBEDDED_TEXT

    with gzip.open(EMBEDDED_TEXT, "rt", encoding="utf-8") as file:
        text = file.read(12000)
    path = tmp_path_factory.mktemp("text") / "tiny.txt"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def tiny_manifest(tmp_path_factory) -> Path:
    """A JSONL manifest of 72 examples with all three modalities: an emoji picture (PNG, from the embedded
    set), its name, a WAV tone (8 kHz, 0.25 s) whose pitch depends on the label, and the label (one of 3
    emoji groups); seeded."""
    from PIL import Image

    from genkit.data.emoji import load_embedded
    from genkit.data.wav import write_wav

    folder = tmp_path_factory.mktemp("manifest")
    emoji = load_embedded()
    train = emoji.split("train")
    groups = emoji.label_names["group"]
    rng = np.random.default_rng(0)
    rows = []
    for label, group in enumerate(("Animals & Nature", "Food & Drink", "Travel & Places")):
        members = np.flatnonzero(train["group"] == groups.index(group))[:24]
        for index in members:
            image_path, audio_path = f"images/{index}.png", f"audio/{index}.wav"
            (folder / "images").mkdir(exist_ok=True)
            (folder / "audio").mkdir(exist_ok=True)
            Image.fromarray(train["image"][index]).save(folder / image_path)
            time = np.arange(2000) / 8000
            tone = 0.3 * np.sin(2 * np.pi * 300 * 2**label * time) + 0.05 * rng.standard_normal(2000)
            write_wav(folder / audio_path, tone, 8000)
            rows.append({"image": image_path, "text": list(train["text"][index]), "audio": audio_path, "label": group})
    path = folder / "pairs.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def dcgan_exports(tmp_path_factory, trained_run) -> Path:
    """``trained_run`` exported once to every format (float32) and to int8 TFLite; read-only for the tests."""
    import exporters

    out = tmp_path_factory.mktemp("exports")
    options = dict(out=out, verbose=False, parity_samples=16, quality_samples=200, latency_repeats=3)
    exporters.export(trained_run, "all", **options)
    exporters.export(trained_run, "tflite", "int8", **options)
    return out


# -- a resumed run against a straight one, across processes ------------------------------------

# How far a tiny run stopped after its first step and resumed in another process may end from a
# straight run: the relative L2 distance ||resumed - straight|| / ||straight|| over every float
# weight of model.keras. Measured on this 2-core machine with 4 runs of each at once (dcgan,
# wgan-gp, beta-vae; 2 epochs of 4 steps; the resume tests' settings):
#   straight vs straight, straight vs resumed, without_step_race(): 0 (all 8 runs bit-identical);
#   the same with Grappler's dependency optimizer on: dcgan, beta-vae 0; wgan-gp up to 4.0e-5
#     (straight vs straight) and 2.5e-4 (vs resumed) -- the race of without_step_race();
#   every op's last bits changed from the first step (oneDNN kernels on vs off): <= 4.3e-8;
#   resume broken on purpose (TrainingCheckpoint.restore_latest patched):
#     data position one step late      6.3e-3 (dcgan), 1.2e-2 (wgan-gp), 3.5e-2 (beta-vae)
#     optimizer not restored           1.3e-3,         1.9e-3,           4.4e-2
#     Adam's m and v not restored      4.4e-4,         1.1e-3,           2.1e-2
#     dropout seed states not restored 1.2e-3 (dcgan; the others have no dropout)
#     moving average not restored      4.7e-6,         9.6e-6 -- under the bound: the average soon
#                                      forgets its start; tests/runtime catches it bit for bit.
# 1e-5 is 230x the largest kernel-order effect and 44x under the smallest broken resume it is for.
RESUME_TOLERANCE = 1e-5

# See without_step_race(); for a fresh process.
_WITHOUT_STEP_RACE = (
    "import tensorflow as tf\n"
    "tf.config.optimizer.set_experimental_options({'dependency_optimization': False})\n"
)


@contextlib.contextmanager
def without_step_race():
    """Traces and runs train steps without TF 2.21's Grappler dependency optimizer.

    It drops the control edges that order the wgan-gp critic's variable reads before Adam's writes
    to them (n_critic > 1), so with inter-op parallelism on a busy CPU one step from one state
    sometimes ends elsewhere: 10 of 2,998 repeats of the Trainer's step in one process (4 processes
    on 2 cores); 0 of 2,998 with this optimizer off, or with one inter-op thread; oneDNN on or off
    makes no difference. Not a resume bug: runs compared to the last bit need it off.
    """
    import tensorflow as tf

    previous = tf.config.optimizer.get_experimental_options().get("dependency_optimization", True)
    tf.config.optimizer.set_experimental_options({"dependency_optimization": False})
    try:
        yield
    finally:
        tf.config.optimizer.set_experimental_options({"dependency_optimization": previous})


def run_genkit_sessions(*commands, env=None, timeout=600, check=True) -> list[tuple[int, str]]:
    """Runs genkit commands (argument lists) one after another in ONE fresh process, through
    ``genkit.cli.main`` and :func:`without_step_race`; returns each command's (exit code, stderr).

    One process for several commands saves the 5-10 s of imports that each process costs.
    """
    code = _WITHOUT_STEP_RACE + (
        "import contextlib, io, json\n"
        "from genkit.cli import main\n"
        "results = []\n"
        f"for argv in {[[str(argument) for argument in command] for command in commands]!r}:\n"
        "    stderr = io.StringIO()\n"
        "    with contextlib.redirect_stderr(stderr):\n"
        "        results.append([main(argv), stderr.getvalue()])\n"
        "print('genkit-sessions: ' + json.dumps(results))\n"
    )
    stdout = run_python(code, timeout=timeout, env=env)
    line = [line for line in stdout.splitlines() if line.startswith("genkit-sessions: ")][-1]
    results = [tuple(result) for result in json.loads(line.partition(": ")[2])]
    if check:
        for command, (exit_code, stderr) in zip(commands, results):
            assert exit_code == 0, f"genkit {' '.join(map(str, command))} exited {exit_code}\n{stderr[-3000:]}"
    return results


def weights_distance(run_dir: Path, reference_dir: Path) -> float:
    """||a - b|| / ||b|| over every float weight of two run folders' model.keras."""
    import keras

    from genkit.registry import registered_models

    registered_models()  # genkit's model classes, for loading
    weights = [
        [w.numpy().astype(np.float64) for w in keras.saving.load_model(Path(run) / "model.keras").weights
         if "float" in str(w.dtype)]
        for run in (run_dir, reference_dir)
    ]
    assert [w.shape for w in weights[0]] == [w.shape for w in weights[1]]
    difference = sum(float(np.sum((a - b) ** 2)) for a, b in zip(*weights))
    return (difference / sum(float(np.sum(b ** 2)) for b in weights[1])) ** 0.5


def assert_resumed_like_straight(resumed_dir: Path, straight_dir: Path) -> None:
    distance = weights_distance(resumed_dir, straight_dir)
    assert distance <= RESUME_TOLERANCE, (
        f"the resumed run's weights are {distance:.2e} (relative L2) from the straight run's; "
        f"at most {RESUME_TOLERANCE:.0e} for a correct resume (see RESUME_TOLERANCE)"
    )


def checkpoint_iterations(run_dir: Path) -> dict[str, int]:
    """The optimizers' step counters in a run folder's newest checkpoint, by checkpoint object name."""
    import tensorflow as tf

    from genkit.runtime.training_checkpoint import FILE_PREFIX, newest_good_checkpoint

    folder, _ = newest_good_checkpoint(Path(run_dir) / "checkpoints")
    reader = tf.train.load_checkpoint(str(folder / FILE_PREFIX))
    return {
        key.split("/")[0]: int(reader.get_tensor(key))
        for key in reader.get_variable_to_shape_map()
        if key.endswith("iterations/.ATTRIBUTES/VARIABLE_VALUE") and key.count("/") == 3
    }

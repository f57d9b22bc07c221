"""Shared fixtures: a tiny real dataset, tiny model configs, and running the CLI in a fresh process."""

from __future__ import annotations

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


# For runs compared to the last bit (a resumed run against a straight one): without oneDNN's
# kernels. On a busy CPU they sum some gradients in a varying order (even with
# TF_DETERMINISTIC_OPS), and Adam makes those last-bit differences visible within a few steps.
BIT_EXACT_ENV = {"TF_ENABLE_ONEDNN_OPTS": "0"}


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
def dcgan_exports(tmp_path_factory, trained_run) -> Path:
    """``trained_run`` exported once to every format (float32) and to int8 TFLite; read-only for the tests."""
    import exporters

    out = tmp_path_factory.mktemp("exports")
    options = dict(out=out, verbose=False, parity_samples=16, quality_samples=200, latency_repeats=3)
    exporters.export(trained_run, "all", **options)
    exporters.export(trained_run, "tflite", "int8", **options)
    return out

"""docs/adding-a-model.md stays true: its code is the example family's files, and the family works both ways
the page says -- as a folder inside genkit.models, and as a plugin package installed with pip."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import read_json, run_genkit, run_python

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "adding-a-model.md"
PLUGIN = ROOT / "tests" / "plugins" / "genkit_pixel_gaussian"
BLOCK = re.compile(r'```\w+ title="([^"]+)"\n(.*?)```', re.S)


def test_every_code_block_of_the_page_is_the_example_familys_file():
    blocks = BLOCK.findall(DOC.read_text(encoding="utf-8"))
    shown = {path for path, _ in blocks}
    files = {str(p.relative_to(PLUGIN)) for p in PLUGIN.rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    assert shown == files, "the page shows other files than the example family has"
    for path, text in blocks:
        assert text == (PLUGIN / path).read_text(encoding="utf-8"), f"docs/adding-a-model.md differs from {path}"


@pytest.mark.slow
def test_the_folder_dropped_into_genkit_models_is_found_trained_and_sampled(tmp_path, tiny_npz):
    """Adding a family is adding a folder: no other edit (here the folder sits on genkit.models' search path)."""
    family = tmp_path / "families"
    shutil.copytree(PLUGIN / "genkit_pixel_gaussian", family / "pixel_gaussian")
    run, samples = tmp_path / "run", tmp_path / "samples.npy"
    code = f"""
import sys
import genkit.models
import genkit.registry as registry
from genkit.cli import main

genkit.models.__path__.append({str(family)!r})
registry._DISCOVERED = False
registry.discover_models()
entry = registry.get_model_entry("pixel-gaussian")
assert entry.source == "genkit.models.pixel_gaussian.pixel_gaussian", entry.source
assert main(["train", "pixel-gaussian", "--dataset", "npz:{tiny_npz}", "--epochs", "2", "--out", {str(run)!r}, "--quiet"]) == 0
assert main(["sample", {str(run)!r}, "-n", "6", "--out", {str(samples)!r}]) == 0
assert main(["sample", {str(run)!r}, "--label", "1", "--out", {str(samples)!r}]) == 2
"""
    run_python(code)
    metadata = read_json(run / "genkit.json")
    assert metadata["model"] == "pixel-gaussian" and metadata["training"]["example_unit"] == "images"
    history = read_json(run / "history.json")
    assert history[-1]["nll"] < history[0]["nll"]  # it learns
    import numpy as np

    images = np.load(samples)
    assert images.shape == (6, 28, 28, 1) and 0 <= images.min() and images.max() <= 1


@pytest.mark.slow
def test_the_plugin_installs_with_pip_and_every_command_takes_it(tmp_path, tiny_npz):
    source, target = tmp_path / "source", tmp_path / "site"
    shutil.copytree(PLUGIN, source)  # pip builds in the source folder: keep the repository clean
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--no-index",
         "--target", str(target), str(source)],
        check=True, capture_output=True, text=True, timeout=300,
    )
    environment = {"PYTHONPATH": os.pathsep.join([str(target), os.environ.get("PYTHONPATH", "")])}
    listing = run_genkit("list", env=environment).stdout
    assert re.search(r"^pixel-gaussian\s+pixel-gaussian\s+Every pixel", listing, re.M), listing

    run = tmp_path / "run"
    run_genkit("train", "pixel-gaussian", "--dataset", f"npz:{tiny_npz}", "--epochs", 2, "--out", run, "--quiet",
               env=environment)
    run_genkit("sample", run, "-n", 4, "--out", tmp_path / "grid.png", env=environment)
    run_genkit("export", run, "--format", "all", env=environment)
    for folder in ("savedmodel", "tflite", "onnx"):
        report = read_json(run / "exports" / folder / "export_report.json")
        assert report["signatures"]["serving_default"]["parity"]["passed"] is True, folder
    document = read_json(run / "exports" / "tflite" / "genkit.json")
    z = document["signatures"]["serving_default"]["inputs"]["z"]
    assert z["modality"] == "latent" and z["sampling"]["distribution"] == "standard_normal"
    assert document["signatures"]["serving_default"]["outputs"]["images"]["range"] == [0.0, 1.0]

    # Without the plugin on the path, the run folder cannot be read: one clear line, exit status 2.
    process = run_genkit("sample", run, "--out", tmp_path / "again.png", check=False)
    assert process.returncode == 2 and len(process.stderr.strip().splitlines()) == 1, process.stderr

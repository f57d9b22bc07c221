"""Reading a run folder that may be damaged or tampered with: one line, exit status 2, no code run from the file."""

from __future__ import annotations

import json
import shutil
import zipfile

import keras
import pytest

from conftest import run_cli


def _rewrite_config(model_file, change) -> None:
    with zipfile.ZipFile(model_file) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    files["config.json"] = json.dumps(change(json.loads(files["config.json"]))).encode()
    with zipfile.ZipFile(model_file, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)


def _assert_refused(run, fragment):
    result = run_cli("evaluate", run, check=False)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and f"{run / 'model.keras'}: cannot load the model (" in lines[0] and fragment in lines[0], lines


@pytest.mark.parametrize("damage", ["unknown class", "lambda layer", "config without its fields", "truncated"])
def test_a_damaged_or_tampered_model_file_is_one_line(tmp_path, trained_run, damage):
    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    model_file = run / "model.keras"
    if damage == "unknown class":
        _rewrite_config(model_file, lambda config: {**config, "class_name": "Evil", "registered_name": "genkit>Evil"})
        fragment = "Could not locate class 'Evil'"
    elif damage == "lambda layer":
        # A model whose layer carries Python code: Keras' safe mode refuses it, so nothing of it runs.
        keras.Sequential([keras.Input((2,)), keras.layers.Lambda(lambda x: x * 2)]).save(model_file)
        fragment = "Lambda"
    elif damage == "config without its fields":
        _rewrite_config(model_file, lambda config: {key: value for key, value in config.items() if key != "config"})
        fragment = "Error"
    else:
        model_file.write_bytes(model_file.read_bytes()[:1000])
        fragment = "ValueError"
    _assert_refused(run, fragment)

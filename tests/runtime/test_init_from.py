"""Warm starts: ``genkit train MODEL --init-from RUN`` starts a new run from another run's config, vocabulary and
weights, with its own optimizers at step 0; an incompatible run is refused in one line (exit 2)."""

import shutil

import numpy as np
import pytest

from conftest import read_json, run_cli
from genkit.registry import get_model_entry
from genkit.runtime.run_folder import RunFolder


def _child(parent, out, *extra, check=True):
    return run_cli("train", "dcgan", "--init-from", parent, "--out", out, "--epochs", 1, "--quiet", *extra, check=check)


def _weights(run_dir) -> list[np.ndarray]:
    return [np.asarray(weight) for weight in RunFolder(run_dir).load_model().weights]


def _assert_refused(result, *words):
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    for word in words:
        assert word in lines[0], lines[0]


def test_a_warm_start_begins_at_its_parents_weights_with_new_optimizers(trained_run, tmp_path):
    from genkit.commands import train as training

    out = tmp_path / "child"
    state = training.plan_run("dcgan", None, [], out, False, 0, {"init_from": str(trained_run)})
    training.choose_strategy(state)
    training.load_data(state)
    training.check_run_folder(state)
    with training.training_session(state):
        training.build_model(state)  # the steps before the run folder is opened and training begins
    parent = _weights(trained_run)
    assert len(state.model.weights) == len(parent)
    for weight, expected in zip(state.model.weights, parent):
        np.testing.assert_array_equal(np.asarray(weight), expected, err_msg=weight.path)
    assert int(state.model.generator_optimizer.iterations) == 0
    assert int(state.model.discriminator_optimizer.iterations) == 0
    assert read_json(trained_run / "genkit.json")["training"]["global_steps"] > 0  # the parent's were not
    assert state.model_config.to_dict() == read_json(trained_run / "genkit.json")["config"]
    assert not out.exists()  # nothing written before training


def test_a_warm_start_trains_its_own_steps_records_its_parent_and_samples_and_evaluates(trained_run, tmp_path):
    from genkit.commands.train import train

    out = tmp_path / "child"
    result = train("dcgan", out=out, init_from=str(trained_run), epochs=1, verbose=0)
    parent_metadata, metadata = read_json(trained_run / "genkit.json"), read_json(out / "genkit.json")
    assert metadata["parent"] == {"path": str(trained_run.resolve()), "model": "dcgan"}
    assert read_json(out / "config.json")["train"]["init_from"] == str(trained_run.resolve())
    assert metadata["config"] == parent_metadata["config"]
    for field in ("batch_size", "seed", "dataset", "num_sample_images"):  # the parent's train section, --epochs on top
        assert metadata["train"][field] == parent_metadata["train"][field]
    assert metadata["train"]["epochs"] == 1
    steps = 256 // parent_metadata["train"]["batch_size"]
    assert metadata["training"]["global_steps"] == metadata["training"]["steps_this_session"] == steps
    # Its own optimizers, counted from 0 (the parent's took 2 epochs of steps).
    assert int(result.model.generator_optimizer.iterations) == steps
    assert int(result.model.discriminator_optimizer.iterations) == steps
    assert any(not np.array_equal(child, parent) for child, parent in zip(_weights(out), _weights(trained_run)))
    assert "parent:" in run_cli("info", out).stdout

    run_cli("sample", out, "-n", 4, "--out", tmp_path / "samples.npy")
    assert np.load(tmp_path / "samples.npy").shape == (4, 28, 28, 1)
    run_cli("evaluate", out, "-n", 64)
    assert read_json(out / "metrics.json")["model"] == "dcgan"


def test_new_settings_apply_on_top_where_they_keep_the_shapes(trained_run, tmp_path):
    out = tmp_path / "child"
    _child(trained_run, out, "--set", "generator_learning_rate=0.001", "--seed", 7)
    metadata = read_json(out / "genkit.json")
    assert metadata["config"]["generator_learning_rate"] == 0.001 and metadata["train"]["seed"] == 7


def test_an_incompatible_run_is_refused_in_one_line_naming_what_differs(trained_run, tmp_path):
    out = tmp_path / "child"
    _assert_refused(
        run_cli("train", "vae", "--init-from", trained_run, "--out", out, check=False),
        "the run trained 'dcgan' (family gan), not 'vae' (family vae)",
    )
    _assert_refused(
        run_cli("train", "wgan-gp", "--init-from", trained_run, "--out", out, check=False),
        "the run trained 'dcgan' (family gan), not 'wgan-gp' (family gan)",
    )
    latent_dim = read_json(trained_run / "genkit.json")["config"]["latent_dim"]
    _assert_refused(
        _child(trained_run, out, "--set", f"latent_dim={latent_dim + 1}", check=False),
        "the weights differ in shape: 'project/kernel'", f"[{latent_dim}, ", f"[{latent_dim + 1}, ",
    )
    _assert_refused(_child(tmp_path / "nothing", out, check=False), "--init-from", "no such run folder")
    incomplete = tmp_path / "incomplete"
    shutil.copytree(trained_run, incomplete)
    (incomplete / "genkit.json").unlink()
    _assert_refused(_child(incomplete, out, check=False), f"--init-from {incomplete}: incomplete run")
    damaged = tmp_path / "damaged"
    shutil.copytree(trained_run, damaged)
    (damaged / "model.keras").write_bytes((damaged / "model.keras").read_bytes()[:100])
    _assert_refused(_child(damaged, out, check=False), f"--init-from {damaged / 'model.keras'}: cannot load the model")
    _assert_refused(
        run_cli("train", "dcgan", "--init-from", trained_run, "--resume", "--out", trained_run, check=False),
        "--init-from with --resume",
    )
    _assert_refused(
        run_cli("train", "dcgan", "--set", "train.init_from=3", "--out", out, check=False), "'init_from' must be a string",
    )
    assert not out.exists()  # a refused warm start leaves no run folder


def test_a_resumed_warm_start_killed_before_its_first_checkpoint_starts_from_its_parent_again(trained_run, tmp_path):
    out = tmp_path / "child"
    _child(trained_run, out)
    shutil.rmtree(out / "checkpoints")  # as if killed before its first checkpoint (and before genkit.json)
    (out / "genkit.json").unlink()
    resumed = run_cli("train", "dcgan", "--resume", "--out", out)
    assert f"starting from the weights of {trained_run.resolve()}" in resumed.stdout
    assert read_json(out / "genkit.json")["parent"]["path"] == str(trained_run.resolve())


@pytest.mark.slow
def test_a_warm_started_language_model_keeps_its_parents_vocabulary_on_new_text(tiny_text, tmp_path):
    model, parent, child = "char-lstm", tmp_path / "parent", tmp_path / "child"
    tiny = [flag for assignment in get_model_entry(model).tiny_overrides for flag in ("--set", assignment)]
    run_cli("train", model, "--dataset", f"text:{tiny_text}", "--epochs", 1, "--batch-size", 16, "--out", parent,
            "--quiet", *tiny)
    new_text = tmp_path / "new.txt"
    new_text.write_text("{curly} |pipes| ~tildes~ 0123456789 and more words\n" * 40, encoding="utf-8")
    run_cli("train", model, "--init-from", parent, "--dataset", f"text:{new_text}", "--out", child, "--quiet")
    vocabulary = read_json(child / "genkit.json")["config"]["vocabulary"]
    assert vocabulary == read_json(parent / "genkit.json")["config"]["vocabulary"]
    assert "{" not in vocabulary and "~" not in vocabulary  # not rebuilt from the new text
    assert read_json(child / "genkit.json")["data"]["name"] == f"text:{new_text}"
    assert run_cli("sample", child, "-n", 2, "--length", 20, "--temperature", 0).stdout.strip()
    run_cli("evaluate", child)
    assert read_json(child / "metrics.json")["bits_per_char"] > 0

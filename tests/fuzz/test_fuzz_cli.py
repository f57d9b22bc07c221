"""Fuzzing the command line: random flag lists for every command, and tampered run folders.

Each command line runs in this process (``conftest.run_cli``: ``genkit.cli.main``) and exits 0 or 2;
on 2 its stderr is one line (argparse's usage errors are one line here too: ``genkit.cli._Parser``),
never a traceback. ``train`` is always given a dataset that cannot load, so nothing trains: what it
reaches is argument, config and run-folder checking, and a rejected ``train`` leaves no run folder.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import event, example
from hypothesis import strategies as st

from conftest import run_cli
from fuzz_support import assert_user_error_output, hostile_text, json_values, slow_only, tiers, time_budget

COMMANDS = ("train", "sample", "evaluate", "export", "explain", "report", "info", "list")
# Datasets that cannot load (missing files, malformed specs): a fuzzed train stops before it trains.
UNLOADABLE_DATASETS = ["npz:/nonexistent/x.npz", "text:/nonexistent", "manifest:/nonexistent.jsonl", "folder:/nonexistent",
                       "nope", "npz:", ":", "tfds:", "coco:/nonexistent.json"]


@pytest.fixture(scope="module", autouse=True)
def _devices_initialised():
    """TensorFlow's devices made before the fuzzing: a fuzzed ``--devices N`` is then a UserError, not N logical
    devices for the rest of the session."""
    import tensorflow as tf

    tf.config.list_logical_devices()


def _flags() -> dict[str, list[tuple[str, int | None]]]:
    """``{command: [(option string, nargs)]}`` of the real parser (the family options of sample/evaluate too)."""
    import argparse

    from genkit.cli import build_parser

    parser = build_parser(with_family_options=True)
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    flags = {}
    for name, command in commands.items():
        flags[name] = [
            (option, 0 if action.nargs == 0 else 1) for action in command._actions for option in action.option_strings
            if option not in ("-h", "--help")
        ]
    return flags


_FLAGS: dict = {}


def flags_of(command: str):
    if not _FLAGS:
        _FLAGS.update(_flags())
    return _FLAGS.get(command, [])


flag_values = st.one_of(
    hostile_text,
    st.integers(-(2**70), 2**70).map(str),
    st.sampled_from(["0", "1", "2", "-1", "64", "257", str(2**32), str(2**63), "1e9", "0.5", "nan", "inf", "-0",
                     "out.png", "out.npy", "out.json", "out.txt", "out.gif", "/nonexistent/out.png", "x.npy", "none",
                     "tflite", "onnx", "all", "int8", "float16", "mirrored", "default", "auto", "multiworker",
                     "mixed_float16", "slurm", "tf_config", "saliency", "gradcam", "latent_dim=4", "train.epochs=0",
                     "train.seed=-1", "model=vae", "image_shape=[8,8,1]"]),
)


@st.composite
def tokens(draw, command: str):
    """Flags of ``command`` with values (or without: a missing value), unknown flags, stray words."""
    argv = []
    clean = draw(st.booleans())  # real flags with values only: the command gets past argparse more often
    for _ in range(draw(st.integers(0, 5))):
        kind = 0 if clean else draw(st.integers(0, 9))
        if kind <= 6 and flags_of(command):
            option, nargs = draw(st.sampled_from(flags_of(command)))
            argv.append(option)
            if nargs and (clean or draw(st.integers(0, 9))):
                argv.append(draw(flag_values))
        elif kind == 7:
            argv.append(draw(st.sampled_from(["--nope", "-x", "--", "-", "--set", "--epochs=3", "--seed=-1", "-n0", "--help"])))
        else:
            argv.append(draw(flag_values))
    return argv


# -- run folders -------------------------------------------------------------------------------------------------

SECTIONS = ["config", "train", "data", "files", "serving", "training", "metrics", "versions", "family", "description"]


@st.composite
def metadata_documents(draw):
    """genkit.json's text: junk, or a genkit-run document with a real or junk model and junk sections."""
    form = draw(st.sampled_from(["bytes", "json", "run"]))
    if form == "bytes":
        return draw(st.binary(max_size=60))
    if form == "json":
        return json.dumps(draw(json_values)).encode()
    document = {"format": draw(st.sampled_from(["genkit-run", "genkit-run", "genkit-export", 1, None]))}
    document["model"] = draw(st.one_of(st.sampled_from(["dcgan", "cgan", "vae", "char-lstm", "fusion-classifier", "captioner",
                                                        "nope"]), json_values))
    for section in draw(st.lists(st.sampled_from(SECTIONS), max_size=5, unique=True)):
        document[section] = draw(st.one_of(json_values, st.dictionaries(st.sampled_from(["samples", "model", "name", "path",
                                                                                          "loss", "epochs_completed"]),
                                                                        json_values, max_size=3)))
    if draw(st.booleans()):
        document.pop("model")
    return json.dumps(document).encode()


@st.composite
def run_folders(draw):
    """What ``RUN_DIR`` is: missing, a file, empty, or a folder of tampered run files."""
    kind = draw(st.sampled_from(["missing", "file", "empty", "tampered", "tampered", "tampered"]))
    files = {}
    if kind == "tampered":
        if draw(st.integers(0, 3)):
            files["genkit.json"] = draw(metadata_documents())
        if draw(st.booleans()):
            files["config.json"] = draw(metadata_documents())
        if draw(st.booleans()):
            zips = st.sampled_from([b"PK\x03\x04", b"PK\x05\x06" + b"\0" * 18])
            files["model.keras"] = draw(st.one_of(st.binary(max_size=40), zips))
        if draw(st.integers(0, 3)) == 0:
            files["history.json"] = json.dumps(draw(json_values)).encode()
        if draw(st.integers(0, 3)) == 0:
            files["metrics.json"] = json.dumps(draw(json_values)).encode()
        if draw(st.integers(0, 4)) == 0:
            files["samples/epoch_001.png"] = draw(st.binary(max_size=20))
        if draw(st.integers(0, 4)) == 0:
            files["exports/tflite/export_report.json"] = json.dumps(draw(json_values)).encode()
        if draw(st.integers(0, 4)) == 0:
            files["explanations/explanations.json"] = json.dumps(draw(json_values)).encode()
    return kind, files


def make_run_folder(root: Path, folder) -> Path:
    kind, files = folder
    path = root / "run"
    if kind == "file":
        path.write_bytes(b"not a folder")
    elif kind in ("empty", "tampered"):
        path.mkdir()
    for name, data in files.items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_bytes(data)
    return path


def snapshot(root: Path) -> dict:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


# -- the property ------------------------------------------------------------------------------------------------


@st.composite
def command_lines(draw):
    """(argv with RUN_DIR as "{run}", run folder, the out folder of train): a command and its fuzzed flags."""
    command = draw(st.sampled_from(COMMANDS + ("",)))
    folder = draw(run_folders())
    if command == "train":
        model = draw(st.one_of(st.sampled_from(["dcgan", "cgan", "vae", "char-lstm", "word-lstm", "fusion-classifier",
                                                "captioner", "text2image-gan", "nope"]), hostile_text))
        out = draw(st.sampled_from(["{fresh}", "{run}"]))
        argv = ["train", model, *draw(tokens("train")), "--dataset", draw(st.sampled_from(UNLOADABLE_DATASETS)), "--out", out]
    elif command in ("sample", "evaluate", "export", "explain", "info", "report"):
        before = draw(tokens(command))
        argv = [command, *before, "{run}", *draw(tokens(command))]
        if command == "report" and draw(st.booleans()):
            argv.append("{run}")
    elif command == "list":
        argv = ["list", *draw(tokens("list"))]
    else:
        argv = draw(st.lists(flag_values, max_size=3))
    return argv, folder


@example(case=(["train", "dcgan", "--devices", "100000", "--dataset", "nope", "--out", "{fresh}"],
               ("missing", {})))  # made 100,000 logical devices: a hang
@example(case=(["train", "dcgan", "--set", "train.devices=100000", "--dataset", "nope", "--out", "{fresh}"],
               ("missing", {})))
@example(case=(["train", "dcgan", "--set", "a\nb=1", "--dataset", "nope", "--out", "{fresh}"], ("missing", {})))
@example(case=(["train", "dcgan", "--nope\u2028", "--dataset", "nope", "--out", "{fresh}"], ("missing", {})))
@example(case=(["train", "dcgan", "--resume", "--dataset", "nope", "--out", "{run}"],
               ("tampered", {"config.json": b'{"model": "dcgan"}'})))
@example(case=(["train", "dcgan", "--resume", "--dataset", "nope", "--out", "{run}"],
               ("tampered", {"config.json": b'{"model": "dcgan", "config": [], "train": 1}'})))
@example(case=(["sample", "{run}", "--out", "x.png"],
               ("tampered", {"genkit.json": b'{"format": "genkit-run", "model": ["dcgan"]}'})))
@example(case=(["info", "{run}"],
               ("tampered", {"genkit.json": b'{"format": "genkit-run", "model": "dcgan", "data": [1]}'})))
@example(case=(["info", "{run}"],
               ("tampered", {"genkit.json": b'{"format": "genkit-run", "model": "dcgan", "metrics": {"a": "b"}}'})))
@example(case=(["report", "{run}"],
               ("tampered", {"genkit.json": b'{"format": "genkit-run", "model": "dcgan", "files": {"samples": 3}}'})))
@example(case=(["report", "{run}"], ("tampered", {"config.json": b'{"model": "dcgan", "config": 1}'})))
@example(case=(["info", "{run}"], ("tampered", {"genkit.json": b"[" * 100000})))  # RecursionError
@example(case=(["report", "{run}"], ("tampered", {"config.json": b'{"model": ' + b"7" * 5000 + b"}"})))  # int() digit limit
def check_command_line(tmp_path, monkeypatch, case):
    argv, folder = case
    root = Path(tempfile.mkdtemp(dir=tmp_path))
    run = make_run_folder(root, folder)
    fresh = root / "fresh-run"
    argv = [str(run) if a == "{run}" else str(fresh) if a == "{fresh}" else a for a in argv]
    monkeypatch.chdir(root)  # train's default --out (saved_models/) and report's ./report.html stay in here
    before = snapshot(root)
    with time_budget(60):
        result = run_cli(*argv, check=False)
    assert_user_error_output(result)
    usage = "(see 'genkit" in result.stderr
    event(f"{(argv or ['-'])[0][:10]}: exit {result.returncode}{' (usage error)' if usage else ''}")
    if argv[:1] == ["train"]:
        assert result.returncode == 2 or result.stdout.startswith("usage:"), "a train whose dataset cannot load succeeded"
        assert not fresh.exists(), f"a rejected train left a run folder: {sorted(p.name for p in fresh.iterdir())}"
    if result.returncode == 2:
        assert snapshot(root) == before, "a rejected command changed files"
        assert not (root / "saved_models").exists()


test_command_lines, test_command_lines_many = tiers(80, 600, case=command_lines())(check_command_line)


# -- flags against a real run (slow: a model is trained once, and loaded for each example) --------------------------------


@st.composite
def run_command_lines(draw):
    """``sample``, ``info`` and ``explain --list-methods`` on a real run (commands that write nothing into it)."""
    command = draw(st.sampled_from(["sample", "sample", "info", "explain"]))
    argv = [command, "{run}", *draw(tokens(command))]
    if command == "explain":
        argv.append("--list-methods")
    if command == "sample" and draw(st.integers(0, 3)):
        argv += ["--out", draw(st.sampled_from(["x.png", "x.npy", "x.gif", "sub/x.png", "x.PNG"]))]
    return argv


@example(argv=["sample", "{run}", "--seed", "-1", "--out", "x.npy"])  # numpy: ValueError
@example(argv=["sample", "{run}", "--seed", str(2**64), "--out", "x.png"])
@example(argv=["sample", "{run}", "--label", "3", "--out", "x.png"])
def check_real_run(trained_run, tmp_path, monkeypatch, argv):
    root = Path(tempfile.mkdtemp(dir=tmp_path))
    monkeypatch.chdir(root)  # a relative --out lands in here
    before = snapshot(trained_run)
    with time_budget(120):
        result = run_cli(*[str(trained_run) if a == "{run}" else a for a in argv], check=False)
    event(f"{argv[0]}: exit {result.returncode}{' (usage error)' if '(see ' in result.stderr else ''}")
    assert_user_error_output(result)
    assert snapshot(trained_run) == before, "the run folder changed"


test_flags_on_a_real_run = slow_only(40, argv=run_command_lines())(check_real_run)  # training the run: too slow for the fast tier


@pytest.mark.parametrize("history", [b"[" * 100000, b"[" + b"7" * 5000 + b"]"])
def test_report_on_a_deeply_nested_history(tmp_path, monkeypatch, history):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"model": "dcgan", "config": {}, "train": {}}))
    (run / "history.json").write_bytes(history)
    monkeypatch.chdir(tmp_path)
    from genkit.errors import UserError
    from genkit.commands.report import report

    with pytest.raises(UserError, match="history.json: corrupt metrics history"):
        report([run])
    assert not (run / "report.html").exists()

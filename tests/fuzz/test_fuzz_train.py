"""Fuzzing ``genkit train`` on fuzzed data: odd image sets (.npz) and texts, with tiny models and batch sizes.

A run either trains (a complete run folder, with genkit.json), stops on a diverged loss (exit 1, one
line), or is rejected in one line (exit 2) leaving no run folder behind. Real training takes seconds,
so few examples run in the fast tier.
"""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

import numpy as np
from hypothesis import event, example
from hypothesis import strategies as st

from conftest import run_cli
from fuzz_support import assert_one_line, tiers, time_budget

FLAGS = ["--epochs", "1", "--quiet", "--time-limit", "0.05", "--set", "train.num_sample_images=4",
         "--set", "train.histograms=false"]


def _tiny(model: str) -> list[str]:
    from genkit.registry import get_model_entry

    return [flag for assignment in get_model_entry(model).tiny_overrides for flag in ("--set", assignment)]


@st.composite
def image_sets(draw) -> bytes:
    """An .npz of images: any count, size, channels and dtype, labels that may be off, a test split that may not fit."""
    count = draw(st.integers(1, 40))
    shape = [count, draw(st.sampled_from([8, 4, 4, 1, 2, 3, 12])), draw(st.sampled_from([4, 8, 1, 5]))]
    channels = draw(st.sampled_from([None, 1, 3, 4, 2]))
    if channels is not None:
        shape.append(channels)
    kind = draw(st.sampled_from(["uint8", "uint8", "unit floats", "bad floats", "int64", "bool"]))
    rng = np.random.default_rng(draw(st.integers(0, 9)))
    if kind == "uint8":
        images = rng.integers(0, 256, shape, dtype=np.uint8)
    elif kind == "unit floats":
        images = rng.random(shape, dtype=np.float32)
    elif kind == "bad floats":
        images = rng.random(shape).astype(np.float32) * draw(st.sampled_from([2.0, -1.0, np.nan, np.inf]))
    elif kind == "int64":
        images = rng.integers(0, draw(st.sampled_from([2, 256, 300])), shape)
    else:
        images = rng.random(shape) > 0.5
    content = {"x_train": images}
    labels = draw(st.sampled_from(["none", "classes", "classes", "one class", "negative", "huge", "short", "floats"]))
    if labels == "classes":
        content["y_train"] = np.arange(count) % 3
    elif labels == "one class":
        content["y_train"] = np.zeros(count, np.int64)
    elif labels == "negative":
        content["y_train"] = np.arange(count) - 1
    elif labels == "huge":
        content["y_train"] = np.full(count, draw(st.sampled_from([2**31 - 1, 2**40, 10**6])), np.int64)
    elif labels == "short":
        content["y_train"] = np.zeros(max(count - 1, 0), np.int64)
    elif labels == "floats":
        content["y_train"] = np.zeros(count, np.float32)
    if draw(st.integers(0, 3)) == 0:
        content["label_names"] = np.array(["a", "b"][: draw(st.integers(0, 2))])
    if draw(st.booleans()):
        content["x_test"] = images[: draw(st.integers(1, count))] if draw(st.booleans()) else images[:, :1]
    return _npz(**content)


def _train(tmp_path, model, dataset_file, name, batch_size):
    root = Path(tempfile.mkdtemp(dir=tmp_path))
    (root / name).write_bytes(dataset_file)
    out = root / "run"
    spec = f"npz:{root / name}" if name.endswith(".npz") else f"text:{root / name}"
    with time_budget(240):
        result = run_cli("train", model, "--dataset", spec, "--batch-size", batch_size, "--out", out, *FLAGS, *_tiny(model),
                         check=False)
    event(f"{model}: exit {result.returncode}")
    event(result.stderr.replace(str(root), "").split(": error: ")[-1][:90])
    assert result.returncode in (0, 1, 2), (result.returncode, result.stderr[-3000:])
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    if result.returncode:
        assert_one_line(result.stderr, "error output")
    if result.returncode == 2:
        assert not out.exists(), f"a rejected train left a run folder: {sorted(p.name for p in out.iterdir())}"
    if result.returncode == 0:
        assert (out / "genkit.json").is_file(), "a train that exited 0 left no genkit.json"


def _npz(**arrays) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


@example(model="cgan", data=_npz(x_train=np.zeros((8, 4, 4), np.uint8), y_train=np.full(8, 2**31 - 1)), batch_size=4)  # OOM
@example(model="cgan", data=_npz(x_train=np.zeros((8, 4, 4), np.uint8), y_train=np.full(8, 2**32 + 1)), batch_size=4)  # wrapped
@example(model="cgan", data=_npz(x_train=np.zeros((8, 4, 4), np.uint8), y_train=np.arange(8) % 4,
                                 label_names=np.array(["a", "b"])), batch_size=4)  # ids without names
def check_image_training(tmp_path, model, data, batch_size):
    _train(tmp_path, model, data, "images.npz", batch_size)


test_train_on_fuzzed_images, test_train_on_fuzzed_images_many = tiers(
    2, 25, model=st.sampled_from(["dcgan", "cgan", "vae", "cvae", "ae"]), data=image_sets(),
    batch_size=st.sampled_from([1, 2, 4, 8, 64]),
)(check_image_training)


text_corpora = st.one_of(
    st.text(min_size=0, max_size=400).map(lambda text: text.encode("utf-8", "surrogatepass")),
    st.binary(max_size=300),
    st.sampled_from([b"a" * 300, b"ab " * 100, "\u2028 é 日本 \x00".encode() * 30, b"\n" * 200]),
)


def check_text_training(tmp_path, model, data, batch_size):
    _train(tmp_path, model, data, "corpus.txt", batch_size)


test_train_on_fuzzed_text, test_train_on_fuzzed_text_many = tiers(
    2, 15, model=st.sampled_from(["char-lstm", "word-lstm"]), data=text_corpora, batch_size=st.sampled_from([1, 4, 64]),
)(check_text_training)

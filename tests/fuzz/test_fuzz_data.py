"""Fuzzing the data loaders: random and damaged bytes as .npz, IDX, text, manifests, images and WAV files.

Each input goes through the loader its ``--dataset`` spec uses (``genkit.data.dataset_registry.load_dataset``)
and either loads or is a one-line :class:`UserError`: never another exception, never a hang.
"""

from __future__ import annotations

import gzip
import io
import json
import struct
import tempfile
import zipfile
from pathlib import Path

import numpy as np
from hypothesis import example
from hypothesis import strategies as st

from fuzz_support import assert_one_line, hostile_text, json_values, tiers, time_budget
from genkit.data.dataset_registry import load_dataset
from genkit.data.wav import read_wav, wav_bytes
from genkit.errors import UserError


def _folder(tmp_path) -> Path:
    return Path(tempfile.mkdtemp(dir=tmp_path))


def loads_or_fails_in_one_line(load, seconds: float = 20, quoted: str = ""):
    """Runs ``load()``: a value, or a one-line UserError (returned as None).

    ``quoted``: what the user typed (a spec, a path), which errors quote as it is; when it holds a line break
    itself only the command line's output is one line (genkit.cli.one_line escapes it there).
    """
    with time_budget(seconds):
        try:
            return load()
        except UserError as error:
            if len(f"x{quoted}x".splitlines()) == 1:
                assert_one_line(str(error))
            return None


@st.composite
def mutated(draw, data: bytes) -> bytes:
    """``data`` truncated, with bytes flipped, inserted or deleted, or left as it is."""
    data = bytearray(data)
    for _ in range(draw(st.integers(0, 4))):
        action = draw(st.sampled_from(["flip", "insert", "delete", "truncate"]))
        position = draw(st.integers(0, max(len(data) - 1, 0)))
        if action == "flip" and data:
            data[position] = draw(st.integers(0, 255))
        elif action == "insert":
            data[position:position] = draw(st.binary(min_size=1, max_size=8))
        elif action == "delete" and data:
            del data[position : position + draw(st.integers(1, 8))]
        elif action == "truncate":
            del data[position:]
    return bytes(data)


# -- .npz ---------------------------------------------------------------------------------------------------------

DTYPES = ["uint8", "int8", "int16", "int32", "int64", "uint64", "float16", "float32", "float64", "bool", "complex64", "U3", "S2"]


@st.composite
def arrays(draw):
    dtype = np.dtype(draw(st.sampled_from(DTYPES)))
    shape = tuple(draw(st.lists(st.integers(0, 6), max_size=5)))
    count = int(np.prod(shape))
    if dtype.kind == "U":
        values = np.array(draw(st.lists(st.text(max_size=3), min_size=count, max_size=count)) or [""], dtype)[:count]
    elif dtype.kind == "S":
        values = np.array(draw(st.lists(st.binary(max_size=2), min_size=count, max_size=count)) or [b""], dtype)[:count]
    elif dtype.kind == "b":
        values = np.array(draw(st.lists(st.booleans(), min_size=count, max_size=count)), dtype)
    else:
        raw = draw(st.binary(min_size=count * dtype.itemsize, max_size=count * dtype.itemsize))
        values = np.frombuffer(raw, dtype)
    return values.reshape(shape)


NPZ_KEYS = ["x_train", "y_train", "x_test", "y_test", "label_names", "images", "labels", "other"]


@st.composite
def npz_files(draw) -> bytes:
    form = draw(st.sampled_from(["arrays", "images", "mutated", "bytes", "npy", "pickle"]))
    buffer = io.BytesIO()
    if form == "bytes":
        return draw(st.binary(max_size=300))
    if form == "npy":
        np.save(buffer, draw(arrays()))
        return buffer.getvalue()
    if form == "pickle":
        np.savez(buffer, x_train=np.array([{"a": 1}, None], dtype=object))
        return buffer.getvalue()
    if form == "images":  # a plausible image set with some fields off
        count = draw(st.integers(1, 12))
        content = {"x_train": np.full((count, draw(st.integers(1, 6)), draw(st.integers(1, 6))), 7, np.uint8)}
        for key in draw(st.lists(st.sampled_from(NPZ_KEYS), max_size=4, unique=True)):
            content[key] = draw(arrays())
    else:
        content = {key: draw(arrays()) for key in draw(st.lists(st.sampled_from(NPZ_KEYS), max_size=5, unique=True))}
    (np.savez_compressed if draw(st.booleans()) else np.savez)(buffer, **content)
    return draw(mutated(buffer.getvalue())) if form == "mutated" else buffer.getvalue()


def _npz_declaring(shape) -> bytes:
    """An .npz whose x_train header declares ``shape`` but holds 8 bytes (the zip itself intact)."""
    header = {"descr": "|u1", "fortran_order": False, "shape": tuple(shape)}
    npy = io.BytesIO()
    np.lib.format.write_array_header_1_0(npy, header)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("x_train.npy", npy.getvalue() + b"\0" * 8)
    return buffer.getvalue()


@example(data=_npz_declaring((2**40,)))  # MemoryError: numpy allocates the declared array before reading it
@example(data=_npz_declaring((2**31, 2**31, 2**2)))
@example(data=_npz_declaring((-1, 2)))
def check_npz(tmp_path, data):
    path = _folder(tmp_path) / "data.npz"
    path.write_bytes(data)
    for needs in (("images",), ("images", "labels")):
        loads_or_fails_in_one_line(lambda: load_dataset(f"npz:{path}", needs, "a model"))


test_npz_files, test_npz_files_many = tiers(50, 400, data=npz_files())(check_npz)


# -- IDX (fashion_mnist --data-dir) ---------------------------------------------------------------------------------

IDX_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")


def _idx(array: np.ndarray) -> bytes:
    array = np.ascontiguousarray(array, np.uint8)
    return struct.pack(">I", 0x800 | array.ndim) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()


@st.composite
def idx_bytes(draw) -> bytes:
    form = draw(st.sampled_from(["valid", "header", "mutated", "bytes"]))
    if form == "bytes":
        data = draw(st.binary(max_size=64))
    elif form == "header":  # a header declaring any shape, then some bytes
        dimensions = draw(st.integers(0, 4))
        magic = draw(st.sampled_from([0x801, 0x803, 0x800 | dimensions, draw(st.integers(0, 2**32 - 1))]))
        shape = draw(st.lists(st.integers(0, 2**32 - 1), min_size=dimensions, max_size=dimensions))
        data = struct.pack(">I", magic) + struct.pack(f">{dimensions}I", *shape) + draw(st.binary(max_size=32))
    else:
        images = draw(st.sampled_from([(3, 2, 2), (3,), (0, 4, 4), (2, 1)]))
        data = _idx(np.arange(int(np.prod(images)), dtype=np.uint8).reshape(images))
        if form == "mutated":
            data = draw(mutated(data))
    return gzip.compress(data, mtime=0) if draw(st.booleans()) else data


def _fashion_mnist_files(folder: Path, replaced: int, data: bytes) -> None:
    valid = [_idx(np.zeros((3, 2, 2))), _idx(np.zeros(3)), _idx(np.zeros((2, 2, 2))), _idx(np.zeros(2))]
    for index, name in enumerate(IDX_FILES):
        (folder / name).write_bytes(data if index == replaced else gzip.compress(valid[index], mtime=0))


@example(replaced=0, data=struct.pack(">4I", 0x803, 2**31, 2**31, 4))  # 2**64 bytes declared: np.prod wraps to 0
@example(replaced=0, data=struct.pack(">4I", 0x803, 2**32 - 1, 2**32 - 1, 2**32 - 1))
@example(replaced=1, data=gzip.compress(b"\0\0\x08\x01\0\0\0\x03abc")[:-3])  # gzip cut short
def check_idx(tmp_path, replaced, data):
    folder = _folder(tmp_path)
    _fashion_mnist_files(folder, replaced, data)
    loads_or_fails_in_one_line(lambda: load_dataset("fashion_mnist", ("images", "labels"), "a model", data_dir=folder))


test_idx_files, test_idx_files_many = tiers(40, 300, replaced=st.integers(0, 3), data=idx_bytes())(check_idx)


# -- text corpora ---------------------------------------------------------------------------------------------------

text_bytes = st.one_of(
    st.binary(max_size=200), st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")),
    st.sampled_from(["", " ", "\n\n", "\ufeff", "a", "\x00" * 5]).map(str.encode),
    st.text(max_size=50).map(lambda t: t.encode("utf-16")),
)


@example(files=[("a.txt", b"\xff")], fraction=0.1, errors="strict", folder=False)
@example(files=[("a.txt", b"abc")], fraction=1.0, errors="replace", folder=False)
def check_text(tmp_path, files, fraction, errors, folder):
    root = _folder(tmp_path)
    for name, data in files:
        (root / name).write_bytes(data)
    spec = f"text:{root}" if folder or not files else f"text:{root / files[0][0]}"
    options = dict(validation_fraction=fraction, encoding_errors=errors)
    loads_or_fails_in_one_line(lambda: load_dataset(spec, ("corpus",), "a text model", **options))


test_text_files, test_text_files_many = tiers(
    40, 300,
    files=st.lists(st.tuples(st.sampled_from(["a.txt", "b.txt", "c.md", "d.TXT"]), text_bytes), max_size=3, unique_by=lambda f: f[0]),
    fraction=st.one_of(st.sampled_from([0.0, 0.1, 0.5, 0.999, 1.0]), st.floats(0, 1)),
    errors=st.sampled_from(["strict", "replace", "ignore", ""]),
    folder=st.booleans(),
)(check_text)


# -- images and WAV files ---------------------------------------------------------------------------------------------


def _png(mode="RGB", size=(4, 3)) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new(mode, size, 100).save(buffer, format="PNG")
    return buffer.getvalue()


def _jpeg() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (10, 200, 30)).save(buffer, format="JPEG")
    return buffer.getvalue()


def _valid_media():
    return {
        "png": _png(), "png-grey": _png("L"), "png-16": _png("I;16"), "png-rgba": _png("RGBA", (2, 5)), "jpeg": _jpeg(),
        "wav": wav_bytes(np.linspace(-1, 1, 400), 8000), "wav-24": wav_bytes(np.zeros((30, 2)), 16000, "int24"),
        "wav-float": wav_bytes(np.zeros(50), 44100, "float64"),
    }


media_bytes = st.one_of(
    st.sampled_from(sorted(_valid_media())).map(lambda kind: _valid_media()[kind]),
    st.sampled_from(sorted(_valid_media())).flatmap(lambda kind: mutated(_valid_media()[kind])),
    st.binary(max_size=100),
    st.sampled_from([b"RIFF\x04\x00\x00\x00WAVE", b"RIFF\xff\xff\xff\xffWAVEfmt ", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff"]),
)


def _wav_with_chunk(chunk_id: bytes) -> bytes:
    return b"RIFF\x20\x00\x00\x00WAVE" + chunk_id + struct.pack("<I", 1000) + b"\0" * 4


@example(data=_wav_with_chunk(b"\nfm\r"))  # a chunk name with line breaks in the error message
@example(data=_wav_with_chunk(b"da\x85a"))
def check_wav(data):
    loads_or_fails_in_one_line(lambda: read_wav(data, "x.wav"))


test_wav_bytes, test_wav_bytes_many = tiers(60, 500, data=media_bytes)(check_wav)


@example(files=[("a/1.png", _png()), ("b/2.png", _png("L", (3, 4)))], image_size=None, channels=None)
def check_image_folder(tmp_path, files, image_size, channels):
    root = _folder(tmp_path)
    for name, data in files:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    options = dict(image_size=image_size, channels=channels)
    loads_or_fails_in_one_line(lambda: load_dataset(f"folder:{root}", ("images",), "a model", **options))


test_image_folders, test_image_folders_many = tiers(
    30, 300,
    files=st.lists(
        st.tuples(st.sampled_from(["1.png", "2.jpg", "3.jpeg", "4.gif", "a/5.png", "b/6.PNG", ".hidden.png"]), media_bytes),
        max_size=4, unique_by=lambda f: f[0],
    ),
    image_size=st.one_of(st.none(), st.tuples(st.integers(1, 9), st.integers(1, 9))),
    channels=st.sampled_from([None, 1, 3]),
)(check_image_folder)


def check_image_bytes(tmp_path, data):
    from genkit.data.image_files import read_image_bytes

    path = _folder(tmp_path) / "x.png"
    path.write_bytes(data)
    loads_or_fails_in_one_line(lambda: read_image_bytes([path], "--image"))


test_image_bytes, test_image_bytes_many = tiers(40, 300, data=media_bytes)(check_image_bytes)


# -- manifests --------------------------------------------------------------------------------------------------------

COLUMNS = ["image", "text", "audio", "label", "split", "photo", "other"]
cell_values = st.one_of(
    st.sampled_from(["m0", "m1", "m2", "missing.png", "/nonexistent/x.wav", "", " ", "~nosuchuser/x.png", "train", "test",
                     "validation", "cat", "dog"]),
    json_values, st.lists(st.text(max_size=5), max_size=3), hostile_text,
)


@st.composite
def manifests(draw):
    """(manifest name, its bytes, sidecar bytes or None, {media file name: bytes}, loader options)."""
    media = {f"m{index}": draw(media_bytes) for index in range(3)}
    columns = draw(st.lists(st.sampled_from(COLUMNS), min_size=1, max_size=4, unique=True))
    rows = draw(st.lists(st.dictionaries(st.sampled_from(columns), cell_values, min_size=len(columns) - 1), min_size=0, max_size=8))
    suffix = draw(st.sampled_from([".jsonl", ".csv", ".json", ".JSONL"]))
    if suffix.lower() == ".csv":
        import csv

        text = io.StringIO()
        writer = csv.writer(text)
        writer.writerow(columns)
        for row in rows:
            cells = [row.get(column, "") for column in columns]
            writer.writerow([cell if isinstance(cell, str) else json.dumps(cell) for cell in cells])
        data = text.getvalue().encode()
    else:
        data = "".join(json.dumps(row) + "\n" for row in rows).encode()
    if draw(st.booleans()):
        data = draw(mutated(data))
    sidecar = None
    if draw(st.integers(0, 3)) == 0:
        types = st.sampled_from(["image", "text", "audio", "label", "split", "x"])
        sidecar = json.dumps(draw(st.one_of(st.dictionaries(st.sampled_from(COLUMNS), types), json_values))).encode()
    options = draw(st.fixed_dictionaries({}, optional={
        "image_size": st.one_of(st.integers(-1, 9), st.tuples(st.integers(0, 9), st.integers(1, 9)), st.just("8")),
        "sample_rate": st.sampled_from([8000, 16000, 7999, 48001, 8000.0, True]),
        "audio_seconds": st.sampled_from([0.01, 0.5, 0, -1, "1"]),
        "seed": st.integers(0, 10),
    }))
    return f"pairs{suffix}", data, sidecar, media, options


def _write_manifest(tmp_path, name, data, sidecar, media) -> Path:
    root = _folder(tmp_path)
    for file, content in media.items():
        (root / file).write_bytes(content)
    path = root / name
    path.write_bytes(data)
    if sidecar is not None:
        Path(f"{path}.types.json").write_bytes(sidecar)
    return path


@example(case=("pairs.jsonl", b'{"image": "~nosuchuser/x.png"}\n', None, {}, {}))  # expanduser: RuntimeError
@example(case=("pairs.jsonl", b'{"label": "a\\nb", "other": 1}\n', None, {}, {}))  # a column with no type
@example(case=("pairs.jsonl", b'{"a\\u2028b": 1}\n', None, {}, {}))
@example(case=("pairs.jsonl", b'{"image": "0\\r0"}\n', b"{}", {}, {}))  # found: a path with a line break in the message
@example(case=("pairs.jsonl", b'{"audio": "m0"}\n', None, {"m0": _wav_with_chunk(b"\r\n\r\n")}, {}))
@example(case=("pairs.jsonl", b"[" * 100000 + b"\n", None, {}, {}))  # RecursionError in json.loads
@example(case=("pairs.jsonl", b'{"label": ' + b"1" * 5000 + b"}\n", None, {}, {}))  # int() digit limit
@example(case=("pairs.csv", b"image,label\n\x00,a\n", None, {}, {}))
@example(case=("pairs.jsonl", b'{"text": "a", "label": "x"}\n', b'{"text": ["image"]}', {}, {}))  # unhashable type
def check_manifest(tmp_path, case):
    name, data, sidecar, media, options = case
    path = _write_manifest(tmp_path, name, data, sidecar, media)
    loads_or_fails_in_one_line(lambda: load_dataset(f"manifest:{path}", (), "a model", **options))


test_manifests, test_manifests_many = tiers(60, 500, case=manifests())(check_manifest)


@example(spec="text:~nosuchuser/a.txt")
@example(spec="npz:~nosuchuser/a.npz")
@example(spec="folder:~nosuchuser")
@example(spec="manifest:~nosuchuser/a.jsonl")
@example(spec="~nosuchuser.npz")
def check_dataset_spec(spec):
    for needs in (("images",), ("corpus",), ("image", "label"), ()):
        loads_or_fails_in_one_line(lambda: load_dataset(spec, needs, "a model", data_dir="/nonexistent"), quoted=spec)


dataset_specs = st.one_of(
    st.tuples(st.sampled_from(["npz", "text", "manifest", "folder", "coco", "tfds", "embedded", "nope", ""]),
              st.sampled_from([":", ""]), st.one_of(hostile_text, st.sampled_from(["/nonexistent/x", "/dev/null", "/", "."])))
    .map("".join),
    hostile_text,
)
test_dataset_specs, test_dataset_specs_many = tiers(40, 300, spec=dataset_specs)(check_dataset_spec)

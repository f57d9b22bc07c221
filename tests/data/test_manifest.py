"""manifest:PATH datasets: typed columns from JSONL or CSV, splits, and a one-line error for every bad row."""

import json

import numpy as np
import pytest
from PIL import Image

from genkit.data.manifest import MANIFEST_DATASET, load_manifest, sidecar_path
from genkit.data.wav import write_wav
from genkit.errors import UserError


def _png(path, size=(8, 8), mode="RGB", value=100):
    path.parent.mkdir(parents=True, exist_ok=True)
    color = value if mode == "L" else (value, 255 - value, 0)
    Image.new(mode, size, color).save(path)
    return path


def _wav(path, seconds=0.25, rate=22050, channels=1, sample_format="int16"):
    path.parent.mkdir(parents=True, exist_ok=True)
    time = np.arange(int(seconds * rate)) / rate
    waveform = np.stack([0.5 * np.sin(2 * np.pi * 440 * time)] * channels, axis=1)
    write_wav(path, waveform, rate, sample_format)
    return path


def _jsonl(path, rows, types=None):
    path.write_text("".join(line if isinstance(line, str) else json.dumps(line) + "\n" for line in rows))
    if types is not None:
        sidecar_path(path).write_text(json.dumps(types))
    return path


def test_jsonl_with_two_image_columns_texts_audio_and_a_declared_label(tmp_path):
    rows = []
    for index in range(10):
        animal = "dog" if index % 2 else "cat"
        rows.append({
            "photo": str(_png(tmp_path / "photos" / f"{index}.png", value=index * 20).relative_to(tmp_path)),
            "sketch": f"sketches/{index}.png",
            "caption": [f"a {animal}", f"photo {index}"],
            "sound": f"sounds/{index}.wav",
            "animal": animal,
        })
        _png(tmp_path / "sketches" / f"{index}.png", mode="L", value=index)
        _wav(tmp_path / "sounds" / f"{index}.wav", seconds=0.5 if index == 3 else 0.25, channels=2 if index % 3 else 1)
    types = {"photo": "image", "sketch": "image", "caption": "text", "sound": "audio", "animal": "label"}
    path = _jsonl(tmp_path / "pairs.jsonl", rows, types)
    data = load_manifest(path)
    assert data.name == f"manifest:{path}" and data.source == str(path)
    assert data.describe_features() == "photo (image), sketch (image), caption (text), sound (audio), animal (label)"
    assert data.label_names == {"animal": ["cat", "dog"]}
    assert data.sample_rate == 16000 and data.audio_seconds == 0.5  # the longest clip
    # Stratified: each class of 5 puts one example in validation and in test.
    assert {split: data.num_examples(split) for split in data.splits} == {"train": 6, "validation": 2, "test": 2}
    train = data.split("train")
    assert train["photo"].shape == (6, 8, 8, 3) and train["photo"].dtype == np.uint8
    assert train["sketch"].shape == (6, 8, 8, 1) and train["sketch"].dtype == np.uint8  # every sketch is grayscale
    assert train["sound"].shape == (6, 8000) and train["sound"].dtype == np.float32
    assert np.abs(train["sound"]).max() <= 1
    assert train["animal"].dtype == np.int32 and np.bincount(train["animal"]).tolist() == [3, 3]
    assert train["caption"].dtype == object and train["caption"].shape == (6,)
    for caption, animal, sketch in zip(train["caption"], train["animal"], train["sketch"]):
        assert caption == (f"a {data.label_names['animal'][animal]}", f"photo {sketch[0, 0, 0]}")
    assert data.first_texts("train", "caption")[0].startswith("a ")
    assert "stratified by label column 'animal'" in data.split_protocol and "seed 0" in data.split_protocol
    json.dumps(data.spec())
    # The dataset kind's loader takes the registry's options and ignores those of other kinds.
    again = MANIFEST_DATASET.loader(str(path), data_dir=None, image_size=4, sample_rate=8000, audio_seconds=1, channels=1)
    assert again.split("train")["photo"].shape == (6, 4, 4, 3) and again.split("train")["sound"].shape == (6, 8000)
    assert again.sample_rate == 8000 and again.audio_seconds == 1.0


def test_csv_with_a_split_column_and_relative_and_absolute_paths(tmp_path):
    _png(tmp_path / "images" / "a.png", size=(10, 6))
    absolute = _png(tmp_path / "elsewhere" / "b.png", size=(20, 20), mode="L")
    _png(tmp_path / "images" / "c.jpg", size=(6, 10))
    (tmp_path / "pairs.csv").write_text(
        "image,text,label,split\n"
        "images/a.png,\"a red square, small\",red,train\n"
        "\n"
        f"{absolute},a dark square,dark,test\n"
        "images/c.jpg,another,red,train\n"
    )
    data = load_manifest(tmp_path / "pairs.csv")
    assert list(data.splits) == ["train", "test"] and data.evaluation_split == "test"  # no validation rows: fine
    assert data.split("train")["image"].shape == (2, 64, 64, 3)  # sizes differ: 64 x 64, RGB as one is colour
    assert data.split("test")["image"].shape == (1, 64, 64, 3)
    assert list(data.split("train")["text"]) == [("a red square, small",), ("another",)]
    assert data.label_names == {"label": ["dark", "red"]} and data.split("test")["label"].tolist() == [0]
    assert data.split_protocol == "the manifest's split column 'split'" and data.sample_rate is None
    assert load_manifest(tmp_path / "pairs.csv", image_size=(12, 16)).split("train")["image"].shape == (2, 12, 16, 3)


def test_splits_without_a_split_column_are_seeded_and_stratified(tmp_path):
    rows = [{"text": f"example {i}", "label": i % 2} for i in range(20)]
    path = _jsonl(tmp_path / "labelled.jsonl", rows)
    data = load_manifest(path, seed=3)
    assert data.label_names == {"label": ["0", "1"]}  # JSONL integers are class names
    assert {split: data.num_examples(split) for split in data.splits} == {"train": 16, "validation": 2, "test": 2}
    for split in data.splits:
        assert np.bincount(data.split(split)["label"]).tolist() == [data.num_examples(split) // 2] * 2
    same, other = load_manifest(path, seed=3), load_manifest(path, seed=4)
    assert data.first_texts("test", "text") == same.first_texts("test", "text")
    assert any(data.first_texts(s, "text") != other.first_texts(s, "text") for s in data.splits)
    # Without a label column: a seeded random split.
    unlabelled = load_manifest(_jsonl(tmp_path / "texts.jsonl", [{"text": f"t{i}"} for i in range(10)]))
    assert {split: unlabelled.num_examples(split) for split in unlabelled.splits} == {"train": 8, "validation": 1, "test": 1}
    assert unlabelled.split_protocol.startswith("seeded random split (train 0.8 / validation 0.1 / test 0.1, seed 0)")


def test_default_image_size_is_the_images_own_when_they_agree_and_audio_is_capped(tmp_path):
    _png(tmp_path / "a.png", size=(12, 7))
    _wav(tmp_path / "long.wav", seconds=11, rate=8000)
    path = _jsonl(tmp_path / "m.jsonl", [{"image": "a.png", "audio": "long.wav", "split": "train"}])
    data = load_manifest(path)
    assert data.split("train")["image"].shape == (1, 7, 12, 3)
    assert data.audio_seconds == 10.0 and data.split("train")["audio"].shape == (1, 160000)


def _error(tmp_path, name, content, files=(), types=None, **options):
    """The UserError of loading a manifest called ``name`` holding ``content`` (a str, or JSONL rows)."""
    for file in files:
        _png(tmp_path / file) if file.endswith(".png") else _wav(tmp_path / file)
    path = tmp_path / name
    if isinstance(content, str):
        path.write_text(content)
    else:
        _jsonl(path, content)
    if types is not None:
        sidecar_path(path).write_text(json.dumps(types))
    with pytest.raises(UserError) as raised:
        load_manifest(path, **options)
    message = str(raised.value)
    assert "\n" not in message and (f"manifest:{path}" in message or str(sidecar_path(path)) in message)
    return message


GOOD = {"image": "ok.png", "text": "fine", "audio": "ok.wav", "label": "cat", "split": "train"}
BAD_ROWS = [  # (column, bad value, words of the message)
    ("image", "missing.png", "file not found: "),
    ("image", "garbage.png", "not a readable PNG/JPEG image: "),
    ("image", 3, "expected a file path, got 3"),
    ("audio", "missing.wav", "file not found: "),
    ("audio", "garbage.wav", "garbage.wav: not a WAV file"),
    ("audio", "fast.wav", "fast.wav: sample rate 96000 Hz is not supported"),
    ("audio", ["ok.wav"], "expected a file path, got [\"ok.wav\"]"),
    ("text", 5, "expected a text or a list of texts, got 5"),
    ("text", [], "an empty list of texts"),
    ("text", ["a", 2], "expected a text or a list of texts"),
    ("label", "  ", "empty label"),
    ("label", 1.5, "expected a class name, got 1.5"),
    ("split", "dev", "unknown split \"dev\"; allowed: train, validation, test"),
    ("split", None, "no value; every row needs every column"),
]


@pytest.mark.parametrize("column, value, words", BAD_ROWS)
def test_a_bad_value_names_the_manifest_row_and_column(tmp_path, column, value, words):
    (tmp_path / "garbage.png").write_text("not an image")
    (tmp_path / "garbage.wav").write_text("not a wav")
    fast = bytearray(_wav(tmp_path / "fast.wav").read_bytes())
    fast[24:28] = (96000).to_bytes(4, "little")
    (tmp_path / "fast.wav").write_bytes(bytes(fast))
    bad = {**GOOD, column: value}
    if value is None:
        del bad[column]
    # Row 2 is on line 3 of the file: a blank line comes before it.
    message = _error(tmp_path, "m.jsonl", [GOOD, "\n", bad, GOOD], files=("ok.png", "ok.wav"))
    assert message.startswith(f"manifest:{tmp_path / 'm.jsonl'} row 2 (line 3), column '{column}': ")
    assert words in message


def test_csv_rows_count_from_the_first_data_row(tmp_path):
    message = _error(tmp_path, "m.csv", "text,label\nfine,cat\n\nfine,\n", files=())
    assert message == f"manifest:{tmp_path / 'm.csv'} row 2 (line 4), column 'label': empty label; every row needs a class name"
    message = _error(tmp_path, "i.csv", "image,text\nok.png,fine\n/nowhere/x.png,fine\n", files=("ok.png",))
    assert message == f"manifest:{tmp_path / 'i.csv'} row 2 (line 3), column 'image': file not found: /nowhere/x.png"


def test_syntax_errors_empty_manifests_and_missing_train_rows(tmp_path):
    assert "row 2 (line 2): JSON syntax error (Expecting" in _error(tmp_path, "a.jsonl", '{"text": "a"}\n{"text": \n')
    assert "row 1 (line 1): expected a JSON object {column: value}, got [1, 2]" in _error(tmp_path, "b.jsonl", "[1, 2]\n")
    message = _error(tmp_path, "c.csv", "text,label\na,b\na,b,c\n")
    assert "row 2 (line 3): CSV syntax error (3 fields, the header has 2)" in message
    assert "row 1 (line 2): CSV syntax error (" in _error(tmp_path, "d.csv", 'text,label\n"a"b,c\n')
    assert "line 1: column 2 of the header repeats the name 'text'" in _error(tmp_path, "e.csv", "text,text\na,b\n")
    assert _error(tmp_path, "f.jsonl", "\n\n").endswith("f.jsonl: no examples (the file has no data rows)")
    assert _error(tmp_path, "g.csv", "text,label\n").endswith("g.csv: no examples (the file has no data rows)")
    message = _error(tmp_path, "h.jsonl", [{"text": "a", "split": "test"}, {"text": "b", "split": "validation"}])
    assert message.endswith("h.jsonl: no row has split 'train' (column 'split'); a model needs training examples")
    assert "a manifest is a .jsonl or .csv file" in _error(tmp_path, "i.json", "[]")
    with pytest.raises(UserError, match="nothing.jsonl: no such file"):
        load_manifest(tmp_path / "nothing.jsonl")
    assert "sample rate 4000 Hz is not supported" in _error(tmp_path, "j.jsonl", [{"text": "a"}], sample_rate=4000)
    assert "image_size must be a positive int" in _error(tmp_path, "k.jsonl", [{"text": "a"}], image_size=0)


def test_column_types_come_from_the_sidecar(tmp_path):
    path = tmp_path / "m.jsonl"
    message = _error(tmp_path, "m.jsonl", [{"caption": "a", "label": "x"}])
    assert message == (
        f"manifest:{path}: column 'caption' has no type; declare it in {path}.types.json "
        'as {"caption": "image" | "text" | "audio" | "label"}'
    )
    message = _error(tmp_path, "m.jsonl", [{"caption": "a"}], types={"caption": "words"})
    assert message.startswith(f"{path}.types.json: column 'caption' has type \"words\"; allowed: image, text")
    message = _error(tmp_path, "m.jsonl", [{"caption": "a"}], types={"caption": "text", "capton": "text"})
    assert message == f"{path}.types.json: declares column 'capton', but manifest:{path} has only caption"
    # A sidecar may retype a standard name: here 'label' holds texts, and 'fold' is the split.
    _jsonl(path, [{"label": ["a", "b"], "fold": "train"}], {"label": "text", "fold": "split"})
    data = load_manifest(path)
    assert data.describe_features() == "label (text)" and list(data.split("train")["label"]) == [("a", "b")]

"""coco:ANNOTATIONS.json datasets: COCO captions and Karpathy split files, image lookup, splits, one-line errors."""

import json

import numpy as np
import pytest
from PIL import Image

from genkit.data.coco_captions import COCO_DATASET, load_coco_captions
from genkit.data.dataset_registry import load_dataset
from genkit.errors import UserError


def _png(path, size=(8, 8), mode="RGB", value=100):
    path.parent.mkdir(parents=True, exist_ok=True)
    color = value if mode == "L" else (value, 255 - value, 0)
    Image.new(mode, size, color).save(path)
    return path


def _coco(folder, count=10, captions=3, mode="RGB", images_folder=None, **extra):
    """A COCO captions file in ``folder`` with ``count`` images (in ``images_folder``, default beside it)."""
    images, annotations = [], []
    for index in range(count):
        name = f"{index + 1:012d}.png"
        _png((images_folder or folder) / name, mode=mode, value=index * 20)
        images.append({"id": index + 1, "file_name": name, "height": 8, "width": 8})
    for number in range(captions):  # interleaved, as COCO files are: image order is not annotation order
        for index in range(count):
            annotations.append({"id": 1000 + len(annotations), "image_id": index + 1, "caption": f"image {index} caption {number}"})
    path = folder / "captions.json"
    folder.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"info": {"year": 2017}, "images": images, "annotations": annotations, **extra}))
    return path


def _first_pixels(data, split):
    """The image index of every example of ``split`` (the red channel of image i is 20 i)."""
    return [int(image[0, 0, 0]) // 20 for image in data.split(split)["image"]]


def _count(data):
    return sum(data.num_examples(split) for split in data.splits)


def test_every_caption_of_an_image_in_order_and_a_seeded_split_by_image(tmp_path):
    path = _coco(tmp_path, licenses=[{"id": 1, "name": "Attribution License", "url": "http://x"}])
    data = load_coco_captions(path)
    assert data.name == f"coco:{path}" and data.source == str(path)
    assert data.describe_features() == "image (image), text (text)"
    assert {split: data.num_examples(split) for split in data.splits} == {"train": 8, "validation": 1, "test": 1}
    seen = []
    for split in data.splits:
        arrays = data.split(split)
        assert arrays["image"].shape == (data.num_examples(split), 8, 8, 3) and arrays["image"].dtype == np.uint8
        assert arrays["text"].dtype == object
        for index, references in zip(_first_pixels(data, split), arrays["text"]):
            assert references == tuple(f"image {index} caption {number}" for number in range(3))
            seen.append(index)
    assert sorted(seen) == list(range(10))  # every image in exactly one split
    assert data.split_protocol == (
        "seeded random split by image (train 0.8 / validation 0.1 / test 0.1, seed 0); all captions of an image in one split"
    )
    assert "Attribution License" in data.licence and data.evaluation_split == "test"
    json.dumps(data.spec())
    same, other = load_coco_captions(path), load_coco_captions(path, seed=5)
    assert all(_first_pixels(same, s) == _first_pixels(data, s) for s in data.splits)
    assert any(_first_pixels(other, s) != _first_pixels(data, s) for s in data.splits)
    assert "seed 5" in other.split_protocol
    assert load_coco_captions(_coco(tmp_path / "plain", count=3)).licence == ""


def test_image_size_resizes_and_a_grayscale_set_keeps_one_channel(tmp_path):
    path = _coco(tmp_path, count=4, mode="L")
    assert load_coco_captions(path).split("train")["image"].shape[1:] == (8, 8, 1)
    assert load_coco_captions(path, image_size=4).split("train")["image"].shape[1:] == (4, 4, 1)
    assert load_coco_captions(path, image_size=(6, 10)).split("train")["image"].shape[1:] == (6, 10, 1)
    # Sizes that disagree: 64 x 64 by default; one colour image makes the set RGB.
    _png(tmp_path / "000000000001.png", size=(12, 5), mode="RGB", value=0)
    data = load_coco_captions(path)
    assert data.split("train")["image"].shape[1:] == (64, 64, 3)
    # The resizing is the manifest's (held at the final size as images are read).
    from genkit.data.manifest import _image_arrays

    expected = _image_arrays({"image": [Image.open(tmp_path / "000000000001.png").convert("RGB")]}, (64, 64))["image"][0]
    assert any(np.array_equal(image, expected) for split in data.splits for image in data.split(split)["image"])
    with pytest.raises(UserError, match="image_size must be a positive int"):
        load_coco_captions(path, image_size=0)


def test_karpathy_split_files_give_their_own_splits(tmp_path):
    images = []
    for index, split in enumerate(["train", "restval", "val", "test", "train", "test"]):
        folder = "train2014" if split == "train" else "val2014"
        _png(tmp_path / "images" / folder / f"{index}.png", value=index * 20)
        sentences = [{"raw": f"image {index} sentence {n}", "tokens": ["image"]} for n in range(2)]
        images.append({"filepath": folder, "filename": f"{index}.png", "split": split, "sentences": sentences, "imgid": index})
    images.append({"filename": "5.png", "filepath": "val2014", "split": "test", "sentences": [{"raw": "  "}]})
    path = tmp_path / "dataset_coco.json"
    path.write_text(json.dumps({"images": images, "dataset": "coco"}))
    data = load_coco_captions(path, seed=3)  # the seed does not matter
    assert {split: _first_pixels(data, split) for split in data.splits} == {"train": [0, 1, 4], "validation": [2], "test": [3, 5]}
    assert list(data.split("test")["text"]) == [("image 3 sentence 0", "image 3 sentence 1"), ("image 5 sentence 0", "image 5 sentence 1")]
    assert data.split_protocol.startswith("the Karpathy split file's splits") and data.licence == ""
    # Flickr8k's file has no filepath: images are right under the image folder.
    _png(tmp_path / "flickr" / "a.png")
    (tmp_path / "flickr8k.json").write_text(json.dumps({"images": [{"filename": "a.png", "split": "train", "sentences": [{"raw": "a dog"}]}]}))
    flickr = load_coco_captions(tmp_path / "flickr8k.json", data_dir=tmp_path / "flickr")
    assert list(flickr.splits) == ["train"] and list(flickr.split("train")["text"]) == [("a dog",)]


def test_images_are_found_in_data_dir_beside_the_file_or_in_its_images_folder(tmp_path):
    beside = _coco(tmp_path / "beside", count=3)
    assert _count(load_coco_captions(beside)) == 3
    fallback = _coco(tmp_path / "fallback", count=3, images_folder=tmp_path / "fallback" / "images")
    assert _count(load_coco_captions(fallback)) == 3
    elsewhere = _coco(tmp_path / "annotations", count=3, images_folder=tmp_path / "val2017")
    assert _count(load_coco_captions(elsewhere, data_dir=tmp_path / "val2017")) == 3
    with pytest.raises(UserError, match="file not found: .*; pass the image folder as --data-dir"):
        load_coco_captions(elsewhere)
    with pytest.raises(UserError, match="--data-dir .*nowhere: not a folder"):
        load_coco_captions(elsewhere, data_dir=tmp_path / "nowhere")


def test_images_without_captions_are_skipped_and_counted_on_stderr(tmp_path, capsys):
    path = _coco(tmp_path, count=6, captions=1)
    document = json.loads(path.read_text())
    document["annotations"] = [a for a in document["annotations"] if a["image_id"] not in (2, 4)]
    document["annotations"].append({"id": 1, "image_id": 5, "caption": " \n"})
    document["annotations"].append({"id": 2, "image_id": 6, "caption": "  padded  "})
    path.write_text(json.dumps(document))
    data = load_coco_captions(path)
    assert sorted(i for s in data.splits for i in _first_pixels(data, s)) == [0, 2, 4, 5]
    texts = {i: t for s in data.splits for i, t in zip(_first_pixels(data, s), data.split(s)["text"])}
    assert texts[4] == ("image 4 caption 0",) and texts[5] == ("image 5 caption 0", "padded")
    assert capsys.readouterr().err == f"coco:{path}: 1 empty captions dropped; 2 images without captions skipped\n"
    document["annotations"] = [{"id": 1, "image_id": 1, "caption": ""}]
    path.write_text(json.dumps(document))
    with pytest.raises(UserError, match="no examples"):
        load_coco_captions(path)


def _error(tmp_path, change=None, text=None, **options):
    """The UserError of loading a 3-image COCO file after ``change(document)`` (or holding ``text``)."""
    path = _coco(tmp_path, count=3)
    if text is not None:
        path.write_text(text)
    if change is not None:
        document = json.loads(path.read_text())
        change(document)
        path.write_text(json.dumps(document))
    with pytest.raises(UserError) as raised:
        load_coco_captions(path, **options)
    message = str(raised.value)
    assert "\n" not in message and message.startswith(f"coco:{path}")
    return message


def _set(key, index, field, value):
    def change(document):
        document[key][index][field] = value
    return change


def test_each_bad_input_is_one_line_naming_the_file_and_the_entry(tmp_path):
    missing = _error(tmp_path, _set("images", 1, "file_name", "gone.jpg"))
    assert missing == (
        f"coco:{tmp_path / 'captions.json'} image 2 ('gone.jpg'): file not found: "
        f"{tmp_path / 'gone.jpg'} or {tmp_path / 'images' / 'gone.jpg'}; pass the image folder as --data-dir"
    )
    assert _error(tmp_path, _set("annotations", 2, "image_id", 99)).endswith(
        " annotation 1002: image_id 99 is not the id of any of the 3 images"
    )
    assert _error(tmp_path, _set("annotations", 1, "caption", 7)).endswith(' annotation 1001: "caption" must be a string, got 7')
    assert _error(tmp_path, _set("annotations", 0, "caption", ["a"])).endswith(' annotation 1000: "caption" must be a string, got ["a"]')
    assert "JSON syntax error (Expecting" in _error(tmp_path, text='{"images": [}')
    assert ": JSON syntax error" in _error(tmp_path, text="")
    assert _error(tmp_path, lambda d: d.pop("annotations")).endswith(
        ': no "annotations" key; a COCO captions file has "images" and "annotations" lists'
    )
    assert ': no "images" key' in _error(tmp_path, lambda d: d.pop("images"))
    assert ': expected a JSON object with "images"' in _error(tmp_path, text="[1, 2]")
    assert ' images[1]: "id" must be an integer, got "2"' in _error(tmp_path, _set("images", 1, "id", "2"))
    assert ' image 2: "file_name" must be a file name, got null' in _error(tmp_path, _set("images", 1, "file_name", None))
    assert _error(tmp_path, _set("images", 1, "id", 3)).endswith(
        " image 3 ('000000000003.png'): the id is also that of image 3 ('000000000002.png')"
    )
    assert ' annotation 1000: no "caption"; is this a captions file' in _error(
        tmp_path, lambda d: d["annotations"][0].pop("caption")
    )
    assert ' annotations[0]: "image_id" must be an integer' in _error(
        tmp_path, lambda d: d["annotations"][0].update(id=None, image_id=None)
    )
    (tmp_path / "broken.png").write_text("not an image")
    assert "image 1 ('broken.png'): not a readable PNG/JPEG image: " in _error(tmp_path, _set("images", 0, "file_name", "broken.png"))
    with pytest.raises(UserError, match="nothing.json: no such file"):
        load_coco_captions(tmp_path / "nothing.json")


def test_bad_karpathy_entries_name_the_entry(tmp_path):
    _png(tmp_path / "a.png")
    good = {"filename": "a.png", "split": "train", "sentences": [{"raw": "a"}]}
    for bad, words in [
        ({**good, "split": "dev"}, "images[1] ('a.png'): unknown split \"dev\"; allowed: train, restval, val, test"),
        ({**good, "sentences": [{"raw": 3}]}, "images[1] ('a.png') sentence 0: expected {\"raw\": caption}"),
        ({"filename": "a.png", "split": "train"}, "images[1] ('a.png'): \"sentences\" must be a list"),
        ({**good, "filename": "b.png"}, "images[1] ('b.png'): file not found: "),
    ]:
        path = tmp_path / "dataset.json"
        path.write_text(json.dumps({"images": [good, bad]}))
        with pytest.raises(UserError) as raised:
            load_coco_captions(path)
        assert str(raised.value).startswith(f"coco:{path} {words}")
    path.write_text(json.dumps({"images": [{**good, "split": "test"}]}))
    with pytest.raises(UserError, match="no image has split 'train' or 'restval'"):
        load_coco_captions(path)


def test_the_registry_loads_a_coco_spec(tmp_path):
    path = _coco(tmp_path, count=5)
    assert COCO_DATASET.usage == "coco:ANNOTATIONS.json" and COCO_DATASET.fields == ("image", "text")
    data = load_dataset("coco:" + str(path), ("image", "text"), "'test'", image_size=4, seed=None, channels=3)
    assert data.name == f"coco:{path}" and data.split("train")["image"].shape[1:] == (4, 4, 3)
    assert "seed 0" in data.split_protocol
    moved = _coco(tmp_path / "notes", count=2, images_folder=tmp_path / "pictures")
    data = load_dataset("coco:" + str(moved), ("image", "text"), "'test'", data_dir=str(tmp_path / "pictures"))
    assert _count(data) == 2
    with pytest.raises(UserError, match="yields image, text, but 'test' needs image, label; datasets that do: "):
        load_dataset("coco:" + str(path), ("image", "label"), "'test'")

"""The ``coco:ANNOTATIONS.json`` dataset: images and their captions, in the COCO captions format.

A COCO captions file (``captions_train2017.json``; https://cocodataset.org/#format-data)
is one JSON object; ``info`` and ``licenses`` are optional::

    {"images": [{"id": 17, "file_name": "000000000017.jpg", ...}, ...],
     "annotations": [{"id": 5, "image_id": 17, "caption": "A cat on a mat."}, ...]}

The Karpathy split files used for COCO, Flickr8k and Flickr30k captioning
(``dataset_coco.json``, ``dataset_flickr8k.json``) are read too; they are told
apart by the ``sentences`` of their images::

    {"images": [{"filepath": "val2014", "filename": "x.jpg", "split": "test",
                 "sentences": [{"raw": "A cat on a mat.", ...}, ...]}, ...]}

The features are ``image`` and ``text``; each image is one example, and its
text is every caption of it as references (a tuple of strings, in annotation
or sentence order, stripped of surrounding whitespace).

- image folder: ``--data-dir`` when given; else the JSON file's folder, and,
  for an image not there, its ``images/`` subfolder. Images are at
  ``<folder>/<file_name>`` (Karpathy: ``<folder>/<filepath>/<filename>``).
  They are read as ``manifest:`` images are: RGB, or grayscale when every image
  is; resized (bilinear, antialiased) to ``image_size`` (square; default: the
  images' own size when they all agree, else 64).
- captions: empty or whitespace-only captions are dropped; an image left
  without captions is skipped, and the skipped images are counted in one line
  on stderr. An annotation of an image id that ``images`` does not list is an
  error.
- splits: the Karpathy file's (``val`` is validation, ``restval`` is train);
  else 0.8 / 0.1 / 0.1 by a seeded shuffle of the images, so all captions of an
  image are in one split.

Errors are one line naming the file, the entry and the problem:
``coco:/data/captions.json image 17 ('000000000017.jpg'): file not found: ...``.
Entries with an id are named by it (``image 17``, ``annotation 5``), others by
their place in the file's list, counted from 0 (``images[3]``, ``annotations[8]``).
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image

from genkit.data.manifest import (
    DEFAULT_IMAGE_SIZE, SPLIT_FRACTIONS, _BadValue, _check_image_size, _image, _image_arrays, _resized, _show, read_text_file,
)
from genkit.data.paired_dataset import SPLITS, Feature, PairedDataset, stratified_split
from genkit.data.paths import user_path
from genkit.data.dataset_registry import DatasetKind, register_dataset
from genkit.errors import UserError

KARPATHY_SPLITS = {"train": "train", "restval": "train", "val": "validation", "test": "test"}


def load_coco_captions(path, data_dir=None, image_size=None, seed=0, **ignored) -> PairedDataset:
    """Reads the COCO captions (or Karpathy split) file at ``path`` into a :class:`PairedDataset` of image and text.

    ``data_dir`` is the image folder (default: beside the file, or its
    ``images/`` subfolder); ``image_size`` an int (square) or (height,
    width); ``seed`` (None counts as 0) drives the split of a COCO file. As the
    registry's loader it ignores the options of other kinds (``ignored``).
    """
    path = user_path(path, resolve=True)
    where = f"coco:{path}"
    if not path.is_file():
        raise UserError(f"{where}: no such file")
    size = _check_image_size(image_size, where)
    if data_dir is not None:
        data_dir = user_path(data_dir, resolve=True)
        if not data_dir.is_dir():
            raise UserError(f"--data-dir {data_dir}: not a folder (for {where}, the folder of its images)")
    document = _read_json(path, where)
    images = document.get("images")
    if not isinstance(images, list):
        problem = "no \"images\" key" if images is None else f"\"images\" is {_show(images)}, not a list"
        raise UserError(f"{where}: {problem}; a COCO captions file has \"images\" and \"annotations\" lists")
    karpathy = any(isinstance(entry, dict) and "sentences" in entry for entry in images)
    read = _read_karpathy if karpathy else _read_coco
    entries, empty_captions = read(document, images, where)  # [(name of the entry, file, captions, split or None)]

    kept = [entry for entry in entries if entry[2]]
    if len(kept) < len(entries) or empty_captions:
        notes = [f"{empty_captions} empty captions dropped"] if empty_captions else []
        notes += [f"{len(entries) - len(kept)} images without captions skipped"] if len(kept) < len(entries) else []
        print(f"{where}: {'; '.join(notes)}", file=sys.stderr)
    if not kept:
        raise UserError(f"{where}: no examples (no image has a caption)")

    roots = [data_dir] if data_dir is not None else [path.parent, path.parent / "images"]
    loaded = []
    for name, file, _, _ in kept:
        image = _read_image(roots, file, data_dir is not None, f"{where} {name}")
        if size is None and loaded and image.size != loaded[0].size:  # sizes disagree: the default is 64
            size = (DEFAULT_IMAGE_SIZE, DEFAULT_IMAGE_SIZE)
            loaded = [_shrunk(other, size) for other in loaded]
        loaded.append(image if size is None else _shrunk(image, size))  # held at the final size: memory stays bounded
    image_array = _image_arrays({"image": loaded}, size)["image"]
    text_array = np.empty(len(kept), dtype=object)
    for index, (_, _, captions, _) in enumerate(kept):
        text_array[index] = tuple(captions)

    if karpathy:
        assignment = np.asarray([split for *_, split in kept], dtype=object)
        if not (assignment == "train").any():
            raise UserError(f"{where}: no image has split 'train' or 'restval'; a model needs training examples")
        protocol = "the Karpathy split file's splits (train and restval as train, val as validation, test)"
    else:
        seed = seed or 0
        fractions = " / ".join(f"{name} {fraction}" for name, fraction in SPLIT_FRACTIONS.items())
        assignment = stratified_split(np.zeros(len(kept)), SPLIT_FRACTIONS, seed)
        protocol = f"seeded random split by image ({fractions}, seed {seed}); all captions of an image in one split"
    splits = {
        split: {"image": image_array[assignment == split], "text": text_array[assignment == split]}
        for split in SPLITS
        if (assignment == split).any()
    }
    return PairedDataset(
        name=where, source=str(path), features=(Feature("image", "image"), Feature("text", "text")), splits=splits,
        label_names={}, split_protocol=protocol, licence=_licence(document),
        evaluation_split=next(s for s in ("test", "validation", "train") if s in splits),
    )


def _read_json(path: Path, where: str) -> dict:
    text = read_text_file(path, where)
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise UserError(f"{where}: JSON syntax error ({error.msg} at line {error.lineno}, column {error.colno})") from None
    if not isinstance(document, dict):
        raise UserError(f"{where}: expected a JSON object with \"images\" and \"annotations\", got {_show(document)}")
    return document


def _is_id(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _file_name(entry: dict, key: str, name: str, where: str) -> str:
    value = entry.get(key)
    if not isinstance(value, str) or not value.strip():
        raise UserError(f"{where} {name}: \"{key}\" must be a file name, got {_show(value)}")
    return value.strip()


def _read_coco(document: dict, images: list, where: str):
    annotations = document.get("annotations")
    if not isinstance(annotations, list):
        problem = "no \"annotations\" key" if annotations is None else f"\"annotations\" is {_show(annotations)}, not a list"
        raise UserError(f"{where}: {problem}; a COCO captions file has \"images\" and \"annotations\" lists")
    entries = {}  # image id: [name, file, captions, split]
    for index, entry in enumerate(images):
        if not isinstance(entry, dict):
            raise UserError(f"{where} images[{index}]: expected a JSON object {{\"id\", \"file_name\"}}, got {_show(entry)}")
        if not _is_id(entry.get("id")):
            raise UserError(f"{where} images[{index}]: \"id\" must be an integer, got {_show(entry.get('id'))}")
        file = _file_name(entry, "file_name", f"image {entry['id']}", where)
        name = f"image {entry['id']} ({file!r})"
        if entry["id"] in entries:
            raise UserError(f"{where} {name}: the id is also that of {entries[entry['id']][0]}")
        entries[entry["id"]] = [name, file, [], None]
    empty = 0
    for index, entry in enumerate(annotations):
        if not isinstance(entry, dict):
            expected = 'a JSON object {"image_id", "caption"}'
            raise UserError(f"{where} annotations[{index}]: expected {expected}, got {_show(entry)}")
        name = f"annotation {entry['id']}" if _is_id(entry.get("id")) else f"annotations[{index}]"
        image_id = entry.get("image_id")
        if not _is_id(image_id):
            raise UserError(f"{where} {name}: \"image_id\" must be an integer, got {_show(image_id)}")
        if image_id not in entries:
            raise UserError(f"{where} {name}: image_id {image_id} is not the id of any of the {len(entries)} images")
        if "caption" not in entry:
            raise UserError(f"{where} {name}: no \"caption\"; is this a captions file (captions_*.json)?")
        caption = entry["caption"]
        if not isinstance(caption, str):
            raise UserError(f"{where} {name}: \"caption\" must be a string, got {_show(caption)}")
        if caption.strip():
            entries[image_id][2].append(caption.strip())
        else:
            empty += 1
    return list(entries.values()), empty


def _read_karpathy(document: dict, images: list, where: str):
    entries, empty = [], 0
    for index, entry in enumerate(images):
        if not isinstance(entry, dict):
            expected = 'a JSON object {"filename", "sentences", "split"}'
            raise UserError(f"{where} images[{index}]: expected {expected}, got {_show(entry)}")
        file = _file_name(entry, "filename", f"images[{index}]", where)
        name = f"images[{index}] ({file!r})"
        folder = entry.get("filepath", "")
        if not isinstance(folder, str):
            raise UserError(f"{where} {name}: \"filepath\" must be a folder name, got {_show(folder)}")
        split = entry.get("split")
        if split not in KARPATHY_SPLITS:
            raise UserError(f"{where} {name}: unknown split {_show(split)}; allowed: {', '.join(KARPATHY_SPLITS)}")
        sentences = entry.get("sentences")
        if not isinstance(sentences, list):
            raise UserError(f"{where} {name}: \"sentences\" must be a list of {{\"raw\": caption}}, got {_show(sentences)}")
        captions = []
        for number, sentence in enumerate(sentences):
            raw = sentence.get("raw") if isinstance(sentence, dict) else None
            if not isinstance(raw, str):
                expected = '{"raw": caption} with a string caption'
                raise UserError(f"{where} {name} sentence {number}: expected {expected}, got {_show(sentence)}")
            if raw.strip():
                captions.append(raw.strip())
            else:
                empty += 1
        entries.append([name, str(Path(folder.strip()) / file), captions, KARPATHY_SPLITS[split]])
    return entries, empty


def _read_image(roots: list[Path], file: str, from_data_dir: bool, where: str):
    """The Pillow image (L or RGB) of ``file`` in the first of ``roots`` that holds it."""
    candidates = [root / file for root in roots]
    found = next((candidate for candidate in candidates if candidate.is_file()), None)
    if found is None:
        tried = " or ".join(str(candidate) for candidate in candidates)
        hint = "" if from_data_dir else "; pass the image folder as --data-dir"
        raise UserError(f"{where}: file not found: {tried}{hint}")
    try:
        return _image(str(found), found.parent, None)
    except _BadValue as error:
        raise UserError(f"{where}: {error}") from None


def _shrunk(image, size):
    """``image`` at ``size`` (w, h), resized as :func:`genkit.data.manifest._image_arrays` resizes it."""
    return image if image.size == size else Image.fromarray(_resized(image, size))  # 2-D: L, 3-D: RGB


def _licence(document: dict) -> str:
    """A note that the images carry their own licences, from a COCO file's "licenses"; else ""."""
    licenses = document.get("licenses")
    if not isinstance(licenses, list) or not licenses:
        return ""
    names = [str(entry.get("name") or "").strip() for entry in licenses if isinstance(entry, dict)]
    names = list(dict.fromkeys(name for name in names if name))
    return f"the images carry their own (Flickr) licences, listed in the file's \"licenses\": {'; '.join(names)}" if names else ""


COCO_DATASET = register_dataset(
    DatasetKind(
        "coco", ("image", "text"), load_coco_captions,
        "images and their captions from a COCO captions file, or a Karpathy split file (dataset_coco.json, ...)",
        takes_argument=True, argument_name="ANNOTATIONS.json",
    )
)

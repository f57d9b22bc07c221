"""The emoji image-text datasets: ``embedded`` (1,870 emoji at 32x32, inside genkit) and ``emoji`` (all 3,655).

Every example is one fully-qualified emoji of Unicode's ``emoji-test.txt``
with four features, in this order:

- ``image`` (image): uint8 RGB, the Noto Color Emoji picture cropped to its
  ink, centred on a white square and reduced with Lanczos;
- ``text`` (text): the references, deduplicated in this order: the
  lowercased Unicode name (``grinning face``), CLDR's English short name
  when it differs, then each CLDR English keyword (``face``, ``grin``, ...);
- ``label`` (label): the Unicode subgroup (``face-smiling``; 99 of them);
- ``group`` (label): the Unicode group (``Smileys & Emotion``; 9 of them).

Label names are sorted. The split is fixed: within every subgroup a shuffle
seeded with :data:`SPLIT_SEED` cuts the emoji without skin tones 80/10/10
(:func:`~genkit.data.paired_dataset.stratified_split`), and every skin-tone
variant goes to the split of the emoji it varies, so no picture has a
near-copy in another split. The loaders' ``seed`` option does not change it.

``embedded`` reads the files shipped in ``genkit/data/embedded/emoji/``
(made by ``genkit/data/embedded/make_emoji.py``); ``emoji`` renders from
Debian's ``fonts-noto-color-emoji``, ``unicode-data`` and
``unicode-cldr-core`` and caches the pictures in
``~/.cache/genkit/emoji-<hash>.npz``. Rendering needs Pillow with its raqm
text-shaping layer (``libraqm0``): without it ZWJ sequences (families,
professions), flags and keycaps come out as rows of separate glyphs, so the
renderer refuses to run. An emoji that still renders empty or as more than
one glyph is dropped and reported.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import numpy as np

from genkit.atomic import atomic_path
from genkit.data.paired_dataset import Feature, PairedDataset, stratified_split
from genkit.data.dataset_registry import DatasetKind, register_dataset
from genkit.errors import UserError

EMOJI_TEST = Path("/usr/share/unicode/emoji/emoji-test.txt")
CLDR_ANNOTATIONS = Path("/usr/share/unicode/cldr/common/annotations/en.xml")
CLDR_DERIVED_ANNOTATIONS = Path("/usr/share/unicode/cldr/common/annotationsDerived/en.xml")
NOTO_COLOR_EMOJI = Path("/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf")
# Which Debian package ships each source file (named in the error when one is missing).
SOURCE_PACKAGES = {
    "emoji_test": "unicode-data",
    "annotations": "unicode-cldr-core",
    "derived_annotations": "unicode-cldr-core",
    "font": "fonts-noto-color-emoji",
}

EMBEDDED_EMOJI_DIR = Path(__file__).parent / "embedded" / "emoji"
EMBEDDED_IMAGES = "images.npz"
EMBEDDED_METADATA = "emoji.json"
EMBEDDED_IMAGE_SIZE = 32
FULL_IMAGE_SIZE = 64

FEATURES = (Feature("image", "image"), Feature("text", "text"), Feature("label", "label"), Feature("group", "label"))
FIELDS = tuple(feature.name for feature in FEATURES)
SPLIT_FRACTIONS = {"train": 0.8, "validation": 0.1, "test": 0.1}
SPLIT_SEED = 20101011  # the release date of Unicode 6.0, the first version with emoji
SPLIT_PROTOCOL = (
    f"fixed: within each Unicode subgroup a shuffle seeded {SPLIT_SEED} cuts the emoji without skin tones "
    "80/10/10 (train/validation/test, at least one of each when a subgroup has 3 or more); "
    "skin-tone variants follow the emoji they vary"
)
LICENCE = (
    "pictures: Noto Color Emoji by Google (SIL Open Font License 1.1); names, groups: Unicode emoji-test.txt "
    "(Unicode licence); short names, keywords: Unicode CLDR (Unicode-DFS-2016); "
    "see genkit/data/embedded/emoji/LICENSES.md"
)

SKIN_TONES = range(0x1F3FB, 0x1F400)  # U+1F3FB..U+1F3FF, the Fitzpatrick modifiers
VARIATION_SELECTOR_16 = "\ufe0f"  # CLDR keys its annotations without it
FONT_SIZE = 109  # the only size of Noto Color Emoji's bitmap strike (136x128 pixels per glyph)
RENDER_VERSION = 1  # part of the cache key: bump when rendering changes
MARGIN = 1 / 32  # white border on each side, as a fraction of the picture's side
SINGLE_GLYPH_SLACK = 1.5  # more than this many single-glyph widths is a sequence the font did not join


@dataclasses.dataclass(frozen=True)
class Emoji:
    """One fully-qualified emoji of ``emoji-test.txt``.

    ``base`` is the name of the emoji without skin tones it varies (its own
    name when it has none): the row before it in the file that has no tone.
    """

    codepoints: tuple[int, ...]
    name: str
    group: str
    subgroup: str
    version: str
    base: str
    references: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        return "".join(map(chr, self.codepoints))

    @property
    def hex(self) -> str:
        return " ".join(f"{codepoint:04X}" for codepoint in self.codepoints)

    @property
    def has_skin_tone(self) -> bool:
        return any(codepoint in SKIN_TONES for codepoint in self.codepoints)


# ----------------------------------------------------------------------------------------------- reading


def parse_emoji_test(path: str | Path) -> list[Emoji]:
    """The fully-qualified emoji of ``emoji-test.txt``, in the file's (CLDR) order."""
    path = Path(path)
    emoji, group, subgroup, base = [], None, None, None
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise UserError(f"{path}: not found; run 'apt-get install unicode-data'") from None
    for number, line in enumerate(lines, 1):
        if line.startswith("# group:"):
            group = line.split(":", 1)[1].strip()
        elif line.startswith("# subgroup:"):
            subgroup, base = line.split(":", 1)[1].strip(), None
        elif line.strip() and not line.startswith("#"):
            codepoints, _, rest = line.partition(";")
            status, _, comment = rest.partition("#")
            if status.strip() != "fully-qualified":
                continue
            # comment: "<emoji> E<version> <name>"
            parts = comment.strip().split(" ", 2)
            if len(parts) != 3 or not parts[1].startswith("E") or group is None or subgroup is None:
                raise UserError(f"{path}:{number}: not an emoji-test.txt line: {line.strip()!r}")
            entry = Emoji(
                codepoints=tuple(int(codepoint, 16) for codepoint in codepoints.split()), name=parts[2],
                group=group, subgroup=subgroup, version=parts[1][1:], base="",
            )
            if not entry.has_skin_tone:
                base = entry.name
            emoji.append(dataclasses.replace(entry, base=base or entry.name))
    if not emoji:
        raise UserError(f"{path}: no fully-qualified emoji found; is it Unicode's emoji-test.txt?")
    return emoji


def parse_cldr_annotations(*paths: str | Path) -> tuple[dict[str, str], dict[str, list[str]]]:
    """CLDR's short names (``type="tts"``) and keyword lists, keyed by the emoji without U+FE0F.

    Later files add to earlier ones (``annotationsDerived`` after ``annotations``).
    """
    short_names, keywords = {}, {}
    for path in paths:
        try:
            root = ElementTree.parse(path).getroot()
        except FileNotFoundError:
            raise UserError(f"{path}: not found; run 'apt-get install unicode-cldr-core'") from None
        except ElementTree.ParseError as error:
            raise UserError(f"{path}: not a readable CLDR annotations file ({error})") from None
        for annotation in root.iter("annotation"):
            key, value = annotation.get("cp"), (annotation.text or "").strip()
            if not key or not value:
                continue
            if annotation.get("type") == "tts":
                short_names[key] = value
            else:
                keywords[key] = [keyword.strip() for keyword in value.split("|") if keyword.strip()]
    return short_names, keywords


def references_of(entry: Emoji, short_names: dict[str, str], keywords: dict[str, list[str]]) -> tuple[str, ...]:
    """The lowercased name, CLDR's short name when it differs, then CLDR's keywords; no repeats (case-blind)."""
    key = entry.text.replace(VARIATION_SELECTOR_16, "")
    candidates = [entry.name.lower()]
    if key in short_names:
        candidates.append(short_names[key])
    candidates += keywords.get(key, [])
    references, seen = [], set()
    for candidate in candidates:
        if candidate.casefold() not in seen:
            seen.add(candidate.casefold())
            references.append(candidate)
    return tuple(references)


def with_references(emoji: list[Emoji], short_names, keywords) -> list[Emoji]:
    return [dataclasses.replace(entry, references=references_of(entry, short_names, keywords)) for entry in emoji]


# --------------------------------------------------------------------------------------------- rendering


def raqm_available() -> bool:
    from PIL import features

    return bool(features.check("raqm"))


class EmojiRenderer:
    """Draws emoji with Noto Color Emoji through Pillow's raqm layout (which joins multi-part sequences).

    Raises :class:`~genkit.errors.UserError` when raqm or the font is missing.
    """

    def __init__(self, font_path: str | Path = NOTO_COLOR_EMOJI):
        from PIL import ImageFont

        if not raqm_available():
            raise UserError(
                "emoji: Pillow has no raqm text shaping, so ZWJ sequences, flags and keycaps would render as "
                "separate glyphs; run 'apt-get install libraqm0' (and use a Pillow built with raqm)"
            )
        font_path = Path(font_path)
        if not font_path.is_file():
            raise UserError(f"emoji: {font_path} not found; run 'apt-get install fonts-noto-color-emoji'")
        try:
            self.font = ImageFont.truetype(str(font_path), FONT_SIZE, layout_engine=ImageFont.Layout.RAQM)
        except OSError as error:
            raise UserError(f"emoji: {font_path}: Pillow cannot open it at size {FONT_SIZE} ({error})") from None
        self.font_path = font_path
        self.single_width = self.font.getlength("\U0001F600")  # one glyph's advance (grinning face)

    def problem(self, text: str) -> str | None:
        """Why ``text`` does not render as one glyph (None when it does)."""
        advance = self.font.getlength(text)
        if advance > SINGLE_GLYPH_SLACK * self.single_width:
            return f"renders as {advance / self.single_width:.1f} glyph widths (the font does not join it)"
        return None

    def draw(self, text: str):
        """The emoji's RGBA picture cropped to its ink (None when it has no ink)."""
        from PIL import Image, ImageDraw

        left, top, right, bottom = self.font.getbbox(text)
        pad = 8
        canvas = Image.new("RGBA", (max(right - left, 1) + 2 * pad, max(bottom - top, 1) + 2 * pad), (0, 0, 0, 0))
        ImageDraw.Draw(canvas).text((pad - left, pad - top), text, font=self.font, embedded_color=True)
        ink = canvas.getchannel("A").getbbox()
        return None if ink is None else canvas.crop(ink)

    def render(self, text: str, image_size: int | tuple[int, int]) -> tuple[np.ndarray | None, str | None]:
        """``(uint8 [H, W, 3] picture on white, None)``, or ``(None, why it was dropped)``."""
        from PIL import Image

        problem = self.problem(text)
        if problem:
            return None, problem
        picture = self.draw(text)
        if picture is None:
            return None, "renders empty (no glyph in the font)"
        if picture.width > SINGLE_GLYPH_SLACK * self.single_width:
            return None, f"ink is {picture.width} pixels wide, more than one glyph"
        height, width = _size_pair(image_size)
        # A white box of the target's aspect around the ink, with a margin, then one Lanczos reduction.
        scale = max(picture.width / width, picture.height / height) * (1 + 2 * MARGIN)
        box = (max(round(width * scale), picture.width), max(round(height * scale), picture.height))
        background = Image.new("RGBA", box, (255, 255, 255, 255))
        background.alpha_composite(picture, ((box[0] - picture.width) // 2, (box[1] - picture.height) // 2))
        image = background.convert("RGB").resize((width, height), Image.Resampling.LANCZOS)
        return np.asarray(image, dtype=np.uint8), None


def _size_pair(image_size) -> tuple[int, int]:
    """(height, width) from an int or a pair; a one-line error otherwise."""
    if isinstance(image_size, (int, np.integer)) and not isinstance(image_size, bool):
        pair = (int(image_size), int(image_size))
    elif isinstance(image_size, (tuple, list)) and len(image_size) == 2:
        pair = tuple(int(side) for side in image_size)
    else:
        raise UserError(f"emoji: image_size must be an int or (height, width); got {image_size!r}")
    if min(pair) < 1:
        raise UserError(f"emoji: image_size must be positive; got {image_size!r}")
    return pair


def render_emoji(emoji: list[Emoji], image_size, renderer: EmojiRenderer | None = None):
    """``(images uint8 [N, H, W, 3], kept emoji, dropped [(emoji, reason)])`` in the given order."""
    renderer = renderer or EmojiRenderer()
    height, width = _size_pair(image_size)
    images, kept, dropped = [], [], []
    for entry in emoji:
        image, reason = renderer.render(entry.text, (height, width))
        if image is None:
            dropped.append((entry, reason))
        else:
            images.append(image)
            kept.append(entry)
    array = np.stack(images) if images else np.zeros((0, height, width, 3), np.uint8)
    return array, kept, dropped


def report_dropped(dropped, where: str) -> None:
    """One loud line per dropped emoji on stderr."""
    for entry, reason in dropped:
        print(f"{where}: dropped {entry.hex} ({entry.name}): {reason}", file=sys.stderr)


# ------------------------------------------------------------------------------------------------ splits


def split_assignment(emoji: list[Emoji], seed: int = SPLIT_SEED) -> np.ndarray:
    """The split name of every emoji (see the module docstring): stratified by subgroup over base emoji."""
    units = list(dict.fromkeys((entry.subgroup, entry.base) for entry in emoji))
    subgroups = sorted({subgroup for subgroup, _ in units})
    unit_labels = np.asarray([subgroups.index(subgroup) for subgroup, _ in units], np.int32)
    unit_splits = dict(zip(units, stratified_split(unit_labels, SPLIT_FRACTIONS, seed)))
    return np.asarray([unit_splits[(entry.subgroup, entry.base)] for entry in emoji], dtype=object)


def paired_dataset(name: str, source: str, emoji: list[Emoji], images: np.ndarray, splits) -> PairedDataset:
    """The PairedDataset of ``emoji`` (with references) and their ``images``; ``splits`` names each one's split."""
    if len(emoji) != len(images) or len(emoji) != len(splits):
        raise UserError(f"{name}: {len(emoji)} emoji but {len(images)} images and {len(splits)} split names")
    subgroups = sorted({entry.subgroup for entry in emoji})
    groups = sorted({entry.group for entry in emoji})
    labels = np.asarray([subgroups.index(entry.subgroup) for entry in emoji], np.int32)
    group_ids = np.asarray([groups.index(entry.group) for entry in emoji], np.int32)
    texts = np.empty(len(emoji), dtype=object)
    for index, entry in enumerate(emoji):  # one by one: numpy would unpack equal-length tuples into a 2-D array
        texts[index] = entry.references
    splits = np.asarray(splits, dtype=object)
    arrays = {}
    for split in SPLIT_FRACTIONS:
        members = np.flatnonzero(splits == split)
        if split == "train" or len(members):
            arrays[split] = {
                "image": images[members], "text": texts[members], "label": labels[members], "group": group_ids[members],
            }
    return PairedDataset(
        name=name, source=source, features=FEATURES, splits=arrays,
        label_names={"label": subgroups, "group": groups}, split_protocol=SPLIT_PROTOCOL, licence=LICENCE,
    )


def resize_images(images: np.ndarray, image_size) -> np.ndarray:
    """``images`` resized with Pillow's Lanczos (unchanged when already that size)."""
    from PIL import Image

    height, width = _size_pair(image_size)
    if images.shape[1:3] == (height, width):
        return images
    resized = [np.asarray(Image.fromarray(image).resize((width, height), Image.Resampling.LANCZOS)) for image in images]
    return np.stack(resized).astype(np.uint8) if resized else np.zeros((0, height, width, 3), np.uint8)


# ------------------------------------------------------------------------------------- the shipped subset


def read_embedded(directory: str | Path = EMBEDDED_EMOJI_DIR) -> tuple[list[Emoji], np.ndarray, list[str]]:
    """The shipped emoji, their pictures and their splits, from ``images.npz`` and ``emoji.json``."""
    directory = Path(directory)
    emoji, splits = [], []
    try:
        metadata = json.loads((directory / EMBEDDED_METADATA).read_text(encoding="utf-8"))
        with np.load(directory / EMBEDDED_IMAGES, allow_pickle=False) as archive:
            images = archive["images"]
        for row in metadata["emoji"]:
            emoji.append(Emoji(
                codepoints=tuple(int(codepoint, 16) for codepoint in row["codepoints"].split()), name=row["name"],
                group=row["group"], subgroup=row["subgroup"], version=row["version"], base=row["name"],
                references=tuple(row["references"]),
            ))
            splits.append(row["split"])
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise UserError(f"embedded emoji: cannot read {directory} ({type(error).__name__}: {error})") from None
    if images.dtype != np.uint8 or images.ndim != 4 or len(images) != len(emoji):
        raise UserError(f"embedded emoji: {directory}: {len(emoji)} emoji but images {images.dtype} {list(images.shape)}")
    return emoji, images, splits


def load_embedded(argument=None, data_dir=None, image_size=None, seed=None, **ignored) -> PairedDataset:
    """The 1,870 emoji without skin tones shipped inside genkit (32x32, or resized to ``image_size``)."""
    emoji, images, splits = read_embedded(EMBEDDED_EMOJI_DIR)
    if image_size is not None:
        images = resize_images(images, image_size)
    return paired_dataset("embedded", str(EMBEDDED_EMOJI_DIR), emoji, images, splits)


# ---------------------------------------------------------------------------- the full set, rendered here


def source_files(data_dir: str | Path | None = None) -> dict[str, Path]:
    """The four source files: Debian's paths, or ``data_dir`` with emoji-test.txt, NotoColorEmoji.ttf,
    annotations/en.xml and annotationsDerived/en.xml. A missing file is a one-line error naming its package."""
    if data_dir:
        root = Path(data_dir)
        files = {
            "emoji_test": root / "emoji-test.txt", "annotations": root / "annotations" / "en.xml",
            "derived_annotations": root / "annotationsDerived" / "en.xml", "font": root / "NotoColorEmoji.ttf",
        }
    else:
        files = {
            "emoji_test": EMOJI_TEST, "annotations": CLDR_ANNOTATIONS,
            "derived_annotations": CLDR_DERIVED_ANNOTATIONS, "font": NOTO_COLOR_EMOJI,
        }
    for role, path in files.items():
        if not path.is_file():
            raise UserError(f"emoji: {path} not found; run 'apt-get install {SOURCE_PACKAGES[role]}'"
                            + (f" or put it in --data-dir {data_dir}" if data_dir else ""))
    return files


def read_sources(files: dict[str, Path]) -> list[Emoji]:
    """Every fully-qualified emoji with its references."""
    emoji = parse_emoji_test(files["emoji_test"])
    short_names, keywords = parse_cldr_annotations(files["annotations"], files["derived_annotations"])
    return with_references(emoji, short_names, keywords)


def cache_directory() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "genkit"


def cache_key(files: dict[str, Path], image_size: tuple[int, int], limit: int | None) -> str:
    """Changes with the render code, the size, the limit and each source file's path, size and mtime."""
    from PIL import __version__ as pillow_version

    parts = [f"render {RENDER_VERSION}", f"size {image_size}", f"limit {limit}", f"pillow {pillow_version}"]
    for role in sorted(files):
        stat = files[role].stat()
        parts.append(f"{role} {files[role].resolve()} {stat.st_size} {stat.st_mtime_ns}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def load_emoji(
    argument=None, data_dir=None, image_size=None, seed=None, limit: int | None = None,
    cache_dir: str | Path | None = None, **ignored,
) -> PairedDataset:
    """Every fully-qualified emoji rendered at 64x64 (or ``image_size``) from Debian's packages, cached.

    ``limit`` keeps the first ``limit`` emoji in the file's order (for tests).
    """
    files = source_files(data_dir)
    size = _size_pair(FULL_IMAGE_SIZE if image_size is None else image_size)
    emoji = read_sources(files)
    if limit is not None:
        emoji = emoji[: int(limit)]
    cache = Path(cache_dir) if cache_dir else cache_directory()
    cached = cache / f"emoji-{cache_key(files, size, limit)}.npz"
    images = kept_texts = None
    if cached.is_file():
        try:
            with np.load(cached, allow_pickle=False) as archive:
                images, kept_texts = archive["images"], [str(text) for text in archive["emoji"]]
        except (OSError, ValueError, KeyError):
            images = None  # an unreadable cache is rendered again
    if images is None or len(images) != len(kept_texts) or images.shape[1:] != (*size, 3):
        images, kept, dropped = render_emoji(emoji, size, EmojiRenderer(files["font"]))
        report_dropped(dropped, "emoji")
        kept_texts = [entry.text for entry in kept]
        buffer = io.BytesIO()
        np.savez_compressed(buffer, images=images, emoji=np.asarray(kept_texts, dtype=str))
        with atomic_path(cached) as temporary:
            temporary.write_bytes(buffer.getvalue())
    by_text = {entry.text: entry for entry in emoji}
    kept = [by_text[text] for text in kept_texts if text in by_text]
    if len(kept) != len(kept_texts):
        raise UserError(f"emoji: the cache {cached} does not match {files['emoji_test']}; delete it")
    source = ", ".join(str(files[role]) for role in ("emoji_test", "annotations", "derived_annotations", "font"))
    return paired_dataset("emoji", source, kept, images, split_assignment(kept))


EMBEDDED_KIND = register_dataset(DatasetKind(
    "embedded", FIELDS, load_embedded,
    "1,870 emoji at 32x32 with their names and keywords (inside genkit; Noto Color Emoji, Unicode, CLDR)",
))
EMOJI_KIND = register_dataset(DatasetKind(
    "emoji", FIELDS, load_emoji,
    "every fully-qualified emoji rendered at 64x64 from Debian's fonts-noto-color-emoji, unicode-data and "
    "unicode-cldr-core",
))

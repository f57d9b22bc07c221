"""The emoji datasets: the shipped 1,870 (``embedded``), the rendered full set (``emoji``), and how both are made."""

import collections
import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from genkit.data import emoji as emoji_module
from genkit.data.emoji import (
    EMBEDDED_EMOJI_DIR, EMBEDDED_KIND, EMOJI_KIND, FIELDS, NOTO_COLOR_EMOJI, SPLIT_FRACTIONS, SPLIT_SEED, Emoji,
    EmojiRenderer, load_embedded, load_emoji, parse_cldr_annotations, parse_emoji_test, raqm_available, read_embedded,
    references_of, source_files, split_assignment,
)
from genkit.data.paired_dataset import stratified_split
from genkit.errors import UserError

HAS_FONT = NOTO_COLOR_EMOJI.is_file()
HAS_RAQM = raqm_available()
needs_renderer = pytest.mark.skipif(
    not (HAS_FONT and HAS_RAQM),
    reason=f"rendering needs {NOTO_COLOR_EMOJI} (fonts-noto-color-emoji) and Pillow's raqm (libraqm0); "
    f"font {'found' if HAS_FONT else 'missing'}, raqm {'found' if HAS_RAQM else 'missing'}",
)


def _has_debian_sources() -> bool:
    try:
        source_files()
    except UserError:
        return False
    return True


needs_sources = pytest.mark.skipif(
    not (_has_debian_sources() and HAS_RAQM),
    reason="needs Debian's unicode-data, unicode-cldr-core and fonts-noto-color-emoji, and Pillow's raqm",
)

FAMILY = "\U0001F468\u200D\U0001F469\u200D\U0001F467"  # man, ZWJ, woman, ZWJ, girl
FLAG_US = "\U0001F1FA\U0001F1F8"
FLAG_ENGLAND = "\U0001F3F4\U000E0067\U000E0062\U000E0065\U000E006E\U000E0067\U000E007F"
KEYCAP_HASH = "#\uFE0F\u20E3"


@pytest.fixture(scope="module")
def embedded():
    return load_embedded(None)


def _make_emoji_module():
    path = EMBEDDED_EMOJI_DIR.parent / "make_emoji.py"
    spec = importlib.util.spec_from_file_location("make_emoji", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ------------------------------------------------------------------------------------------ the shipped set


def test_embedded_is_1870_emoji_at_32x32_with_names_and_keywords(embedded):
    assert embedded.name == "embedded" and embedded.fields == FIELDS == ("image", "text", "label", "group")
    assert [feature.type for feature in embedded.features] == ["image", "text", "label", "label"]
    assert sum(embedded.num_examples(split) for split in embedded.splits) == 1870
    assert embedded.num_classes("group") == 9 and embedded.num_classes("label") == 99
    for name in ("label", "group"):
        assert embedded.label_names[name] == sorted(embedded.label_names[name])
    for split in ("train", "validation", "test"):
        arrays = embedded.split(split)
        assert arrays["image"].dtype == np.uint8 and arrays["image"].shape[1:] == (32, 32, 3)
        assert arrays["label"].dtype == np.int32 and arrays["group"].dtype == np.int32
        assert all(isinstance(refs, tuple) and refs and all(refs) for refs in arrays["text"])
        assert all(len(set(r.casefold() for r in refs)) == len(refs) for refs in arrays["text"])
    train = embedded.split("train")
    first = train["text"][0]
    assert first[:3] == ("grinning face", "face", "grin")
    assert embedded.label_names["label"][train["label"][0]] == "face-smiling"
    assert embedded.label_names["group"][train["group"][0]] == "Smileys & Emotion"
    # White corners (the background) and coloured ink in the middle.
    images = train["image"]
    assert (images[:, 0, 0] > 235).all() and images[:, 8:24, 8:24].std() > 20
    spec = embedded.spec()
    assert spec["image_shapes"] == {"image": [32, 32, 3]}
    assert "Open Font License 1.1" in spec["licence"] and str(SPLIT_SEED) in spec["split_protocol"]


def test_embedded_split_is_fixed_seeded_and_stratified_by_subgroup(embedded):
    counts = {split: collections.Counter(embedded.split(split)["label"].tolist()) for split in embedded.splits}
    assert {split: sum(c.values()) for split, c in counts.items()} == {"train": 1478, "validation": 196, "test": 196}
    totals = counts["train"] + counts["validation"] + counts["test"]
    for label, total in totals.items():
        if total >= 3:
            assert all(counts[split][label] >= 1 for split in counts), embedded.label_names["label"][label]
    # The shipped split is stratified_split over the subgroups with the fixed seed, in the file's order.
    emoji, _, splits = read_embedded()
    subgroups = sorted({entry.subgroup for entry in emoji})
    labels = np.asarray([subgroups.index(entry.subgroup) for entry in emoji])
    assert list(stratified_split(labels, SPLIT_FRACTIONS, SPLIT_SEED)) == splits
    assert list(split_assignment(emoji)) == splits
    assert not any(entry.has_skin_tone for entry in emoji)


def test_embedded_takes_an_image_size_and_ignores_other_options():
    data = load_embedded(None, data_dir="/nonexistent", image_size=16, seed=7, sample_rate=16000, audio_seconds=1.0)
    assert data.split("test")["image"].shape[1:] == (16, 16, 3) and data.split("test")["image"].dtype == np.uint8
    assert data.num_examples("test") == 196  # the seed does not move the fixed split
    with pytest.raises(UserError, match="image_size must be"):
        load_embedded(None, image_size="big")


def test_the_datasets_are_registered_with_their_fields():
    from genkit.data.dataset_registry import _DATASETS

    assert EMBEDDED_KIND.fields == EMOJI_KIND.fields == ("image", "text", "label", "group")
    assert EMBEDDED_KIND in _DATASETS["embedded"] and EMOJI_KIND in _DATASETS["emoji"]
    assert EMBEDDED_KIND.loader is load_embedded and EMOJI_KIND.loader is load_emoji
    assert not EMBEDDED_KIND.takes_argument and not EMOJI_KIND.takes_argument


def test_a_model_of_paired_images_and_texts_gets_the_emoji_as_embedded():
    from genkit.data.dataset_registry import load_dataset

    data = load_dataset("embedded", ("image", "text", "label"), "a paired model", image_size=None, sample_rate=16000)
    assert data.name == "embedded" and data.fields == FIELDS and data.num_examples("train") == 1478


def test_importing_the_emoji_module_does_not_import_tensorflow():
    code = "import sys, genkit.data.emoji; print('tensorflow' in sys.modules)"
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert output.stdout.strip() == "False"


def test_the_shipped_files_carry_their_notice_and_licences():
    import json

    metadata = json.loads((EMBEDDED_EMOJI_DIR / "emoji.json").read_text(encoding="utf-8"))
    assert "modified" in metadata["notice"] and metadata["dropped"] == [] and len(metadata["emoji"]) == 1870
    assert set(metadata["sources"]) >= {"fonts-noto-color-emoji", "unicode-data", "unicode-cldr-core"}
    licences = (EMBEDDED_EMOJI_DIR / "LICENSES.md").read_text(encoding="utf-8")
    assert "SIL OPEN FONT LICENSE Version 1.1" in licences and "UNICODE" in licences.upper()


# ------------------------------------------------------------------------------------------ parsing (no Debian)

EMOJI_TEST_SAMPLE = """\
# group: People & Body

# subgroup: hand-fingers-open
1F44B                                                  ; fully-qualified     # 👋 E0.6 waving hand
1F44B 1F3FB                                            ; fully-qualified     # 👋🏻 E1.0 waving hand: light skin tone

# subgroup: family
1F468 200D 1F469 200D 1F467                            ; fully-qualified     # 👨‍👩‍👧 E2.0 family: man, woman, girl

# group: Flags

# subgroup: country-flag
1F1FA 1F1F8                                            ; fully-qualified     # 🇺🇸 E2.0 flag: United States

# subgroup: other-symbol
263A FE0F                                              ; fully-qualified     # ☺️ E0.6 smiling face
263A                                                   ; unqualified         # ☺ E0.6 smiling face
"""

CLDR_SAMPLE = """\
<?xml version="1.0" encoding="UTF-8" ?>
<ldml><annotations>
  <annotation cp="👋">hand | wave | waving</annotation>
  <annotation cp="👋" type="tts">waving hand</annotation>
  <annotation cp="☺">face | outlined | relaxed | smile | smiling face</annotation>
  <annotation cp="☺" type="tts">smiling face</annotation>
  <annotation cp="🇺🇸">flag</annotation>
  <annotation cp="🇺🇸" type="tts">flag: United States</annotation>
</annotations></ldml>
"""

DERIVED_SAMPLE = """\
<?xml version="1.0" encoding="UTF-8" ?>
<ldml><annotations>
  <annotation cp="👋🏻">hand | light skin tone | wave | waving | waving hand</annotation>
  <annotation cp="👋🏻" type="tts">waving hand: light skin tone</annotation>
  <annotation cp="👨‍👩‍👧">daughter | family | man | woman</annotation>
  <annotation cp="👨‍👩‍👧" type="tts">family: man, woman, girl</annotation>
</annotations></ldml>
"""


def test_parsing_keeps_fully_qualified_emoji_with_groups_bases_and_references(tmp_path):
    (tmp_path / "emoji-test.txt").write_text(EMOJI_TEST_SAMPLE, encoding="utf-8")
    (tmp_path / "en.xml").write_text(CLDR_SAMPLE, encoding="utf-8")
    (tmp_path / "derived.xml").write_text(DERIVED_SAMPLE, encoding="utf-8")
    emoji = parse_emoji_test(tmp_path / "emoji-test.txt")
    assert [entry.hex for entry in emoji] == ["1F44B", "1F44B 1F3FB", "1F468 200D 1F469 200D 1F467", "1F1FA 1F1F8", "263A FE0F"]
    assert [entry.group for entry in emoji] == ["People & Body"] * 3 + ["Flags"] * 2
    assert emoji[1].has_skin_tone and emoji[1].base == "waving hand" and emoji[2].base == emoji[2].name
    assert emoji[3].name == "flag: United States" and emoji[3].version == "2.0"
    short_names, keywords = parse_cldr_annotations(tmp_path / "en.xml", tmp_path / "derived.xml")
    references = [references_of(entry, short_names, keywords) for entry in emoji]
    assert references[0] == ("waving hand", "hand", "wave", "waving")
    assert references[1] == ("waving hand: light skin tone", "hand", "light skin tone", "wave", "waving", "waving hand")
    assert references[2] == ("family: man, woman, girl", "daughter", "family", "man", "woman")
    assert references[3] == ("flag: united states", "flag")  # the short name differs only in case
    assert references[4] == ("smiling face", "face", "outlined", "relaxed", "smile")  # looked up without U+FE0F
    # A skin-tone variant follows the split of the emoji it varies.
    splits = split_assignment(emoji)
    assert splits[0] == splits[1]


def test_missing_sources_are_one_line_naming_the_debian_package(tmp_path, monkeypatch):
    with pytest.raises(UserError, match=r"emoji-test.txt not found; run 'apt-get install unicode-data'"):
        load_emoji(None, data_dir=tmp_path)
    (tmp_path / "emoji-test.txt").write_text(EMOJI_TEST_SAMPLE, encoding="utf-8")
    with pytest.raises(UserError, match=r"en.xml not found; run 'apt-get install unicode-cldr-core'") as raised:
        load_emoji(None, data_dir=tmp_path)
    assert "\n" not in str(raised.value)
    for folder in ("annotations", "annotationsDerived"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "en.xml").write_text(CLDR_SAMPLE, encoding="utf-8")
    with pytest.raises(UserError, match=r"NotoColorEmoji.ttf not found; run 'apt-get install fonts-noto-color-emoji'"):
        load_emoji(None, data_dir=tmp_path)
    monkeypatch.setattr(emoji_module, "raqm_available", lambda: False)
    with pytest.raises(UserError, match=r"no raqm text shaping.*apt-get install libraqm0"):
        EmojiRenderer()


# ----------------------------------------------------------------------------------------------- rendering


@needs_renderer
def test_zwj_sequences_flags_and_keycaps_render_as_one_glyph():
    renderer = EmojiRenderer()
    man, _ = renderer.render("\U0001F468", 32)
    for text in (FAMILY, FLAG_US, FLAG_ENGLAND, KEYCAP_HASH, "\u2764\uFE0F\u200D\U0001F525", "\U0001F44B\U0001F3FD"):
        assert renderer.problem(text) is None, text
        picture = renderer.draw(text)
        assert picture is not None and picture.width <= 1.1 * renderer.single_width, text
        image, reason = renderer.render(text, 32)
        assert reason is None and image.shape == (32, 32, 3) and image.dtype == np.uint8
        assert (image[0, 0] > 235).all() and image.std() > 20
    family, _ = renderer.render(FAMILY, 32)
    assert np.abs(family.astype(int) - man.astype(int)).mean() > 10  # a family, not just its first person


@needs_renderer
def test_unjoined_sequences_and_missing_glyphs_are_dropped_with_a_reason():
    renderer = EmojiRenderer()
    assert "glyph widths" in renderer.render("\U0001F600\U0001F600", 32)[1]
    assert "renders empty" in renderer.render("\U000F0000", 32)[1]  # a private-use code point: no glyph
    entries = [
        Emoji((0x1F600,), "grinning face", "g", "s", "1.0", "grinning face"),
        Emoji((0xF0000,), "nothing", "g", "s", "1.0", "nothing"),
    ]
    images, kept, dropped = emoji_module.render_emoji(entries, (24, 40), renderer)
    assert images.shape == (1, 24, 40, 3) and kept == entries[:1] and dropped[0][0] is entries[1]


@needs_sources
def test_make_emoji_builds_byte_identical_files_that_load(tmp_path):
    make_emoji = _make_emoji_module()
    outputs, summary = make_emoji.build(limit=12)
    again, _ = make_emoji.build(limit=12)
    assert outputs == again
    assert summary["emoji"] == 12 and not summary["dropped"] and summary["groups"] == 1
    for name, data in outputs.items():
        (tmp_path / name).write_bytes(data)
    emoji, images, splits = read_embedded(tmp_path)
    assert images.shape == (12, 32, 32, 3) and emoji[0].name == "grinning face" and set(splits) <= set(SPLIT_FRACTIONS)
    # The shipped files are the first rows of the full build.
    shipped, shipped_images, _ = read_embedded()
    assert [entry.references for entry in emoji] == [entry.references for entry in shipped[:12]]
    assert np.abs(images.astype(int) - shipped_images[:12].astype(int)).max() <= 2


@needs_sources
def test_the_emoji_spec_renders_a_subset_and_caches_it(tmp_path, monkeypatch):
    data = load_emoji(None, limit=40, cache_dir=tmp_path, sample_rate=16000)
    assert data.name == "emoji" and data.fields == FIELDS
    assert sum(data.num_examples(split) for split in data.splits) == 40
    assert data.split("train")["image"].shape[1:] == (64, 64, 3)
    assert data.split("train")["text"][0][0] == "grinning face"
    cached = list(tmp_path.glob("emoji-*.npz"))
    assert len(cached) == 1 and not list(tmp_path.glob(".*tmp*"))

    def no_rendering(*_, **__):
        raise AssertionError("rendered again instead of reading the cache")

    monkeypatch.setattr(emoji_module, "render_emoji", no_rendering)
    again = load_emoji(None, limit=40, cache_dir=tmp_path)
    np.testing.assert_array_equal(again.split("train")["image"], data.split("train")["image"])
    monkeypatch.undo()
    small = load_emoji(None, limit=10, cache_dir=tmp_path, image_size=24)
    assert small.split("train")["image"].shape[1:] == (24, 24, 3) and len(list(tmp_path.glob("emoji-*.npz"))) == 2

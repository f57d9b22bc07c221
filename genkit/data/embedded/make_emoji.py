"""Regenerates the embedded emoji set (``emoji/images.npz``, ``emoji/emoji.json``) from Debian's packages.

    python genkit/data/embedded/make_emoji.py [DESTINATION]

Takes every fully-qualified emoji of unicode-data's ``emoji-test.txt`` that
has no skin-tone modifier (U+1F3FB..U+1F3FF), in the file's order; renders
it at 32x32 with fonts-noto-color-emoji through Pillow and raqm
(genkit.data.emoji); adds the lowercased Unicode name and unicode-cldr-core's
English short name and keywords as references; and cuts the fixed seeded
80/10/10 split stratified by subgroup. The .npz is a zip with fixed entry
dates and the JSON is written with sorted keys, so running it twice on the
same packages gives byte-identical files.
"""

from __future__ import annotations

import collections
import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np

from genkit.data.emoji import (
    EMBEDDED_IMAGE_SIZE, EMBEDDED_IMAGES, EMBEDDED_METADATA, SPLIT_PROTOCOL, SPLIT_SEED, VARIATION_SELECTOR_16,
    EmojiRenderer, parse_cldr_annotations, read_sources, render_emoji, report_dropped, source_files, split_assignment,
)

PACKAGES = ("fonts-noto-color-emoji", "unicode-data", "unicode-cldr-core")
ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # the earliest date a zip entry can hold: no build time in the file
NOTICE = (
    "Derived from Unicode emoji-test.txt (names, groups, subgroups; Unicode licence) and Unicode CLDR "
    "annotations/en.xml and annotationsDerived/en.xml (short names, keywords; Unicode-DFS-2016): modified "
    "(selected, lowercased, merged, deduplicated) by genkit/data/embedded/make_emoji.py. Pictures rendered from "
    "Noto Color Emoji (SIL Open Font License 1.1). See LICENSES.md."
)


def package_versions() -> dict[str, str]:
    """The installed version of each source package, as dpkg-query reports it ("unknown" without dpkg)."""
    versions = {}
    for package in PACKAGES:
        try:
            output = subprocess.run(
                ["dpkg-query", "-W", "-f=${Version}", package], capture_output=True, text=True, timeout=10,
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            output = ""
        versions[package] = output or "unknown"
    return versions


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    """An .npz (np.load reads it) whose bytes depend only on the arrays: fixed entry dates and order."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, array in arrays.items():
            member = io.BytesIO()
            np.lib.format.write_array(member, np.ascontiguousarray(array), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, member.getvalue(), compresslevel=9)
    return buffer.getvalue()


def metadata_bytes(emoji, splits, dropped, sources: dict, pillow: dict) -> bytes:
    """emoji.json: the notice and provenance, then one emoji a line (in the images' order)."""
    rows = [
        {
            "codepoints": entry.hex, "emoji": entry.text, "name": entry.name, "references": list(entry.references),
            "group": entry.group, "subgroup": entry.subgroup, "version": entry.version, "split": str(split),
        }
        for entry, split in zip(emoji, splits)
    ]
    header = {
        "notice": NOTICE,
        "sources": sources,
        "renderer": pillow,
        "image_size": EMBEDDED_IMAGE_SIZE,
        "images": f"{EMBEDDED_IMAGES} [images]: uint8 [{len(rows)}, {EMBEDDED_IMAGE_SIZE}, {EMBEDDED_IMAGE_SIZE}, 3]",
        "split_seed": SPLIT_SEED,
        "split_protocol": SPLIT_PROTOCOL,
        "counts": dict(sorted(collections.Counter(str(split) for split in splits).items())),
        "dropped": [{"codepoints": entry.hex, "name": entry.name, "reason": reason} for entry, reason in dropped],
    }
    lines = ["{"]
    for key, value in header.items():
        lines.append(f"  {json.dumps(key)}: {json.dumps(value, ensure_ascii=False, sort_keys=True)},")
    lines.append('  "emoji": [')
    lines += [f"    {json.dumps(row, ensure_ascii=False, sort_keys=True)}," for row in rows]
    if rows:
        lines[-1] = lines[-1].rstrip(",")
    lines += ["  ]", "}"]
    return ("\n".join(lines) + "\n").encode("utf-8")


def build(files: dict[str, Path] | None = None, limit: int | None = None):
    """``({file name: bytes}, summary)`` for the emoji without skin tones (the first ``limit`` of them)."""
    from PIL import __version__ as pillow_version
    from PIL import features

    files = files or source_files()
    emoji = [entry for entry in read_sources(files) if not entry.has_skin_tone]
    if limit is not None:
        emoji = emoji[:limit]
    images, kept, dropped = render_emoji(emoji, EMBEDDED_IMAGE_SIZE, EmojiRenderer(files["font"]))
    splits = split_assignment(kept)
    _, keywords = parse_cldr_annotations(files["annotations"], files["derived_annotations"])
    sources = package_versions()
    sources["files"] = {role: str(path) for role, path in sorted(files.items())}
    pillow = {"pillow": pillow_version, "raqm": features.version("raqm"), "freetype2": features.version("freetype2")}
    outputs = {
        EMBEDDED_IMAGES: npz_bytes({"images": images}),
        EMBEDDED_METADATA: metadata_bytes(kept, splits, dropped, sources, pillow),
    }
    summary = {
        "emoji": len(kept), "dropped": dropped, "groups": len({entry.group for entry in kept}),
        "subgroups": len({entry.subgroup for entry in kept}),
        "splits": dict(collections.Counter(str(split) for split in splits)),
        "name_only": sum(len(entry.references) == 1 for entry in kept),
        "not_in_cldr": [entry.name for entry in kept if entry.text.replace(VARIATION_SELECTOR_16, "") not in keywords],
    }
    return outputs, summary


def main(destination: Path) -> None:
    outputs, summary = build()
    report_dropped(summary["dropped"], "make_emoji")
    destination.mkdir(parents=True, exist_ok=True)
    for name, data in outputs.items():
        (destination / name).write_bytes(data)
        print(f"{destination / name}: {len(data):,} bytes")
    splits = summary["splits"]
    print(
        f"{summary['emoji']} emoji ({len(summary['dropped'])} dropped) in {summary['groups']} groups, "
        f"{summary['subgroups']} subgroups; train {splits.get('train', 0)}, validation {splits.get('validation', 0)}, "
        f"test {splits.get('test', 0)}; {summary['name_only']} with their name as the only reference"
    )
    if summary["not_in_cldr"]:
        print(f"{len(summary['not_in_cldr'])} not in the CLDR annotations: {', '.join(summary['not_in_cldr'])}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent / "emoji")

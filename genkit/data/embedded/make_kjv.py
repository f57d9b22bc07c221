"""Regenerates the embedded default text corpus from Debian's bible-kjv package.

    python genkit/data/embedded/make_kjv.py

Runs ``bible -f "Gen1:1-Rev22:21"`` (the whole King James Version, one verse
per line, each line starting with its reference such as ``Ge1:1``) and writes
its output unchanged as gzip with mtime 0, so running it again with the same
package gives byte-identical output.
"""

import gzip
import subprocess
from pathlib import Path

DESTINATION = Path(__file__).parent / "kjv.txt.gz"


def main() -> None:
    text = subprocess.run(
        ["bible", "-f", "Gen1:1-Rev22:21"], stdin=subprocess.DEVNULL, capture_output=True, check=True, timeout=300,
    ).stdout
    text.decode("utf-8")  # it is ASCII; fail loudly if a future package is not UTF-8
    with open(DESTINATION, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=9, mtime=0) as out:
        out.write(text)
    print(f"{DESTINATION}: {len(text)} bytes of text")


if __name__ == "__main__":
    main()

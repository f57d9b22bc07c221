"""Images inlined in the report as data: URIs, made small enough that hundreds of epochs stay one file."""

from __future__ import annotations

import base64
import io
from pathlib import Path

from PIL import Image

# A sample grid is kept as its own PNG up to this size; a larger one (a colourful 274 px emoji grid is
# ~125 KiB) becomes a WebP at quality 90 (~30 KiB), so 40 frames stay near 1.5 MB.
KEEP_PNG_BYTES = 48 * 1024
WEBP_QUALITY = 90


def evenly_spaced(count: int, limit: int) -> list[int]:
    """At most ``limit`` indices of ``count`` items, evenly spaced, always the first and the last."""
    if count <= limit:
        return list(range(count))
    if limit == 1:
        return [count - 1]
    return sorted({round(step * (count - 1) / (limit - 1)) for step in range(limit)})


def image_data_uri(path: Path, max_side: int = 512, lossy_allowed: bool = True) -> tuple[str, int, int]:
    """(data: URI, width, height) of an image file, downscaled to ``max_side`` pixels on its longer side.

    A PNG that is small and not downscaled is inlined byte for byte; otherwise it is re-encoded: as PNG
    when ``lossy_allowed`` is false or the PNG is small, else as WebP (quality 90).
    """
    data = path.read_bytes()
    with Image.open(io.BytesIO(data)) as opened:
        image = opened.copy()
        original_format = opened.format
    resized = max(image.size) > max_side
    if resized:
        image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    if not resized and original_format == "PNG" and (len(data) <= KEEP_PNG_BYTES or not lossy_allowed):
        return _data_uri("image/png", data), *image.size
    png = _encoded(image, "PNG", optimize=True)
    if len(png) <= KEEP_PNG_BYTES or not lossy_allowed:
        return _data_uri("image/png", png), *image.size
    rgb = image if image.mode in ("RGB", "RGBA") else image.convert("RGBA" if "A" in image.mode else "RGB")
    return _data_uri("image/webp", _encoded(rgb, "WEBP", quality=WEBP_QUALITY, method=6)), *image.size


def _encoded(image: Image.Image, image_format: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, image_format, **options)
    return buffer.getvalue()


def _data_uri(mime_type: str, data: bytes) -> str:
    return f"data:{mime_type};base64,{base64.b64encode(data).decode('ascii')}"

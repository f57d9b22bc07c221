"""Image files as a model's serving graph reads them: their bytes, checked first so a bad file is one clear line."""

from __future__ import annotations

from genkit.data.paths import user_path
from genkit.errors import UserError

# What tf.io.decode_image (the serving graphs' decoder) reads, as Pillow names the formats.
DECODABLE_FORMATS = ("PNG", "JPEG", "GIF", "BMP")


def read_image_bytes(paths, where: str = "image") -> list[bytes]:
    """The contents of the image files ``paths``; a missing, unreadable or undecodable file is one line naming it
    (``where``: the flag or field the paths came from). Decode them with the model's own graph
    (``PairedPreprocessor.decode_files``), so a file gives the pixels its serving signature would give it."""
    import io

    from PIL import Image, UnidentifiedImageError

    contents = []
    for path in paths:
        file = user_path(path)
        if not file.is_file():
            raise UserError(f"{where} {path}: file not found")
        data = file.read_bytes()
        try:
            with Image.open(io.BytesIO(data)) as image:
                image_format = image.format
                image.load()
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
            raise UserError(f"{where} {path}: not a readable image ({type(error).__name__})") from None
        if image_format not in DECODABLE_FORMATS:
            raise UserError(f"{where} {path}: a {image_format} image; allowed: {', '.join(DECODABLE_FORMATS)} files")
        contents.append(data)
    return contents

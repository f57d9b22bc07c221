"""Reading and writing IDX files (the format of MNIST and Fashion-MNIST), gzip-compressed or plain."""

from __future__ import annotations

import gzip
import math
import struct
import zlib
from pathlib import Path

import numpy as np

from genkit.errors import UserError

# Magic numbers: 0x0000 then the element type (0x08 = unsigned byte) then the number of dimensions.
IMAGES_MAGIC = 0x00000803
LABELS_MAGIC = 0x00000801


def _read_bytes(path: Path) -> bytes:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise UserError(f"{path}: file not found") from None
    except OSError as error:
        raise UserError(f"{path}: cannot read file ({error.strerror})") from None
    if raw[:2] != b"\x1f\x8b":
        return raw
    try:
        return gzip.decompress(raw)
    except (EOFError, OSError, zlib.error) as error:
        raise UserError(f"{path}: truncated or corrupt gzip data ({error})") from None


def read_idx(path: str | Path, expected_magic: int | None = None) -> np.ndarray:
    """Reads an unsigned-byte IDX file into a uint8 array of its declared shape.

    Errors name the file: missing, corrupt gzip, wrong magic number, or a
    payload shorter or longer than the header declares.
    """
    path = Path(path)
    data = _read_bytes(path)
    if len(data) < 4:
        raise UserError(f"{path}: too short to be an IDX file ({len(data)} bytes)")
    (magic,) = struct.unpack(">I", data[:4])
    allowed = (expected_magic,) if expected_magic is not None else (IMAGES_MAGIC, LABELS_MAGIC)
    if magic not in allowed:
        raise UserError(
            f"{path}: wrong magic number 0x{magic:08x}; expected "
            + " or ".join(f"0x{m:08x}" for m in allowed)
            + " (an unsigned-byte IDX file)"
        )
    dimensions = magic & 0xFF
    header_size = 4 + 4 * dimensions
    if len(data) < header_size:
        raise UserError(f"{path}: truncated IDX header")
    shape = struct.unpack(f">{dimensions}I", data[4:header_size])
    expected = math.prod(shape)  # exact: np.prod wraps around 2**64 (a 16-byte header could declare 0 bytes)
    payload = len(data) - header_size
    if payload != expected:
        raise UserError(
            f"{path}: the header declares shape {list(shape)} ({expected} bytes) but the file holds {payload} bytes"
            + (" (truncated)" if payload < expected else "")
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header_size).reshape(shape)


def write_idx(path: str | Path, array: np.ndarray) -> None:
    """Writes a uint8 array as a gzip-compressed IDX file (byte-stable: gzip mtime 0)."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = struct.pack(">I", 0x00000800 | array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    Path(path).write_bytes(gzip.compress(header + array.tobytes(), compresslevel=9, mtime=0))

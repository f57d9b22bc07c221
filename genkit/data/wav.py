"""WAV files with NumPy alone: :func:`read_wav`, :func:`write_wav`, and the clip helpers audio features need.

:func:`read_wav` parses RIFF/WAVE itself. It reads PCM (8-bit unsigned, 16-,
24- and 32-bit signed), IEEE float (32 and 64 bit) and WAVE_FORMAT_EXTENSIBLE
files holding either, with any number of channels, and skips chunks it does
not need (LIST, fact, cue, ...). Samples come back as float32
[samples, channels] in [-1, 1]: integers are divided by their full scale
(2 ** (bits - 1), so int16 32767 reads as 32767 / 32768), floats are clipped.
Sample rates from 8 kHz to 48 kHz are allowed.

:func:`to_mono`, :func:`resample` (windowed-sinc, band-limited) and
:func:`fit_length` turn a clip into the fixed-length mono waveform of an
audio feature.
"""

from __future__ import annotations

import math
import os
import struct
from pathlib import Path

import numpy as np

from genkit.errors import UserError

MIN_SAMPLE_RATE, MAX_SAMPLE_RATE = 8_000, 48_000
PCM, IEEE_FLOAT, EXTENSIBLE = 0x0001, 0x0003, 0xFFFE
# write_wav's sample formats: (format tag, bytes per sample).
SAMPLE_FORMATS = {
    "uint8": (PCM, 1), "int16": (PCM, 2), "int24": (PCM, 3), "int32": (PCM, 4),
    "float32": (IEEE_FLOAT, 4), "float64": (IEEE_FLOAT, 8),
}
SUPPORTED = "PCM 8/16/24/32-bit or IEEE float 32/64-bit"


def check_sample_rate(rate, where: str) -> int:
    """``rate`` as an int when it is an integer from 8000 to 48000 Hz; else a UserError naming ``where``."""
    if isinstance(rate, bool) or not isinstance(rate, (int, np.integer)) or not MIN_SAMPLE_RATE <= rate <= MAX_SAMPLE_RATE:
        raise UserError(f"{where}: sample rate {rate} Hz is not supported; allowed: {MIN_SAMPLE_RATE} to {MAX_SAMPLE_RATE} Hz")
    return int(rate)


def read_wav(source: str | os.PathLike | bytes, name: str | None = None) -> tuple[np.ndarray, int]:
    """Reads a WAV file (a path, or its bytes) as (float32 [samples, channels] in [-1, 1], sample rate in Hz).

    ``name`` is how errors name the file (default: the path, or "WAV data").
    A file that is not RIFF/WAVE, is cut short, or holds an unsupported format
    or rate is a one-line UserError naming it.
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        data, where = bytes(source), name or "WAV data"
    else:
        where = name or str(source)
        try:
            data = Path(source).read_bytes()
        except FileNotFoundError:
            raise UserError(f"{where}: file not found") from None
        except OSError as error:
            raise UserError(f"{where}: cannot read the file ({error.strerror or type(error).__name__})") from None
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise UserError(f"{where}: not a WAV file (no RIFF/WAVE header)")
    chunks, offset = {}, 12
    while offset + 8 <= len(data):
        chunk_id, size = struct.unpack_from("<4sI", data, offset)
        start = offset + 8
        if chunk_id == b"data" and size == 0xFFFFFFFF:  # written by a stream that never knew its length
            size = len(data) - start
        if start + size > len(data):
            name = chunk_id.decode("latin-1")  # any 4 bytes: shown escaped, on one line
            raise UserError(f"{where}: truncated WAV file ({name!r} chunk declares {size} bytes, {len(data) - start} remain)")
        chunks.setdefault(chunk_id, data[start : start + size])
        offset = start + size + (size & 1)  # chunks are padded to an even length
    if b"fmt " not in chunks or b"data" not in chunks:
        missing = "fmt " if b"fmt " not in chunks else "data"
        raise UserError(f"{where}: truncated or invalid WAV file (no '{missing}' chunk)")
    return _decode(chunks[b"fmt "], chunks[b"data"], where)


def _decode(fmt: bytes, data: bytes, where: str) -> tuple[np.ndarray, int]:
    if len(fmt) < 16:
        raise UserError(f"{where}: invalid WAV file ('fmt ' chunk of {len(fmt)} bytes, needs 16)")
    tag, channels, rate, _, block_align, bits = struct.unpack_from("<HHIIHH", fmt)
    if tag == EXTENSIBLE:
        if len(fmt) < 40:
            raise UserError(f"{where}: invalid WAV file (WAVE_FORMAT_EXTENSIBLE 'fmt ' chunk of {len(fmt)} bytes, needs 40)")
        tag = struct.unpack_from("<H", fmt, 24)[0]  # the first two bytes of the sub-format GUID
    width = block_align // channels if channels else 0
    valid = channels > 0 and block_align == channels * width and width == math.ceil(bits / 8)
    if not valid or not ((tag == PCM and width in (1, 2, 3, 4)) or (tag == IEEE_FLOAT and width in (4, 8))):
        raise UserError(
            f"{where}: unsupported WAV format (format tag {tag:#06x}, {bits}-bit, {channels} channels, "
            f"block align {block_align}); allowed: {SUPPORTED}"
        )
    check_sample_rate(rate, where)
    frames = len(data) // block_align  # a partial last frame is dropped
    data = data[: frames * block_align]
    if tag == IEEE_FLOAT:
        samples = np.frombuffer(data, f"<f{width}")
        if not np.isfinite(samples).all():
            raise UserError(f"{where}: the WAV file holds NaN or infinite samples")
        samples = np.clip(samples, -1.0, 1.0)
    elif width == 1:
        samples = (np.frombuffer(data, np.uint8).astype(np.float32) - 128) / 128
    elif width == 3:  # little-endian 24-bit: put each sample in the top three bytes of an int32
        padded = np.zeros((frames * channels, 4), np.uint8)
        padded[:, 1:] = np.frombuffer(data, np.uint8).reshape(-1, 3)
        samples = padded.view("<i4").ravel() / 2.0**31
    else:
        samples = np.frombuffer(data, f"<i{width}") / 2.0 ** (8 * width - 1)
    return samples.astype(np.float32).reshape(frames, channels), rate


def write_wav(path: str | os.PathLike, waveform, sample_rate: int, sample_format: str = "int16") -> None:
    """Writes ``waveform`` (floats in [-1, 1], [samples] or [samples, channels]) as a WAV file (see :func:`wav_bytes`)."""
    Path(path).write_bytes(wav_bytes(waveform, sample_rate, sample_format, str(path)))


def wav_bytes(waveform, sample_rate: int, sample_format: str = "int16", path: str = "WAV data") -> bytes:
    """The WAV file of ``waveform`` (floats in [-1, 1], [samples] or [samples, channels]).

    ``sample_format`` is one of uint8, int16, int24, int32 (PCM) or float32,
    float64 (IEEE float). Values are clipped to [-1, 1] and integers rounded,
    so :func:`read_wav` returns the waveform up to one step of the format.
    """
    if sample_format not in SAMPLE_FORMATS:
        raise UserError(f"{path}: sample format {sample_format!r} is not supported; allowed: {', '.join(SAMPLE_FORMATS)}")
    sample_rate = check_sample_rate(sample_rate, str(path))
    samples = np.asarray(waveform, np.float64)
    samples = samples[:, np.newaxis] if samples.ndim == 1 else samples
    if samples.ndim != 2 or samples.shape[1] == 0:
        raise UserError(f"{path}: a waveform must be [samples] or [samples, channels]; got shape {list(samples.shape)}")
    tag, width = SAMPLE_FORMATS[sample_format]
    samples = np.clip(np.nan_to_num(samples), -1.0, 1.0)
    if tag == IEEE_FLOAT:
        data = samples.astype(f"<f{width}").tobytes()
    elif width == 1:
        data = np.clip(np.round(samples * 128) + 128, 0, 255).astype(np.uint8).tobytes()
    else:
        full_scale = 2 ** (8 * width - 1)
        integers = np.clip(np.round(samples * full_scale), -full_scale, full_scale - 1).astype("<i4")
        data = integers.view(np.uint8).reshape(-1, 4)[:, :width].tobytes()  # the low `width` bytes of each int32
    channels = samples.shape[1]
    fmt = struct.pack("<HHIIHH", tag, channels, sample_rate, sample_rate * channels * width, channels * width, 8 * width)
    body = b"WAVE" + _chunk(b"fmt ", fmt) + _chunk(b"data", data)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def _chunk(chunk_id: bytes, payload: bytes) -> bytes:
    return chunk_id + struct.pack("<I", len(payload)) + payload + b"\0" * (len(payload) & 1)


def to_mono(waveform: np.ndarray) -> np.ndarray:
    """float32 [samples]: the mean of the channels of [samples, channels] (a [samples] waveform as it is)."""
    waveform = np.asarray(waveform, np.float32)
    return waveform if waveform.ndim == 1 else waveform.mean(axis=1)


def resample(waveform: np.ndarray, from_rate: int, to_rate: int, zero_crossings: int = 16, rolloff: float = 0.945) -> np.ndarray:
    """``waveform`` ([samples] or [samples, channels]) resampled from ``from_rate`` to ``to_rate`` Hz, float32.

    A band-limited polyphase resampler: every output sample is a
    Kaiser-windowed sinc interpolation of the input at its time, with the
    cut-off at ``rolloff`` times the lower of the two Nyquist frequencies
    (so downsampling removes what would alias). ``zero_crossings`` of the
    sinc on each side set the filter length. The output has
    ceil(samples * to_rate / from_rate) samples; the ends see zeros beyond
    the clip.
    """
    waveform = np.asarray(waveform, np.float32)
    if from_rate <= 0 or to_rate <= 0:
        raise ValueError(f"Sample rates must be positive. Received: {from_rate}, {to_rate}")
    if from_rate == to_rate or len(waveform) == 0:
        return waveform.copy()
    common = math.gcd(int(from_rate), int(to_rate))
    up, down = int(to_rate) // common, int(from_rate) // common  # output n sits at input time n * down / up
    cutoff = rolloff * min(1.0, up / down)  # as a fraction of the input's Nyquist frequency
    half = math.ceil(zero_crossings / cutoff)  # taps on each side, in input samples
    taps = np.arange(-half + 1, half + 1)
    distance = np.arange(up)[:, np.newaxis] / up - taps  # [phase, tap]: output time minus input sample time
    beta = 8.6  # Kaiser window shape: about 90 dB stop-band attenuation
    window = np.i0(beta * np.sqrt(np.clip(1 - (distance / half) ** 2, 0, 1))) / np.i0(beta)
    weights = cutoff * np.sinc(cutoff * distance) * window
    weights /= weights.sum(axis=1, keepdims=True)  # unit gain at DC for every phase
    length = -(-len(waveform) * up // down)
    position = np.arange(length, dtype=np.int64) * down
    base, phase = position // up, position % up
    padded = np.pad(waveform.astype(np.float64), [(half, half + 1)] + [(0, 0)] * (waveform.ndim - 1))
    output = np.zeros((length, *waveform.shape[1:]), np.float64)
    for index, tap in enumerate(taps):
        weight = weights[phase, index]
        output += padded[base + tap + half] * (weight if waveform.ndim == 1 else weight[:, np.newaxis])
    return output.astype(np.float32)


def fit_length(waveform: np.ndarray, samples: int) -> np.ndarray:
    """``waveform`` cut to, or zero-padded at the end to, exactly ``samples`` samples (along its first axis)."""
    waveform = np.asarray(waveform)
    if len(waveform) >= samples:
        return waveform[:samples]
    return np.pad(waveform, [(0, samples - len(waveform))] + [(0, 0)] * (waveform.ndim - 1))

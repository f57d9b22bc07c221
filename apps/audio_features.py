"""WAV files and log-mel spectrograms in NumPy, as genkit computes them — for the edge apps (no TensorFlow, no genkit).

- :func:`read_wav`: RIFF/WAVE files of PCM (8-bit unsigned, 16-, 24- and
  32-bit signed), IEEE float (32, 64 bit) and WAVE_FORMAT_EXTENSIBLE holding
  either, any number of channels; float32 [samples, channels] in [-1, 1]
  (integers divided by 2 ** (bits - 1), as genkit.data.wav and
  tf.audio.decode_wav do).
- :func:`load_waveform`: a file as an audio input of an export: the channels
  averaged, resampled to the export's rate when the file's differs (the
  band-limited windowed-sinc resampler of genkit.data.wav, which genkit's
  manifest loader applies to training data), clipped to [-1, 1], cut or
  zero-padded at the end to the export's number of samples.
- :func:`log_mel`: genkit.layers.log_mel.LogMelSpectrogram from the layer's
  config (genkit.json "preprocessing"."audio"."log_mel"): frames without end
  padding, a periodic Hann window, ``|rfft(frame, fft_length)| ** power``, the
  HTK mel matrix of ``tf.signal.linear_to_mel_weight_matrix`` (computed in
  float32 with the same operations), ``log(mel + log_offset)``.
"""

from __future__ import annotations

import math
import struct
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from edge_runtime import AppError  # noqa: E402

PCM, IEEE_FLOAT, EXTENSIBLE = 0x0001, 0x0003, 0xFFFE
SUPPORTED = "PCM 8/16/24/32-bit or IEEE float 32/64-bit"
MIN_SAMPLE_RATE, MAX_SAMPLE_RATE = 1_000, 384_000


# -- WAV files ---------------------------------------------------------------------------------


def read_wav(path, where: str | None = None) -> tuple[np.ndarray, int]:
    """(float32 [samples, channels] in [-1, 1], sample rate in Hz) of a WAV file; a one-line AppError otherwise."""
    where = where or str(path)
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise AppError(f"{where}: file not found") from None
    except OSError as error:
        raise AppError(f"{where}: cannot read the file ({error.strerror or type(error).__name__})") from None
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise AppError(f"{where}: not a WAV file (no RIFF/WAVE header)")
    chunks, offset = {}, 12
    while offset + 8 <= len(data):
        chunk_id, size = struct.unpack_from("<4sI", data, offset)
        start = offset + 8
        if chunk_id == b"data" and size == 0xFFFFFFFF:  # written by a stream that never knew its length
            size = len(data) - start
        if start + size > len(data):
            name = chunk_id.decode("latin-1")
            raise AppError(f"{where}: truncated WAV file ({name!r} chunk declares {size} bytes, {len(data) - start} remain)")
        chunks.setdefault(chunk_id, data[start : start + size])
        offset = start + size + (size & 1)  # chunks are padded to an even length
    if b"fmt " not in chunks or b"data" not in chunks:
        missing = "fmt " if b"fmt " not in chunks else "data"
        raise AppError(f"{where}: truncated or invalid WAV file (no '{missing}' chunk)")
    return _decode(chunks[b"fmt "], chunks[b"data"], where)


def _decode(fmt: bytes, data: bytes, where: str) -> tuple[np.ndarray, int]:
    if len(fmt) < 16:
        raise AppError(f"{where}: invalid WAV file ('fmt ' chunk of {len(fmt)} bytes, needs 16)")
    tag, channels, rate, _, block_align, bits = struct.unpack_from("<HHIIHH", fmt)
    if tag == EXTENSIBLE:
        if len(fmt) < 40:
            raise AppError(f"{where}: invalid WAV file (WAVE_FORMAT_EXTENSIBLE 'fmt ' chunk of {len(fmt)} bytes, needs 40)")
        tag = struct.unpack_from("<H", fmt, 24)[0]  # the first two bytes of the sub-format GUID
    width = block_align // channels if channels else 0
    valid = channels > 0 and block_align == channels * width and width == math.ceil(bits / 8)
    if not valid or not ((tag == PCM and width in (1, 2, 3, 4)) or (tag == IEEE_FLOAT and width in (4, 8))):
        raise AppError(
            f"{where}: unsupported WAV format (format tag {tag:#06x}, {bits}-bit, {channels} channels, "
            f"block align {block_align}); allowed: {SUPPORTED}"
        )
    if not MIN_SAMPLE_RATE <= rate <= MAX_SAMPLE_RATE:
        raise AppError(f"{where}: sample rate {rate} Hz is not supported; allowed: {MIN_SAMPLE_RATE} to {MAX_SAMPLE_RATE} Hz")
    frames = len(data) // block_align  # a partial last frame is dropped
    data = data[: frames * block_align]
    if tag == IEEE_FLOAT:
        samples = np.frombuffer(data, f"<f{width}")
        if not np.isfinite(samples).all():
            raise AppError(f"{where}: the WAV file holds NaN or infinite samples")
        samples = np.clip(samples, -1.0, 1.0)
    elif width == 1:
        samples = (np.frombuffer(data, np.uint8).astype(np.float32) - 128) / 128
    elif width == 3:  # little-endian 24-bit: put each sample in the top three bytes of an int32
        padded = np.zeros((frames * channels, 4), np.uint8)
        padded[:, 1:] = np.frombuffer(data, np.uint8).reshape(-1, 3)
        samples = padded.view("<i4").ravel() / 2.0**31
    else:
        samples = np.frombuffer(data, f"<i{width}") / 2.0 ** (8 * width - 1)
    return samples.astype(np.float32).reshape(frames, channels), int(rate)


def resample(waveform: np.ndarray, from_rate: int, to_rate: int, zero_crossings: int = 16, rolloff: float = 0.945) -> np.ndarray:
    """``waveform`` [samples] resampled from ``from_rate`` to ``to_rate`` Hz (float32), as genkit.data.wav.resample.

    Every output sample is a Kaiser-windowed sinc interpolation of the input
    at its time, cut off at ``rolloff`` times the lower Nyquist frequency;
    ceil(samples * to_rate / from_rate) samples; zeros beyond the clip's ends.
    """
    waveform = np.asarray(waveform, np.float32)
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
    padded = np.pad(waveform.astype(np.float64), [(half, half + 1)])
    output = np.zeros(length, np.float64)
    for index, tap in enumerate(taps):
        output += padded[base + tap + half] * weights[phase, index]
    return output.astype(np.float32)


def fit_length(waveform: np.ndarray, samples: int) -> np.ndarray:
    """``waveform`` cut to, or zero-padded at the end to, exactly ``samples`` samples."""
    if len(waveform) >= samples:
        return waveform[:samples]
    return np.pad(waveform, [(0, samples - len(waveform))])


def load_waveform(path, sample_rate: int, samples: int, where: str | None = None) -> np.ndarray:
    """float32 [samples]: a WAV file made mono, resampled to ``sample_rate``, clipped to [-1, 1], fitted to ``samples``."""
    waveform, rate = read_wav(path, where)
    mono = waveform.mean(axis=1) if waveform.shape[1] > 1 else waveform[:, 0]
    mono = np.clip(resample(mono, rate, sample_rate), -1.0, 1.0)
    return fit_length(mono, samples).astype(np.float32)


# -- log-mel spectrograms ----------------------------------------------------------------------


def num_frames(samples: int, frame_length: int, frame_step: int) -> int:
    """Frames of ``samples`` samples without end padding."""
    return 0 if samples < frame_length else 1 + (samples - frame_length) // frame_step


def hann_window(length: int) -> np.ndarray:
    """The periodic Hann window (tf.signal.hann_window(periodic=True)), float64."""
    return 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(length) / length)


def _linspace32(start, stop, num: int) -> np.ndarray:
    """float32 linspace as TensorFlow's: start, start + delta * i (i = 1 .. num - 2), stop."""
    start, stop = np.float32(start), np.float32(stop)
    steps = max(num - 1, 1)
    delta = (stop - start) / np.float32(steps)
    middle = start + delta * np.arange(1, steps, dtype=np.float32)
    return np.concatenate([[start], middle, [stop]]).astype(np.float32)[:num]


def _hertz_to_mel32(frequencies) -> np.ndarray:
    """HTK mel scale in float32, as tf.signal: 1127 * log(1 + f / 700)."""
    frequencies = np.asarray(frequencies, np.float32)
    return np.float32(1127.0) * np.log(np.float32(1.0) + frequencies / np.float32(700.0))


def mel_weight_matrix(num_mel_bins: int, num_spectrogram_bins: int, sample_rate, lower_edge_hertz, upper_edge_hertz) -> np.ndarray:
    """float32 [num_spectrogram_bins, num_mel_bins]: tf.signal.linear_to_mel_weight_matrix's operations in float32.

    Triangles linear in HTK mel between num_mel_bins + 2 evenly spaced mel
    edges; the DC bin's row is zero.
    """
    zero = np.float32(0.0)
    nyquist = np.float32(sample_rate) / np.float32(2.0)
    bins_mel = _hertz_to_mel32(_linspace32(zero, nyquist, num_spectrogram_bins)[1:])[:, np.newaxis]
    edges = _linspace32(_hertz_to_mel32(lower_edge_hertz), _hertz_to_mel32(upper_edge_hertz), num_mel_bins + 2)
    lower, center, upper = edges[np.newaxis, :-2], edges[np.newaxis, 1:-1], edges[np.newaxis, 2:]
    lower_slopes = (bins_mel - lower) / (center - lower)
    upper_slopes = (upper - bins_mel) / (upper - center)
    weights = np.maximum(zero, np.minimum(lower_slopes, upper_slopes))
    return np.pad(weights, [[1, 0], [0, 0]]).astype(np.float32)


def log_mel(waveforms, config: dict) -> np.ndarray:
    """float32 [..., frames, num_mel_bins] of waveforms [..., samples], from a LogMelSpectrogram layer's config.

    Computed in float64 from the float32 mel matrix (genkit computes in
    float32: the two agree to about 1e-5 on the log).
    """
    sample_rate = int(config["sample_rate"])
    frame_length, frame_step = int(config["frame_length"]), int(config["frame_step"])
    fft_length = config.get("fft_length") or 1 << (frame_length - 1).bit_length()
    num_mel_bins = int(config["num_mel_bins"])
    lower = float(config.get("lower_edge_hertz", 20.0))
    upper = config.get("upper_edge_hertz")
    upper = sample_rate / 2 if upper is None else float(upper)
    power, log_offset = float(config.get("power", 2.0)), float(config.get("log_offset", 1e-6))
    waveforms = np.asarray(waveforms, np.float32).astype(np.float64)
    frames = num_frames(waveforms.shape[-1], frame_length, frame_step)
    index = np.arange(frame_length)[np.newaxis, :] + frame_step * np.arange(frames)[:, np.newaxis]
    framed = waveforms[..., index] * hann_window(frame_length)
    spectrum = np.abs(np.fft.rfft(framed, n=int(fft_length), axis=-1))
    spectrum = spectrum**2 if power == 2.0 else spectrum**power
    mel = spectrum @ mel_weight_matrix(num_mel_bins, int(fft_length) // 2 + 1, sample_rate, lower, upper).astype(np.float64)
    return np.log(mel + log_offset).astype(np.float32)

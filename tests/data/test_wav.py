"""WAV files read and written with NumPy alone, and the band-limited resampler audio features use."""

import struct

import numpy as np
import pytest

from genkit.data.wav import fit_length, read_wav, resample, to_mono, write_wav
from genkit.errors import UserError

RATES = (8000, 16000, 22050, 44100, 48000)
PCM_GUID_TAIL = b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"


def _riff(tag, channels, rate, bits, data, extensible=False, before_data=b""):
    """A WAV file's bytes built by hand (``before_data``: extra chunks between 'fmt ' and 'data')."""
    width = (bits + 7) // 8
    fmt = struct.pack("<HHIIHH", 0xFFFE if extensible else tag, channels, rate, rate * channels * width, channels * width, bits)
    if extensible:
        fmt += struct.pack("<HHI", 22, bits, 0) + struct.pack("<H", tag) + PCM_GUID_TAIL
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + before_data
    body += b"data" + struct.pack("<I", len(data)) + data + b"\0" * (len(data) & 1)
    return b"RIFF" + struct.pack("<I", len(body)) + body


@pytest.mark.parametrize(
    "sample_format, full_scale, dtype",
    [("uint8", 128, np.uint8), ("int16", 2**15, np.int16), ("int24", 2**23, None), ("int32", 2**31, np.int32),
     ("float32", None, np.float32), ("float64", None, np.float64)],
)
@pytest.mark.parametrize("channels", [1, 2])
def test_round_trips_are_exact_on_the_grid_of_each_format(tmp_path, sample_format, full_scale, dtype, channels):
    rng = np.random.default_rng(0)
    if full_scale is None:
        waveform = rng.uniform(-1, 1, (50, channels)).astype(dtype)
    else:
        waveform = rng.integers(-full_scale, full_scale, (50, channels)) / full_scale
    write_wav(tmp_path / "a.wav", waveform, 22050, sample_format)
    read, rate = read_wav(tmp_path / "a.wav")
    assert rate == 22050 and read.dtype == np.float32 and read.shape == (50, channels)
    np.testing.assert_array_equal(read, waveform.astype(np.float32))
    # The bytes after the 44-byte header are what NumPy writes for that format.
    data = (tmp_path / "a.wav").read_bytes()[44:]
    if sample_format == "uint8":
        assert data == (np.round(waveform * 128) + 128).astype(np.uint8).tobytes()
    elif sample_format == "int24":
        assert data == (np.round(waveform * 2**23).astype("<i4").view(np.uint8).reshape(-1, 4)[:, :3]).tobytes()
    elif full_scale is not None:
        assert data == np.round(waveform * full_scale).astype(dtype).tobytes()
    else:
        assert data == waveform.astype(dtype).tobytes()


def test_sample_values_against_hand_made_bytes():
    read = lambda *args, **kwargs: read_wav(_riff(*args, **kwargs))[0]  # noqa: E731
    np.testing.assert_array_equal(read(1, 1, 8000, 8, bytes([0, 128, 255])).ravel(), [-1, 0, 127 / 128])
    np.testing.assert_array_equal(read(1, 1, 8000, 16, np.array([-32768, 0, 16384], "<i2").tobytes()).ravel(), [-1, 0, 0.5])
    pcm24 = bytes([0x00, 0x00, 0x80, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F])  # -2**23, -1, 2**23 - 1
    np.testing.assert_array_equal(read(1, 1, 8000, 24, pcm24).ravel(), np.float32([-1, -1 / 2**23, (2**23 - 1) / 2**23]))
    np.testing.assert_array_equal(read(1, 1, 8000, 32, np.array([-(2**31), 2**30], "<i4").tobytes()).ravel(), [-1, 0.5])
    # Floats beyond [-1, 1] are clipped.
    np.testing.assert_array_equal(read(3, 1, 8000, 32, np.float32([0.25, 1.5, -3]).tobytes()).ravel(), [0.25, 1, -1])
    np.testing.assert_array_equal(read(3, 1, 8000, 64, np.float64([-0.125]).tobytes()).ravel(), [-0.125])


def test_extensible_format_any_channel_count_and_unknown_chunks():
    frames = np.arange(-6, 6, dtype="<i4").reshape(4, 3) * 2**20  # 4 frames of 3 channels
    pcm24 = frames.view(np.uint8).reshape(-1, 4)[:, :3].tobytes()
    odd_chunk = b"LIST" + struct.pack("<I", 5) + b"abcde\0"  # an odd size is padded to even
    waveform, rate = read_wav(_riff(1, 3, 48000, 24, pcm24, extensible=True, before_data=odd_chunk))
    assert rate == 48000 and waveform.shape == (4, 3)
    np.testing.assert_array_equal(waveform, frames / 2**23)
    floats = np.float32([[0.5, -0.5], [0.25, 0]])
    waveform, _ = read_wav(_riff(3, 2, 16000, 32, floats.tobytes(), extensible=True))
    np.testing.assert_array_equal(waveform, floats)


def test_bad_files_are_one_line_naming_the_file(tmp_path):
    write_wav(tmp_path / "good.wav", np.zeros(100), 16000)
    cases = {
        "text.wav": (b"hello, not a wav file", "not a WAV file"),
        "cut.wav": ((tmp_path / "good.wav").read_bytes()[:100], "truncated WAV file"),
        "header.wav": (b"RIFF\0\0\0\0WAVE", "no 'fmt ' chunk"),
        "mulaw.wav": (_riff(7, 1, 8000, 8, b"\0" * 8), "unsupported WAV format (format tag 0x0007"),
        "fast.wav": (_riff(1, 1, 96000, 16, b"\0" * 8), "sample rate 96000 Hz is not supported; allowed: 8000 to 48000 Hz"),
        "slow.wav": (_riff(1, 1, 4000, 16, b"\0" * 8), "sample rate 4000 Hz"),
        "nan.wav": (_riff(3, 1, 8000, 32, np.float32([np.nan]).tobytes()), "NaN or infinite"),
    }
    for name, (content, message) in cases.items():
        (tmp_path / name).write_bytes(content)
        with pytest.raises(UserError) as raised:
            read_wav(tmp_path / name)
        assert str(raised.value).startswith(f"{tmp_path / name}: ") and message in str(raised.value)
        assert "\n" not in str(raised.value)
    with pytest.raises(UserError, match="missing.wav: file not found"):
        read_wav(tmp_path / "missing.wav")
    with pytest.raises(UserError, match="^clip 3: not a WAV file"):
        read_wav(b"abc", name="clip 3")
    with pytest.raises(UserError, match="sample rate 96000 Hz is not supported"):
        write_wav(tmp_path / "x.wav", np.zeros(4), 96000)
    with pytest.raises(UserError, match="sample format 'int12' is not supported; allowed: uint8, int16"):
        write_wav(tmp_path / "x.wav", np.zeros(4), 16000, "int12")


def test_to_mono_and_fit_length():
    stereo = np.float32([[1, 0], [0.5, -0.5], [-1, -1]])
    np.testing.assert_array_equal(to_mono(stereo), [0.5, 0, -1])
    assert to_mono(stereo[:, 0]).shape == (3,)
    np.testing.assert_array_equal(fit_length(np.float32([1, 2, 3]), 5), [1, 2, 3, 0, 0])
    np.testing.assert_array_equal(fit_length(np.float32([1, 2, 3]), 2), [1, 2])
    assert fit_length(stereo, 5).shape == (5, 2)


def _dominant_frequency(waveform, rate):
    spectrum = np.abs(np.fft.rfft(waveform * np.hanning(len(waveform))))
    return np.argmax(spectrum) * rate / len(waveform)


@pytest.mark.parametrize("to_rate", RATES)
@pytest.mark.parametrize("from_rate", RATES)
def test_resampling_keeps_a_sine_below_both_nyquists(from_rate, to_rate):
    frequency, seconds = 1000.0, 0.5
    sine = 0.5 * np.sin(2 * np.pi * frequency * np.arange(int(from_rate * seconds)) / from_rate)
    output = resample(sine, from_rate, to_rate)
    assert output.dtype == np.float32 and len(output) == int(to_rate * seconds)
    middle = output[len(output) // 4 : 3 * len(output) // 4]  # away from the zero-padded ends
    expected = 0.5 * np.sin(2 * np.pi * frequency * np.arange(len(output)) / to_rate)[len(output) // 4 : 3 * len(output) // 4]
    np.testing.assert_allclose(middle, expected, atol=1e-3)
    assert abs(_dominant_frequency(output, to_rate) - frequency) <= 2.0


def test_downsampling_removes_what_would_alias_and_keeps_channels():
    rate = 48000
    time = np.arange(rate) / rate
    mixture = 0.5 * np.sin(2 * np.pi * 440 * time) + 0.5 * np.sin(2 * np.pi * 6000 * time)  # 6 kHz > 4 kHz Nyquist
    output = resample(mixture, rate, 8000)
    middle = output[1000:-1000]
    expected = 0.5 * np.sin(2 * np.pi * 440 * np.arange(8000) / 8000)[1000:-1000]
    assert np.abs(middle - expected).max() < 2e-3  # the 6 kHz tone is gone, not folded to 2 kHz
    stereo = resample(np.stack([mixture, -mixture], axis=1), rate, 16000)
    assert stereo.shape == (16000, 2)
    np.testing.assert_allclose(stereo[:, 0], -stereo[:, 1])
    np.testing.assert_array_equal(resample(mixture, rate, rate), mixture.astype(np.float32))

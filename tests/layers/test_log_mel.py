"""LogMelSpectrogram against a NumPy reference, and decode_wav_bytes against NumPy's reading of the same WAVs."""

import io
import wave
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from genkit.layers.log_mel import LogMelSpectrogram, decode_wav_bytes

FSDD_CLIP = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "fsdd" / "recordings" / "7_jackson_32.wav"


# ---------------------------------------------------------------------------------------------------------------
# NumPy references


def hann_window_numpy(length):
    """The periodic Hann window (tf.signal.hann_window(periodic=True))."""
    return 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(length) / length)


def hertz_to_mel_numpy(frequencies):
    """HTK mel scale, as tf.signal: 1127 ln(1 + f / 700)."""
    return 1127.0 * np.log1p(np.asarray(frequencies, np.float64) / 700.0)


def mel_weight_matrix_numpy(num_mel_bins, num_spectrogram_bins, sample_rate, lower_edge_hertz, upper_edge_hertz):
    """[num_spectrogram_bins, num_mel_bins]: triangles linear in mel, the DC bin zeroed (HTK, as tf.signal)."""
    frequencies = np.linspace(0.0, sample_rate / 2, num_spectrogram_bins)[1:]
    bins_mel = hertz_to_mel_numpy(frequencies)[:, np.newaxis]
    edges = np.linspace(hertz_to_mel_numpy(lower_edge_hertz), hertz_to_mel_numpy(upper_edge_hertz), num_mel_bins + 2)
    lower, center, upper = edges[:-2], edges[1:-1], edges[2:]
    weights = np.maximum(0.0, np.minimum((bins_mel - lower) / (center - lower), (upper - bins_mel) / (upper - center)))
    return np.pad(weights, [[1, 0], [0, 0]])


def log_mel_numpy(
    waveforms, sample_rate=8000, frame_length=200, frame_step=80, fft_length=256, num_mel_bins=40,
    lower_edge_hertz=20.0, upper_edge_hertz=None, log_offset=1e-6, power=2.0,
):
    """log(|rfft(frame * hann)| ** power @ mel + log_offset), in float64, frames without end padding."""
    upper_edge_hertz = sample_rate / 2 if upper_edge_hertz is None else upper_edge_hertz
    waveforms = np.asarray(waveforms, np.float64)
    frames = 1 + (waveforms.shape[-1] - frame_length) // frame_step
    index = np.arange(frame_length)[np.newaxis, :] + frame_step * np.arange(frames)[:, np.newaxis]
    framed = waveforms[..., index] * hann_window_numpy(frame_length)
    spectrum = np.abs(np.fft.rfft(framed, n=fft_length, axis=-1)) ** power
    mel = spectrum @ mel_weight_matrix_numpy(
        num_mel_bins, fft_length // 2 + 1, sample_rate, lower_edge_hertz, upper_edge_hertz
    )
    return np.log(mel + log_offset)


def _test_waveforms(batch=3, samples=8000, sample_rate=8000):
    rng = np.random.default_rng(0)
    time = np.arange(samples) / sample_rate
    tones = np.sin(2 * np.pi * rng.uniform(100, 3000, (batch, 1)) * time)
    return (0.5 * tones + 0.3 * rng.uniform(-1, 1, (batch, samples))).astype(np.float32)


# ---------------------------------------------------------------------------------------------------------------
# LogMelSpectrogram


def test_numpy_mel_matrix_is_tf_signals():
    expected = tf.signal.linear_to_mel_weight_matrix(40, 129, 8000, 20.0, 4000.0).numpy()
    np.testing.assert_allclose(mel_weight_matrix_numpy(40, 129, 8000, 20.0, 4000.0), expected, atol=2e-5)


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"power": 1.0, "num_mel_bins": 64, "frame_length": 256, "frame_step": 128, "fft_length": 512},
        {"sample_rate": 16000, "lower_edge_hertz": 125.0, "upper_edge_hertz": 7600.0, "log_offset": 1e-3},
    ],
)
def test_layer_matches_numpy_reference(options):
    sample_rate = options.get("sample_rate", 8000)
    waveforms = _test_waveforms(samples=sample_rate, sample_rate=sample_rate)
    layer = LogMelSpectrogram(**options)
    features = np.asarray(layer(waveforms))
    reference = log_mel_numpy(waveforms, **{"fft_length": layer.fft_length, **options})
    assert features.shape == reference.shape == layer.compute_output_shape(waveforms.shape)
    # Absolute 1e-4 on the log is 1e-4 relative on the mel energies.
    np.testing.assert_allclose(features, reference, rtol=0, atol=1e-4)


def test_layer_is_tf_signal_stft():
    """The framed rfft inside the layer is tf.signal.stft with a periodic Hann window."""
    waveforms = _test_waveforms()
    layer = LogMelSpectrogram()
    stft = tf.signal.stft(waveforms, 200, 80, 256)  # default window: periodic Hann
    expected = tf.math.log(tf.tensordot(tf.abs(stft) ** 2, layer.mel_weight_matrix(), 1) + 1e-6)
    np.testing.assert_allclose(np.asarray(layer(waveforms)), expected.numpy(), rtol=0, atol=1e-5)


@pytest.mark.skipif(not FSDD_CLIP.is_file(), reason=f"{FSDD_CLIP} not found (the shared data folder is absent)")
def test_layer_matches_numpy_on_a_spoken_digit():
    with wave.open(str(FSDD_CLIP)) as file:
        audio = np.frombuffer(file.readframes(file.getnframes()), "<i2").astype(np.float32) / 32768
    waveform = np.pad(audio, [0, max(0, 8000 - len(audio))])[np.newaxis, :8000]
    layer = LogMelSpectrogram(log_offset=1e-3)
    np.testing.assert_allclose(np.asarray(layer(waveform)), log_mel_numpy(waveform, log_offset=1e-3), rtol=0, atol=1e-4)


def test_unknown_batch_in_tf_function_and_shapes():
    layer = LogMelSpectrogram()
    function = tf.function(layer, input_signature=[tf.TensorSpec([None, 8000], tf.float32)])
    assert function.get_concrete_function().structured_outputs.shape.as_list() == [None, 98, 40]
    waveforms = _test_waveforms(batch=2)
    np.testing.assert_allclose(function(waveforms).numpy(), np.asarray(layer(waveforms)), atol=1e-6)
    assert layer.compute_output_shape((None, 8000)) == (None, 98, 40)
    assert layer.compute_output_shape((None, None)) == (None, None, 40)
    assert layer.compute_output_shape((None, 100)) == (None, 0, 40)
    inputs = keras.Input((8000,))
    assert keras.Model(inputs, layer(inputs)).output_shape == (None, 98, 40)


def test_config_round_trip_and_defaults():
    layer = LogMelSpectrogram(sample_rate=16000, frame_length=400, frame_step=160, num_mel_bins=64, power=1.0)
    config = layer.get_config()
    assert config["fft_length"] == 512 and config["upper_edge_hertz"] == 8000.0
    clone = keras.layers.deserialize(keras.layers.serialize(layer))
    assert isinstance(clone, LogMelSpectrogram) and clone.get_config() == config
    waveforms = _test_waveforms(batch=1, samples=16000, sample_rate=16000)
    np.testing.assert_array_equal(np.asarray(clone(waveforms)), np.asarray(layer(waveforms)))


def test_saved_in_a_keras_model(tmp_path):
    inputs = keras.Input((8000,))
    model = keras.Model(inputs, keras.layers.Dense(3)(keras.layers.Flatten()(LogMelSpectrogram()(inputs))))
    model.save(tmp_path / "model.keras")
    restored = keras.saving.load_model(tmp_path / "model.keras")
    waveforms = _test_waveforms(batch=2)
    np.testing.assert_allclose(np.asarray(restored(waveforms)), np.asarray(model(waveforms)), atol=1e-5)


def test_mixed_precision_output_dtype():
    layer = LogMelSpectrogram(dtype="mixed_float16")
    features = layer(_test_waveforms(batch=1))
    assert features.dtype == tf.float16
    reference = log_mel_numpy(_test_waveforms(batch=1))
    np.testing.assert_allclose(np.asarray(features, np.float32), reference, atol=2e-2)


@pytest.mark.parametrize(
    "options, message",
    [
        ({"frame_length": 0}, "frame_length"),
        ({"frame_length": 256, "fft_length": 128}, "fft_length"),
        ({"upper_edge_hertz": 5000.0}, "upper_edge_hertz"),
        ({"lower_edge_hertz": 4000.0}, "lower_edge_hertz"),
        ({"log_offset": 0.0}, "log_offset"),
        ({"power": 0.0}, "power"),
    ],
)
def test_bad_arguments(options, message):
    with pytest.raises(ValueError, match=message):
        LogMelSpectrogram(**options)


@pytest.mark.slow
def test_converts_to_tflite_builtins_and_onnx():
    """RFFT2D and COMPLEX_ABS are TFLite builtins; tf2onnx turns the rfft into a DFT MatMul (opset 17)."""
    layer = LogMelSpectrogram()
    function = tf.function(lambda waveform: layer(waveform))
    concrete = function.get_concrete_function(tf.TensorSpec([None, 8000], tf.float32))
    converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete], layer)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    interpreter = tf.lite.Interpreter(model_content=converter.convert())
    waveforms = _test_waveforms(batch=2)
    interpreter.resize_tensor_input(interpreter.get_input_details()[0]["index"], waveforms.shape)
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], waveforms)
    interpreter.invoke()
    expected = np.asarray(layer(waveforms))
    np.testing.assert_allclose(interpreter.get_tensor(interpreter.get_output_details()[0]["index"]), expected, atol=1e-4)

    tf2onnx = pytest.importorskip("tf2onnx")
    onnxruntime = pytest.importorskip("onnxruntime")
    proto, _ = tf2onnx.convert.from_function(
        function, input_signature=[tf.TensorSpec([None, 8000], tf.float32, name="waveform")], opset=17
    )
    session = onnxruntime.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(session.run(None, {"waveform": waveforms})[0], expected, atol=1e-4)


# ---------------------------------------------------------------------------------------------------------------
# decode_wav_bytes


def _wav_bytes(samples_int16, sample_rate=8000, channels=1, sample_width=2):
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as file:
        file.setnchannels(channels)
        file.setsampwidth(sample_width)
        file.setframerate(sample_rate)
        file.writeframes(np.ascontiguousarray(samples_int16).tobytes())
    return buffer.getvalue()


def _decode_numpy(wav_bytes, samples):
    with wave.open(io.BytesIO(wav_bytes)) as file:
        channels = file.getnchannels()
        audio = np.frombuffer(file.readframes(file.getnframes()), "<i2").reshape(-1, channels)
    mono = (audio.astype(np.float64) / 32768).mean(axis=1)[:samples]
    return np.pad(mono, [0, samples - len(mono)]).astype(np.float32)


def _random_int16(shape, seed=0):
    return np.random.default_rng(seed).integers(-32768, 32768, shape).astype("<i2")


def test_decode_scalar_mono_is_numpys():
    wav_bytes = _wav_bytes(_random_int16(9000))
    decoded = decode_wav_bytes(wav_bytes, 8000, 8000).numpy()
    assert decoded.shape == (1, 8000) and decoded.dtype == np.float32
    np.testing.assert_array_equal(decoded[0], _decode_numpy(wav_bytes, 8000))


def test_decode_batch_in_tf_function_pads_cuts_and_averages_channels():
    files = [
        _wav_bytes(_random_int16(3000, seed=1)),  # short: zero-padded
        _wav_bytes(_random_int16((9000, 2), seed=2), channels=2),  # long stereo: cut and averaged
        _wav_bytes(_random_int16(0, seed=3)),  # empty
        _wav_bytes(np.array([-32768, 32767, 0, 1], "<i2")),  # the extremes
    ]
    function = tf.function(lambda contents: decode_wav_bytes(contents, 8000, 4000), input_signature=[tf.TensorSpec([None], tf.string)])
    decoded = function(tf.constant(files)).numpy()
    assert decoded.shape == (4, 4000)
    for row, wav_bytes in zip(decoded, files):
        np.testing.assert_allclose(row, _decode_numpy(wav_bytes, 4000), rtol=0, atol=1e-7)
    assert decoded[3, 0] == -1.0 and decoded[3, 1] < 1.0 and not decoded[2].any()


def test_decode_rejects_another_sample_rate():
    wav_bytes = _wav_bytes(_random_int16(100), sample_rate=16000)
    with pytest.raises(tf.errors.InvalidArgumentError, match="not the expected 8000 Hz"):
        decode_wav_bytes(wav_bytes, 8000, 100)
    function = tf.function(lambda contents: decode_wav_bytes(contents, 8000, 100), input_signature=[tf.TensorSpec([None], tf.string)])
    with pytest.raises(tf.errors.InvalidArgumentError, match="not the expected 8000 Hz"):
        function(tf.constant([_wav_bytes(_random_int16(100)), wav_bytes]))


def test_decode_rejects_8_bit_pcm():
    with pytest.raises(tf.errors.InvalidArgumentError, match="16-bit"):
        decode_wav_bytes(_wav_bytes(np.zeros(100, np.uint8), sample_width=1), 8000, 100)

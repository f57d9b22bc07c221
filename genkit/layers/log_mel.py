"""Audio features in the graph: log-mel spectrograms (a layer) and WAV bytes to waveforms (for serving)."""

from __future__ import annotations

import functools

import keras
import tensorflow as tf


def _next_power_of_two(value: int) -> int:
    return 1 << (int(value) - 1).bit_length()


def num_frames(samples, frame_length: int, frame_step: int):
    """Frames of ``samples`` samples without end padding (None when ``samples`` is unknown)."""
    if samples is None:
        return None
    return 0 if samples < frame_length else 1 + (samples - frame_length) // frame_step


@keras.saving.register_keras_serializable(package="genkit")
class LogMelSpectrogram(keras.layers.Layer):
    """Waveforms [..., samples] (floats in [-1, 1]) to log-mel features [..., frames, num_mel_bins].

    ``log(mel + log_offset)``, where ``mel`` is the ``|STFT| ** power`` of
    each frame (as ``tf.signal.stft``: periodic Hann window, no end padding, so
    ``frames = 1 + (samples - frame_length) // frame_step``) mapped onto
    ``num_mel_bins`` triangular HTK-mel bands by
    ``tf.signal.linear_to_mel_weight_matrix``. The spectrum is computed in
    float32 whatever the dtype policy; the output has the layer's compute
    dtype. It has no weights, and works in a ``tf.function`` with an unknown
    batch size (the number of samples may be unknown too; the output shape
    then has unknown frames).

    Args:
        sample_rate: Hz of the waveforms.
        frame_length: samples per frame (default 200: 25 ms at 8 kHz).
        frame_step: samples between frame starts (default 80: 10 ms at 8 kHz).
        fft_length: FFT size (default: the smallest power of two >= frame_length).
        num_mel_bins: mel bands.
        lower_edge_hertz: lower edge of the lowest band.
        upper_edge_hertz: upper edge of the highest band (default: sample_rate / 2).
        log_offset: added to the mel energies before the log.
        power: 1.0 for the magnitude spectrum, 2.0 for the power spectrum.
    """

    def __init__(
        self,
        sample_rate=8000,
        frame_length=200,
        frame_step=80,
        fft_length=None,
        num_mel_bins=40,
        lower_edge_hertz=20.0,
        upper_edge_hertz=None,
        log_offset=1e-6,
        power=2.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        fft_length = _next_power_of_two(frame_length) if fft_length is None else fft_length
        upper_edge_hertz = sample_rate / 2 if upper_edge_hertz is None else upper_edge_hertz
        checks = (
            (sample_rate > 0, f"sample_rate must be > 0. Received: sample_rate={sample_rate}"),
            (frame_length > 0, f"frame_length must be > 0. Received: frame_length={frame_length}"),
            (frame_step > 0, f"frame_step must be > 0. Received: frame_step={frame_step}"),
            (fft_length >= frame_length, f"fft_length must be >= frame_length ({frame_length}). Received: fft_length={fft_length}"),
            (num_mel_bins > 0, f"num_mel_bins must be > 0. Received: num_mel_bins={num_mel_bins}"),
            (
                0 <= lower_edge_hertz < upper_edge_hertz <= sample_rate / 2,
                "0 <= lower_edge_hertz < upper_edge_hertz <= sample_rate / 2 must hold. Received: "
                f"lower_edge_hertz={lower_edge_hertz}, upper_edge_hertz={upper_edge_hertz}, sample_rate={sample_rate}",
            ),
            (log_offset > 0, f"log_offset must be > 0. Received: log_offset={log_offset}"),
            (power > 0, f"power must be > 0 (1.0: magnitude, 2.0: power). Received: power={power}"),
        )
        for holds, message in checks:
            if not holds:
                raise ValueError(message)
        self.sample_rate = int(sample_rate)
        self.frame_length = int(frame_length)
        self.frame_step = int(frame_step)
        self.fft_length = int(fft_length)
        self.num_mel_bins = int(num_mel_bins)
        self.lower_edge_hertz = float(lower_edge_hertz)
        self.upper_edge_hertz = float(upper_edge_hertz)
        self.log_offset = float(log_offset)
        self.power = float(power)

    def mel_weight_matrix(self):
        """[fft_length // 2 + 1, num_mel_bins] float32 (a constant; graphs fold it)."""
        return tf.signal.linear_to_mel_weight_matrix(
            num_mel_bins=self.num_mel_bins, num_spectrogram_bins=self.fft_length // 2 + 1,
            sample_rate=self.sample_rate, lower_edge_hertz=self.lower_edge_hertz,
            upper_edge_hertz=self.upper_edge_hertz, dtype=tf.float32,
        )

    def call(self, inputs):
        # tf.signal.stft(periodic Hann, pad_end=False) written out as frame -> window -> rfft on
        # [-1, frame_length] (the same numbers): tf2onnx converts an RFFT of a rank-2 input, consumed by
        # ComplexAbs, also with an unknown batch size; of stft's rank-3 RFFT it does not.
        waveforms = tf.cast(inputs, tf.float32)
        frames = tf.signal.frame(waveforms, self.frame_length, self.frame_step, pad_end=False)
        frames = frames * tf.signal.hann_window(self.frame_length, periodic=True)
        frames_shape = tf.shape(frames)
        spectrum = tf.abs(tf.signal.rfft(tf.reshape(frames, [-1, self.frame_length]), [self.fft_length]))
        if self.power == 2.0:
            spectrum = tf.square(spectrum)
        elif self.power != 1.0:
            spectrum = tf.pow(spectrum, self.power)
        mel = tf.matmul(spectrum, self.mel_weight_matrix())
        mel = tf.reshape(mel, tf.concat([frames_shape[:-1], [self.num_mel_bins]], axis=0))
        mel.set_shape(frames.shape[:-1].concatenate([self.num_mel_bins]))
        return tf.cast(tf.math.log(mel + self.log_offset), self.compute_dtype)

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        return (*input_shape[:-1], num_frames(input_shape[-1], self.frame_length, self.frame_step), self.num_mel_bins)

    def compute_output_spec(self, inputs):
        return keras.KerasTensor(self.compute_output_shape(inputs.shape), dtype=self.compute_dtype)

    def get_config(self):
        return {
            **super().get_config(),
            "sample_rate": self.sample_rate,
            "frame_length": self.frame_length,
            "frame_step": self.frame_step,
            "fft_length": self.fft_length,
            "num_mel_bins": self.num_mel_bins,
            "lower_edge_hertz": self.lower_edge_hertz,
            "upper_edge_hertz": self.upper_edge_hertz,
            "log_offset": self.log_offset,
            "power": self.power,
        }


def decode_wav_bytes(wav_bytes, sample_rate: int, samples: int):
    """WAV file contents (a tf.string scalar or [batch]) to float32 mono waveforms [batch, samples] in [-1, 1).

    For serving signatures. Accepts what ``tf.audio.decode_wav`` reads: RIFF
    WAVE files of 16-bit signed PCM (format tag 1), any number of
    channels; 8-, 24- and 32-bit PCM and float WAVs fail in
    ``decode_wav``. Samples are scaled as ``int16 / 32768``, channels
    averaged, and each waveform cut to its first ``samples`` samples or
    zero-padded at the end. A file whose rate differs from ``sample_rate``
    fails with an InvalidArgumentError that names both rates (no resampling
    in the graph). A scalar gives a batch of one.
    """
    sample_rate = int(sample_rate)
    samples = int(samples)
    if sample_rate <= 0 or samples <= 0:
        raise ValueError(f"sample_rate and samples must be > 0. Received: sample_rate={sample_rate}, samples={samples}")
    contents = tf.reshape(tf.convert_to_tensor(wav_bytes, dtype=tf.string), [-1])

    def decode_one(content):
        audio, rate = tf.audio.decode_wav(content)
        check = tf.debugging.assert_equal(
            rate, tf.constant(sample_rate, tf.int32),
            message=f"decode_wav_bytes: a WAV's sample rate (x) is not the expected {sample_rate} Hz (y); resample it first",
        )
        with tf.control_dependencies([check]):
            mono = tf.reduce_mean(audio, axis=1)[:samples]
        mono = tf.pad(mono, [[0, samples - tf.shape(mono)[0]]])
        return tf.ensure_shape(mono, [samples])

    return tf.map_fn(decode_one, contents, fn_output_signature=tf.TensorSpec([samples], tf.float32))

"""The preprocessor of paired data: raw inputs (strings, waveforms, encoded files) to what the encoders take."""

from __future__ import annotations

import keras
import tensorflow as tf

from genkit.data.text_tokenizer import graph_tokens
from genkit.layers.log_mel import LogMelSpectrogram, decode_wav_bytes, num_frames

PAD_TOKEN = "[PAD]"
OOV_TOKEN = "[UNK]"


def frame_length(sample_rate: int) -> int:
    return int(round(0.025 * sample_rate))  # 25 ms


def frame_step(sample_rate: int) -> int:
    return int(round(0.010 * sample_rate))  # 10 ms


@keras.saving.register_keras_serializable(package="genkit")
class PairedPreprocessor(keras.layers.Layer):
    """Tokenises text and computes log-mel spectrograms in the graph, so every export path shares them.

    ``call(raw)`` maps a dict keyed by input name -- images float32 [N, H, W, C]
    in [0, 1], texts as strings [N], waveforms float32 [N, samples] -- to the
    encoders' inputs: images unchanged, texts as int32 word ids
    [N, max_text_length] (0: padding, 1: a word not in the vocabulary; words
    are lowercased and split as :func:`genkit.data.text_tokenizer.graph_tokens`
    splits them), audio as log-mel spectrograms [N, frames, num_mel_bins].
    ``decode_files`` first turns encoded files (PNG/JPEG bytes, 16-bit PCM WAV
    bytes) into those raw inputs, as TF Serving clients send them.
    """

    def __init__(self, inputs, input_types, vocabulary=(), max_text_length=16, image_shape=None,
                 sample_rate=None, audio_samples=None, num_mel_bins=40, **kwargs):
        super().__init__(**kwargs)
        self.input_names = list(inputs)
        self.input_types = list(input_types)
        self.vocabulary = list(vocabulary or ())
        self.max_text_length = int(max_text_length)
        self.image_shape = None if image_shape is None else [int(d) for d in image_shape]
        self.sample_rate = sample_rate
        self.audio_samples = audio_samples
        self.num_mel_bins = num_mel_bins
        self.lookup = None
        if "text" in self.input_types:
            self.lookup = keras.layers.StringLookup(
                vocabulary=self.vocabulary, mask_token=PAD_TOKEN, oov_token=OOV_TOKEN, num_oov_indices=1,
                output_mode="int", name="lookup",
            )
        self.log_mel = None
        if "audio" in self.input_types:
            self.log_mel = LogMelSpectrogram(
                sample_rate=sample_rate, frame_length=frame_length(sample_rate), frame_step=frame_step(sample_rate),
                num_mel_bins=num_mel_bins, name="log_mel",
            )
        self.built = True  # no weights of its own; the lookup table is built from the vocabulary

    @property
    def vocabulary_size(self) -> int:
        """Ids in use: padding, out-of-vocabulary, then the vocabulary."""
        return len(self.vocabulary) + 2

    @property
    def frames(self) -> int | None:
        if self.audio_samples is None:
            return None
        return num_frames(self.audio_samples, frame_length(self.sample_rate), frame_step(self.sample_rate))

    def tokenize(self, texts):
        """int32 ids [N, max_text_length] of a string tensor [N] (the first max_text_length words)."""
        words = graph_tokens(tf.convert_to_tensor(texts, tf.string), "word", lowercase=True)
        words = words[:, : self.max_text_length]
        ids = tf.ragged.map_flat_values(lambda w: tf.cast(self.lookup(w), tf.int32), words)
        return ids.to_tensor(default_value=0, shape=[None, self.max_text_length])

    def call(self, raw):
        encoded = {}
        for name, kind in zip(self.input_names, self.input_types):
            if kind == "text":
                encoded[name] = self.tokenize(raw[name])
            elif kind == "audio":
                encoded[name] = self.log_mel(tf.cast(raw[name], tf.float32))
            else:
                encoded[name] = tf.cast(raw[name], tf.float32)
        return encoded

    def decode_files(self, files):
        """Raw inputs from encoded files: ``{name}_bytes`` PNG/JPEG or WAV bytes [N]; texts pass through."""
        raw = {}
        for name, kind in zip(self.input_names, self.input_types):
            if f"{name}_bytes" not in files and name not in files:
                continue  # an endpoint of some of the inputs (a dual encoder's images)
            if kind == "image":
                height, width, channels = self.image_shape

                def decode_image(data, h=height, w=width, c=channels):
                    image = tf.io.decode_image(data, channels=c, expand_animations=False)
                    image = tf.image.resize(tf.cast(image, tf.float32) / 255.0, [h, w], antialias=True)
                    return tf.clip_by_value(image, 0.0, 1.0)

                raw[name] = tf.map_fn(
                    decode_image, files[f"{name}_bytes"], fn_output_signature=tf.TensorSpec([height, width, channels], tf.float32)
                )
            elif kind == "audio":
                raw[name] = decode_wav_bytes(files[f"{name}_bytes"], self.sample_rate, self.audio_samples)
            else:
                raw[name] = files[name]
        return raw

    def get_config(self):
        return {
            **super().get_config(),
            "inputs": self.input_names,
            "input_types": self.input_types,
            "vocabulary": self.vocabulary,
            "max_text_length": self.max_text_length,
            "image_shape": self.image_shape,
            "sample_rate": self.sample_rate,
            "audio_samples": self.audio_samples,
            "num_mel_bins": self.num_mel_bins,
        }

    @classmethod
    def from_model_config(cls, config):
        return cls(
            config.inputs, config.input_types, config.vocabulary, config.max_text_length, config.image_shape,
            config.sample_rate, config.audio_samples, config.num_mel_bins, name="preprocessor",
        )

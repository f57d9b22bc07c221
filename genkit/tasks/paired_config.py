"""Hyper-parameters shared by models of paired data (fusion, dual encoders, captioners, text-to-image): inputs, encoders."""

from __future__ import annotations

import dataclasses

from genkit.config import ModelConfig, require

TEXT_ENCODERS = ("gru", "lstm", "mean")
INPUT_TYPES = ("image", "text", "audio")
# keras.applications backbones an image encoder may use, with the input scaling each was trained with
# (genkit.layers.imagenet_preprocessing): the names of their keras.applications functions.
IMAGE_BACKBONES = {
    **dict.fromkeys(("MobileNet", "MobileNetV2", "ResNet50V2", "ResNet101V2", "Xception", "InceptionV3", "NASNetMobile"), "tf"),
    **dict.fromkeys(("DenseNet121", "DenseNet169", "DenseNet201"), "torch"),
    **dict.fromkeys(("ResNet50", "ResNet101", "ResNet152", "VGG16", "VGG19"), "caffe"),
    **dict.fromkeys((
        "MobileNetV3Small", "MobileNetV3Large", "EfficientNetB0", "EfficientNetB1", "EfficientNetB2", "EfficientNetB3",
        "EfficientNetV2B0", "EfficientNetV2B1", "EfficientNetV2S", "ConvNeXtTiny", "ConvNeXtSmall",
    ), "raw"),
}


@dataclasses.dataclass
class PairedDataConfig(ModelConfig):
    """Which features of paired data a model reads, and how they are prepared.

    ``inputs`` are feature names of the dataset (``image``, ``text``,
    ``audio``, or a manifest's own columns); empty means every image, text
    and audio feature. The data fills ``input_types``, ``image_shape`` (every
    image input is resized to one square ``image_size`` when set),
    ``vocabulary`` (lowercased words of the training texts seen at least
    ``min_word_count`` times, the ``max_vocabulary`` most frequent; other words
    are the unknown word), ``sample_rate`` and ``audio_samples``; texts are
    read up to ``max_text_length`` words; audio as a log-mel spectrogram
    (``num_mel_bins``, 25 ms frames every 10 ms) computed in the graph.
    """

    inputs: tuple[str, ...] = ()
    input_types: tuple[str, ...] = ()
    image_size: int | None = None
    image_shape: tuple[int, ...] | None = None
    max_vocabulary: int = 5000
    min_word_count: int = 1
    max_text_length: int = 16
    vocabulary: tuple[str, ...] | None = None
    sample_rate: int | None = None
    audio_seconds: float | None = None
    audio_samples: int | None = None
    num_mel_bins: int = 40
    split_seed: int = 0

    def validate(self, source: str) -> None:
        require(len(set(self.inputs)) == len(self.inputs), source, "inputs", "must not repeat a feature", self.inputs)
        require(
            all(t in INPUT_TYPES for t in self.input_types), source, "input_types",
            f"must list types among {', '.join(INPUT_TYPES)}", self.input_types,
        )
        require(
            not self.input_types or len(self.input_types) == len(self.inputs), source, "input_types",
            "must give one type per input", self.input_types,
        )
        require(self.image_size is None or self.image_size >= 4, source, "image_size", "must be >= 4", self.image_size)
        require(self.max_vocabulary >= 1, source, "max_vocabulary", "must be >= 1", self.max_vocabulary)
        require(self.min_word_count >= 1, source, "min_word_count", "must be >= 1", self.min_word_count)
        require(self.max_text_length >= 1, source, "max_text_length", "must be >= 1", self.max_text_length)
        require(
            self.sample_rate is None or 8000 <= self.sample_rate <= 48000, source, "sample_rate",
            "must be between 8000 and 48000 (Hz)", self.sample_rate,
        )
        require(
            self.audio_seconds is None or 0.1 <= self.audio_seconds <= 30, source, "audio_seconds",
            "must be between 0.1 and 30", self.audio_seconds,
        )
        require(self.num_mel_bins >= 8, source, "num_mel_bins", "must be >= 8", self.num_mel_bins)

    def input_type(self, name: str) -> str:
        return self.input_types[self.inputs.index(name)]


@dataclasses.dataclass
class PairedModelConfig(PairedDataConfig):
    """The data fields of :class:`PairedDataConfig` and the encoder of each modality.

    Encoders, each ending in a projection to ``width``:

    - images: a conv net, one stride-2 stage per entry of ``image_filters``;
      or ``image_backbone``, a keras.applications network without its top
      (e.g. ``MobileNetV2``), average-pooled, with the weights of the file
      ``image_backbone_weights`` (read when the model is built; nothing is
      downloaded) or random ones, fine-tuned unless
      ``image_backbone_trainable`` is false;
    - text: word embeddings (``embedding_dim``) read by a ``gru`` or ``lstm``
      (``text_units``) or averaged (``mean``), over at most ``max_text_length``
      words (recurrent layers are unrolled over that length, so edge exports
      need no Flex ops);
    - audio: the log-mel spectrogram, then a conv net (``audio_filters``).
    """

    width: int = 64
    image_filters: tuple[int, ...] = (32, 64)
    image_backbone: str | None = None
    image_backbone_weights: str | None = None
    image_backbone_trainable: bool = True
    text_encoder: str = "gru"
    embedding_dim: int = 64
    text_units: int = 64
    audio_filters: tuple[int, ...] = (16, 32)
    dropout: float = 0.1
    learning_rate: float = 1e-3

    def validate(self, source: str) -> None:
        super().validate(source)
        require(self.width >= 2, source, "width", "must be >= 2", self.width)
        require(
            len(self.image_filters) >= 1 and min(self.image_filters) >= 1, source, "image_filters",
            "must list at least one positive filter count", self.image_filters,
        )
        require(
            self.image_backbone is None or self.image_backbone in IMAGE_BACKBONES, source, "image_backbone",
            f"must be a keras.applications network among {', '.join(IMAGE_BACKBONES)}", self.image_backbone,
        )
        require(
            self.image_backbone_weights is None or self.image_backbone is not None, source, "image_backbone_weights",
            "needs image_backbone (the network the weights are for)", self.image_backbone_weights,
        )
        require(
            self.image_backbone_weights != "imagenet", source, "image_backbone_weights",
            "must be the path of a weights file without the top (genkit downloads nothing: fetch "
            "keras.applications' *_notop.h5 file yourself)", self.image_backbone_weights,
        )
        require(
            self.text_encoder in TEXT_ENCODERS, source, "text_encoder",
            f"must be one of {', '.join(TEXT_ENCODERS)}", self.text_encoder,
        )
        require(self.embedding_dim >= 1, source, "embedding_dim", "must be >= 1", self.embedding_dim)
        require(self.text_units >= 1, source, "text_units", "must be >= 1", self.text_units)
        require(
            len(self.audio_filters) >= 1 and min(self.audio_filters) >= 1, source, "audio_filters",
            "must list at least one positive filter count", self.audio_filters,
        )
        require(0 <= self.dropout < 1, source, "dropout", "must be in [0, 1)", self.dropout)
        require(self.learning_rate > 0, source, "learning_rate", "must be > 0", self.learning_rate)

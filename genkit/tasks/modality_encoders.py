"""One encoder per modality, each a functional network built from hyper-parameters alone, ending in ``width``.

The encoders take what an edge device can give without TensorFlow: images
as float32 in [0, 1], text as int32 word ids (0 is padding), audio as a
log-mel spectrogram [frames, mel bins]. Turning strings into ids and
waveforms into spectrograms is the preprocessor's job
(:class:`~genkit.tasks.paired_task.PairedDataTask`), so TF Serving
signatures can take raw inputs while TFLite and ONNX exports take these.
"""

from __future__ import annotations

from pathlib import Path

import keras

from genkit.errors import UserError
from genkit.layers.imagenet_preprocessing import ImageNetPreprocessing
from genkit.layers.replica_dropout import ReplicaDropout
from genkit.tasks.paired_config import IMAGE_BACKBONES


def image_encoder(config, name: str) -> keras.Model:
    """[N, H, W, C] in [0, 1] -> [N, width]: the config's conv net, or its keras.applications backbone."""
    if config.image_backbone:
        return backbone_image_encoder(
            config.image_shape, config.image_backbone, config.image_backbone_weights, config.image_backbone_trainable,
            config.width, name,
        )
    return conv_image_encoder(config.image_shape, config.image_filters, config.width, name)


def conv_image_encoder(image_shape, filters, width: int, name: str, grid: bool = False) -> keras.Model:
    """[N, H, W, C] in [0, 1] -> [N, width]: one stride-2 conv stage per entry of ``filters``, then average pooling
    (``grid``: no pooling, [N, cells, width])."""
    images = keras.Input(tuple(image_shape), name=name)
    x = keras.layers.Rescaling(2.0, offset=-1.0)(images)
    for stage, count in enumerate(filters):
        x = keras.layers.Conv2D(count, 3, strides=2, padding="same", activation="relu", name=f"conv_{stage}")(x)
        x = keras.layers.Conv2D(count, 3, padding="same", activation="relu", name=f"conv_{stage}_b")(x)
    return keras.Model(images, _pooled_or_grid(x, width, grid), name=f"{name}_{'grid' if grid else 'encoder'}")


def _pooled_or_grid(feature_map, width: int, grid: bool):
    """The projection to ``width`` of the average-pooled map [N, width], or of every cell [N, cells, width]."""
    if grid:
        return _cell_projection(feature_map, width)
    pooled = keras.layers.GlobalAveragePooling2D()(feature_map)
    return keras.layers.Dense(width, name="projection")(pooled)


def _cell_projection(feature_map, width: int):
    """[N, h, w, C] -> [N, h * w, width]: each cell projected and layer-normalised (attention and the decoder's
    tanh units then see unit-scale features, whatever the conv net's scale)."""
    height, width_cells, channels = feature_map.shape[1:]
    cells = keras.layers.Reshape((height * width_cells, channels), name="cells")(feature_map)
    return keras.layers.LayerNormalization(name="cell_normalisation")(keras.layers.Dense(width, name="projection")(cells))


def backbone_image_encoder(image_shape, backbone: str, weights: str | None, trainable: bool, width: int,
                           name: str, grid: bool = False) -> keras.Model:
    """[N, H, W, C] in [0, 1] -> [N, width]: a keras.applications network without its top, average-pooled
    (``grid``: its last feature map's cells, [N, cells, width]).

    Grey images are repeated into three channels; the scaling the network was
    trained with is applied in the model (:class:`ImageNetPreprocessing`).
    ``weights``: a weights file of the network without its top (Keras'
    ``*_notop.h5`` files or ``.weights.h5``), read now; None leaves them random.
    """
    height, width_pixels, channels = image_shape
    if channels not in (1, 3):
        raise UserError(f"image_backbone: {backbone} takes RGB or grey images; input '{name}' has {channels} channels")
    images = keras.Input(tuple(image_shape), name=name)
    x = keras.layers.Concatenate(name="grey_to_rgb")([images] * 3) if channels == 1 else images
    x = ImageNetPreprocessing(IMAGE_BACKBONES[backbone], name="backbone_preprocessing")(x)
    try:
        network = getattr(keras.applications, backbone)(
            include_top=False, weights=None, input_shape=(height, width_pixels, 3), pooling=None if grid else "avg",
        )
    except ValueError as error:
        raise UserError(f"image_backbone: {backbone} cannot take {height}x{width_pixels} images ({_first_line(error)}); set image_size") from None
    if weights:
        if not Path(weights).is_file():
            raise UserError(f"image_backbone_weights: file not found: {weights}")
        try:
            network.load_weights(weights)
        except (ValueError, OSError, KeyError) as error:
            raise UserError(f"image_backbone_weights: {weights} does not fit {backbone} without its top ({_first_line(error)})") from None
    network.trainable = bool(trainable)
    x = network(x)
    outputs = _cell_projection(x, width) if grid else keras.layers.Dense(width, name="projection")(x)
    return keras.Model(images, outputs, name=f"{name}_{'grid' if grid else 'encoder'}")


def image_grid_encoder(config, name: str) -> keras.Model:
    """[N, H, W, C] in [0, 1] -> [N, cells, width]: the image encoder without its pooling, a feature per grid cell.

    What visual attention reads (captioning): the conv net's last stage (an
    H/2^stages x W/2^stages grid), or the backbone's last feature map; each
    cell projected to ``width``.
    """
    if config.image_backbone:
        return backbone_image_encoder(
            config.image_shape, config.image_backbone, config.image_backbone_weights, config.image_backbone_trainable,
            config.width, name, grid=True,
        )
    return conv_image_encoder(config.image_shape, config.image_filters, config.width, name, grid=True)


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0][:200] if text else type(error).__name__


def text_encoder(vocabulary_size: int, max_length: int, embedding_dim: int, units: int, kind: str, width: int,
                 name: str) -> keras.Model:
    """int32 ids [N, max_length] (0: padding) -> [N, width]: embeddings read by a GRU/LSTM or averaged.

    ``vocabulary_size`` counts every id, padding and out-of-vocabulary included.
    The recurrent layer is unrolled (``max_length`` is fixed), which keeps it
    to TFLite builtin ops.
    """
    ids = keras.Input((max_length,), dtype="int32", name=name)
    x = keras.layers.Embedding(vocabulary_size, embedding_dim, mask_zero=True, name="embedding")(ids)
    if kind == "mean":
        x = keras.layers.GlobalAveragePooling1D(name="mean")(x)
    else:
        layer = keras.layers.GRU if kind == "gru" else keras.layers.LSTM
        x = layer(units, unroll=True, name=kind)(x)
    return keras.Model(ids, keras.layers.Dense(width, name="projection")(x), name=f"{name}_encoder")


def audio_encoder(frames: int, mel_bins: int, filters, width: int, name: str) -> keras.Model:
    """Log-mel spectrograms [N, frames, mel_bins] -> [N, width]: normalised per example, then a conv net."""
    spectrogram = keras.Input((frames, mel_bins), name=name)
    x = keras.layers.LayerNormalization(axis=(1, 2), name="normalise")(spectrogram)
    x = keras.layers.Reshape((frames, mel_bins, 1))(x)
    for stage, count in enumerate(filters):
        x = keras.layers.Conv2D(count, 3, strides=2, padding="same", activation="relu", name=f"conv_{stage}")(x)
        x = keras.layers.Conv2D(count, 3, padding="same", activation="relu", name=f"conv_{stage}_b")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(spectrogram, keras.layers.Dense(width, name="projection")(x), name=f"{name}_encoder")


def modality_embeddings(config, network_inputs: dict, frames: int | None) -> list:
    """The ``width``-wide embedding of every input of ``config`` (in ``config.inputs`` order), with dropout."""
    embeddings = []
    for name, kind in zip(config.inputs, config.input_types):
        if kind == "image":
            encoder = image_encoder(config, name)
        elif kind == "text":
            encoder = text_encoder(
                len(config.vocabulary) + 2, config.max_text_length, config.embedding_dim, config.text_units,
                config.text_encoder, config.width, name,
            )
        else:
            encoder = audio_encoder(frames, config.num_mel_bins, config.audio_filters, config.width, name)
        x = encoder(network_inputs[name])
        embeddings.append(ReplicaDropout(config.dropout, name=f"{name}_dropout")(x) if config.dropout else x)
    return embeddings

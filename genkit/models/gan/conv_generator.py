"""The convolutional generator of the GAN families: a functional network built from hyper-parameters only."""

from __future__ import annotations

import keras
from keras import layers


def _activation(name: str, slope: float, layer_name: str):
    if name == "leaky_relu":
        return layers.LeakyReLU(negative_slope=slope, name=layer_name)
    return layers.ReLU(name=layer_name)


def build_conv_generator(config, num_classes: int | None = None, name: str = "generator") -> keras.Model:
    """``z`` [batch, latent_dim] (and ``label`` [batch] int32 when ``num_classes``) -> images in [-1, 1] (tanh).

    A conditional generator concatenates a learned embedding of the label
    (``config.label_embedding_dim`` values) to ``z``.
    """
    z = keras.Input(shape=(config.latent_dim,), name="z")
    inputs, x = z, z
    if num_classes:
        label = keras.Input(shape=(), dtype="int32", name="label")
        embedded = layers.Embedding(num_classes, config.label_embedding_dim, name="label_embedding")(label)
        x = layers.Concatenate(name="conditioned")([z, embedded])
        inputs = [z, label]
    return keras.Model(inputs, upsampling_network(x, config), name=name)


def upsampling_network(x, config):
    """A (conditioned) latent vector [N, D] -> images in [-1, 1]: a dense projection to a small feature map,
    transposed convolutions with batch norm, then tanh."""
    height, width, channels = config.image_shape
    factor = 2 ** config.num_upsamplings
    hidden = list(config.generator_filters)
    strides = [1] * (len(hidden) - (config.num_upsamplings - 1)) + [2] * (config.num_upsamplings - 1)
    x = layers.Dense(
        (height // factor) * (width // factor) * config.projection_filters, use_bias=False, name="project"
    )(x)
    x = layers.BatchNormalization(synchronized=config.synchronized_batch_norm, name="project_norm")(x)
    x = _activation(config.generator_activation, config.leaky_relu_slope, "project_activation")(x)
    x = layers.Reshape((height // factor, width // factor, config.projection_filters), name="reshape")(x)
    for index, (filters, stride) in enumerate(zip(hidden, strides)):
        x = layers.Conv2DTranspose(
            filters, config.kernel_size, strides=stride, padding="same", use_bias=False,
            name=f"deconv_{index}",
        )(x)
        x = layers.BatchNormalization(
            synchronized=config.synchronized_batch_norm, name=f"deconv_{index}_norm"
        )(x)
        x = _activation(config.generator_activation, config.leaky_relu_slope, f"deconv_{index}_activation")(x)
    x = layers.Conv2DTranspose(
        channels, config.kernel_size, strides=2, padding="same", use_bias=False, name="to_image"
    )(x)
    # tanh in float32 so mixed precision never clips the output range.
    return layers.Activation("tanh", dtype="float32", name="images")(x)

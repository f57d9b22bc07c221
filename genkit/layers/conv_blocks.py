"""The convolutional trunks shared by the VAE and autoencoder builders (functions on Keras tensors)."""

from __future__ import annotations

from keras import layers


def downsampling_trunk(images, filters, kernel_size: int):
    """Stride-2 ReLU convolutions, one per entry of ``filters``, then flatten."""
    x = images
    for index, count in enumerate(filters):
        x = layers.Conv2D(count, kernel_size, strides=2, padding="same", activation="relu", name=f"conv_{index}")(x)
    return layers.Flatten(name="flatten")(x)


def upsampling_trunk(x, image_shape, filters, kernel_size: int, dense_units: int):
    """Dense layers, a reshape to ``H/2^n x W/2^n x filters[0]``, then n stride-2 transposed convolutions.

    The last transposed convolution gives one float32 logit per pixel and channel (no activation).
    """
    height, width, channels = image_shape
    factor = 2 ** len(filters)
    x = layers.Dense(dense_units, activation="relu", name="dense")(x)
    x = layers.Dense((height // factor) * (width // factor) * filters[0], activation="relu", name="project")(x)
    x = layers.Reshape((height // factor, width // factor, filters[0]), name="reshape")(x)
    for index, count in enumerate(filters[1:]):
        x = layers.Conv2DTranspose(
            count, kernel_size, strides=2, padding="same", activation="relu", name=f"deconv_{index}"
        )(x)
    return layers.Conv2DTranspose(
        channels, kernel_size, strides=2, padding="same", dtype="float32", name="logits"
    )(x)

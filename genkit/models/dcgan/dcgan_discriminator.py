"""The DCGAN discriminator: a functional network built from hyper-parameters only."""

from __future__ import annotations

import keras
from keras import layers

from genkit.layers import ReplicaDropout


def build_dcgan_discriminator(config) -> keras.Model:
    """images [batch, H, W, C] in [-1, 1] -> one real/fake logit per image."""
    images = keras.Input(shape=tuple(config.image_shape), name="images")
    x = images
    for index, filters in enumerate(config.discriminator_filters):
        x = layers.Conv2D(filters, config.kernel_size, strides=2, padding="same", name=f"conv_{index}")(x)
        if config.discriminator_batch_norm and index > 0:
            x = layers.BatchNormalization(
                synchronized=config.synchronized_batch_norm, name=f"conv_{index}_norm"
            )(x)
        x = layers.LeakyReLU(negative_slope=config.leaky_relu_slope, name=f"conv_{index}_activation")(x)
        if config.dropout_rate:
            x = ReplicaDropout(config.dropout_rate, name=f"conv_{index}_dropout")(x)
    x = layers.Flatten(name="flatten")(x)
    logits = layers.Dense(1, dtype="float32", name="logit")(x)
    return keras.Model(images, logits, name="discriminator")

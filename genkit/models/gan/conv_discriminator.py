"""The convolutional discriminator (critic) of the GAN families: a functional network built from hyper-parameters only."""

from __future__ import annotations

import keras
from keras import layers

from genkit.layers import ReplicaDropout, SpectralNormalization


def build_conv_discriminator(config, num_classes: int | None = None) -> keras.Model:
    """images [batch, H, W, C] in [-1, 1] (and ``label`` [batch] int32 when ``num_classes``) -> one logit per image.

    A conditional discriminator is a projection discriminator (Miyato and
    Koyama 2018): ``logit = w . phi(x) + b + embed(label) . phi(x)``, with
    ``phi`` the flattened convolutional features. ``config.spectral_norm``
    wraps every convolution, the dense logit and the label projection in
    :class:`~genkit.layers.SpectralNormalization`.
    """

    images = keras.Input(shape=tuple(config.image_shape), name="images")
    features, logits = discriminator_features_and_logit(images, config)
    if not num_classes:
        return keras.Model(images, logits, name="discriminator")

    label = keras.Input(shape=(), dtype="int32", name="label")
    embedded = spectral_normalized(
        layers.Embedding(num_classes, features.shape[-1], dtype="float32", name="label_projection"), config
    )(label)
    return keras.Model([images, label], projected_logit(logits, embedded, features), name="discriminator")


def spectral_normalized(layer, config):
    """``layer`` wrapped in :class:`SpectralNormalization` when ``config.spectral_norm``."""
    if not config.spectral_norm:
        return layer
    return SpectralNormalization(layer, dtype=layer.dtype_policy, name=f"{layer.name}_spectral_norm")


def projected_logit(logits, condition, features):
    """A projection discriminator's logit: ``logits + condition . features`` (``condition`` [N, features])."""
    projection = layers.Dot(axes=1, dtype="float32", name="projection")([condition, features])
    return layers.Add(dtype="float32", name="conditional_logit")([logits, projection])


def discriminator_features_and_logit(images, config):
    """The flattened convolutional features ``phi(x)`` of ``images`` and the unconditional logit ``w . phi(x) + b``."""

    def normalized(layer):
        return spectral_normalized(layer, config)

    x = images
    for index, filters in enumerate(config.discriminator_filters):
        x = normalized(layers.Conv2D(filters, config.kernel_size, strides=2, padding="same", name=f"conv_{index}"))(x)
        if config.discriminator_batch_norm and index > 0:
            x = layers.BatchNormalization(
                synchronized=config.synchronized_batch_norm, name=f"conv_{index}_norm"
            )(x)
        x = layers.LeakyReLU(negative_slope=config.leaky_relu_slope, name=f"conv_{index}_activation")(x)
        if config.dropout_rate:
            x = ReplicaDropout(config.dropout_rate, name=f"conv_{index}_dropout")(x)
    features = layers.Flatten(name="flatten")(x)
    # A Wasserstein critic is defined up to a constant: its loss gives an output bias no gradient.
    use_bias = config.loss != "wasserstein"
    logits = normalized(layers.Dense(1, use_bias=use_bias, dtype="float32", name="logit"))(features)
    return features, logits

"""The VAE encoder: a functional network built from hyper-parameters only."""

from __future__ import annotations

import keras
from keras import layers

from genkit.layers.conv_blocks import downsampling_trunk


def build_vae_encoder(config, condition_width: int | None = None) -> keras.Model:
    """images [batch, H, W, C] in [0, 1] (and int32 labels [batch] when ``config.num_classes`` is set, or a
    ``condition`` vector [batch, condition_width] when that is given) -> ``[mean, log_var]`` of q(z|x), each
    float32 [batch, latent_dim]."""
    images = keras.Input(shape=tuple(config.image_shape), name="images")
    inputs = [images]
    x = downsampling_trunk(images, config.encoder_filters, config.kernel_size)
    if condition_width:
        condition = keras.Input(shape=(condition_width,), name="condition")
        inputs.append(condition)
        x = layers.Concatenate(name="features_and_condition")([x, condition])
    elif config.num_classes:
        labels = keras.Input(shape=(), dtype="int32", name="label")
        inputs.append(labels)
        # float32: with a float16 embedding, mixed_float16 training diverged.
        embedded = layers.Embedding(
            config.num_classes, config.label_embedding_dim, dtype="float32", name="label_embedding"
        )(labels)
        x = layers.Concatenate(name="features_and_label")([x, embedded])
    x = layers.Dense(config.dense_units, activation="relu", name="dense")(x)
    mean = layers.Dense(config.latent_dim, dtype="float32", name="mean")(x)
    log_var = layers.Dense(config.latent_dim, dtype="float32", name="log_var")(x)
    return keras.Model(inputs if len(inputs) > 1 else images, [mean, log_var], name="encoder")

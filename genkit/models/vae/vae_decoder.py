"""The VAE decoder: a functional network built from hyper-parameters only."""

from __future__ import annotations

import keras
from keras import layers

from genkit.layers.conv_blocks import upsampling_trunk
from genkit.models.vae.gaussian_log_variance import GaussianLogVariance


def build_vae_decoder(config, condition_width: int | None = None) -> keras.Model:
    """``z`` [batch, latent_dim] (and int32 labels [batch] when ``config.num_classes`` is set, or a ``condition``
    vector [batch, condition_width] when that is given) -> pixel logits.

    Outputs ``logits`` [batch, H, W, C] (float32): the Bernoulli logits, or for
    the Gaussian decoder the logits of the mean (mean = sigmoid(logits)) and
    ``[logits, log_var]`` with the pixel log-variance [batch, 1, 1, 1].
    """
    z = keras.Input(shape=(config.latent_dim,), name="z")
    inputs = [z]
    x = z
    if condition_width:
        condition = keras.Input(shape=(condition_width,), name="condition")
        inputs.append(condition)
        x = layers.Concatenate(name="z_and_condition")([z, condition])
    elif config.num_classes:
        labels = keras.Input(shape=(), dtype="int32", name="label")
        inputs.append(labels)
        # float32: with a float16 embedding, mixed_float16 training diverged.
        embedded = layers.Embedding(
            config.num_classes, config.label_embedding_dim, dtype="float32", name="label_embedding"
        )(labels)
        x = layers.Concatenate(name="z_and_label")([z, embedded])
    logits = upsampling_trunk(x, config.image_shape, config.decoder_filters, config.kernel_size, config.dense_units)
    if config.decoder == "gaussian":
        log_var = GaussianLogVariance(
            config.gaussian_std, config.min_gaussian_std, trainable=config.gaussian_variance == "learned",
            name="log_var",
        )(logits)
        return keras.Model(inputs if len(inputs) > 1 else z, [logits, log_var], name="decoder")
    return keras.Model(inputs if len(inputs) > 1 else z, logits, name="decoder")

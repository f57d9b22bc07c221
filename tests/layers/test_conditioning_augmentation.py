"""ConditioningAugmentation: the mean at zero noise, the Gaussian's spread, and its KL term while training only."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from genkit.layers import ConditioningAugmentation


def _layer(mean_bias, log_variance_bias, units=3, kl_weight=2.0):
    layer = ConditioningAugmentation(units, kl_weight)
    layer.build([(None, 5), (None, units)])
    kernel, bias = layer.projection.get_weights()
    layer.projection.set_weights([np.zeros_like(kernel), np.array([mean_bias] * units + [log_variance_bias] * units, np.float32)])
    return layer


def test_zero_noise_gives_the_mean_and_noise_scales_by_sigma():
    layer = _layer(0.5, np.log(4.0))
    embedding = np.random.default_rng(0).standard_normal((4, 5)).astype(np.float32)
    np.testing.assert_allclose(layer([embedding, np.zeros((4, 3), np.float32)]), 0.5, rtol=1e-6)
    np.testing.assert_allclose(layer([embedding, np.ones((4, 3), np.float32)]), 0.5 + 2.0, rtol=1e-6)


def test_kl_term_is_added_while_training_only_with_its_closed_form_value():
    embedding, noise = np.ones((4, 5), np.float32), np.zeros((4, 3), np.float32)
    inputs = [keras.Input((5,)), keras.Input((3,))]
    layer = _layer(1.0, 0.0)
    model = keras.Model(inputs, layer(inputs))
    model([embedding, noise], training=False)
    assert model.losses == []
    model([embedding, noise], training=True)
    # KL(N(1, 1) || N(0, 1)) = 0.5 per dimension: 1.5 over three, times kl_weight 2.
    np.testing.assert_allclose(float(tf.add_n(model.losses)), 3.0, rtol=1e-6)
    unit = _layer(0.0, 0.0)
    unit([embedding, noise], training=True)
    np.testing.assert_allclose(float(tf.add_n(unit.losses)), 0.0, atol=1e-7)


def test_serialises_with_its_settings():
    layer = ConditioningAugmentation(7, 0.25, name="ca")
    clone = ConditioningAugmentation.from_config(layer.get_config())
    assert (clone.units, clone.kl_weight, clone.name) == (7, 0.25, "ca")

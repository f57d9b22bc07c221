"""The parts of a GAN's train step (:meth:`genkit.models.gan.gan.GAN.train_step`): one discriminator update, the
generator's objective, the moving average, and the step's metrics. Plain functions of the model; a family
changes them through the model's hooks (``_discriminator_inputs``, ``_discriminator_objective``)."""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import ops

from genkit.models.gan.gan_losses import discriminator_score, generator_loss
from genkit.models.gan.gradient_penalty import gradient_penalty
from genkit.training.moving_average import update_moving_average
from genkit.training.noise import replica_uniform

# Noise streams of one train step: latent batch k is stream k, interpolation weights k are stream 1000 + k.
INTERPOLATION_STREAM = 1000


def discriminator_update(model, real_images, fake_images, labels, index: int):
    """One update of ``model``'s discriminator on a real and a generated batch (the ``index``-th of the step);
    returns its loss, the real and fake logits and the gradient penalty per example (or None)."""
    optimizer = model.discriminator_optimizer

    def critic(images):
        return model.discriminator(model._discriminator_inputs(images, labels), training=True)

    with tf.GradientTape() as tape:
        real_logits = critic(real_images)
        fake_logits = critic(fake_images)
        per_example = model._discriminator_objective(real_images, labels, real_logits, fake_logits)
        penalty = None
        if model.gradient_penalty_weight:
            weights = replica_uniform(
                model.noise_seed, model.generator_optimizer.iterations, INTERPOLATION_STREAM + index,
                ops.shape(real_images)[0], 1,
            )
            loss_scale = optimizer.scale_loss if isinstance(optimizer, keras.optimizers.LossScaleOptimizer) else None
            penalty = gradient_penalty(critic, real_images, fake_images, weights, loss_scale=loss_scale)
            per_example = per_example + model.gradient_penalty_weight * penalty
        # Averaged over the global batch: the optimizer sums gradients across replicas.
        loss = tf.nn.compute_average_loss(per_example)
    model.minimize(tape, loss, model.discriminator.trainable_variables, optimizer)
    return loss, real_logits, fake_logits, penalty


def generator_objective(model, fake_images, labels):
    """(the adversarial loss, the losses the generator's layers add or None, their sum) of a generated batch,
    each averaged over the global batch (the layers' losses, such as conditioning augmentation's KL term, are)."""
    generated_logits = model.discriminator(model._discriminator_inputs(fake_images, labels), training=True)
    adversarial = tf.nn.compute_average_loss(generator_loss(model.loss, generated_logits))
    layer_losses = tf.add_n(model.generator.losses) if model.generator.losses else None
    return adversarial, layer_losses, adversarial if layer_losses is None else adversarial + layer_losses


def update_generator_average(model) -> None:
    """The moving average's update after a generator update, its decay warmed up as
    ``min(ema_decay, (1 + t) / (10 + t))`` after ``t`` generator updates."""
    updates = tf.cast(model.generator_optimizer.iterations, tf.float32)
    decay = tf.minimum(tf.constant(model.ema_decay, tf.float32), (1.0 + updates) / (10.0 + updates))
    update_moving_average(model.generator_average, model.generator, decay)


def track_loss(tracker, value, optimizer) -> None:
    """Records a loss averaged over the global batch (times the replicas: the whole batch's loss). Under mixed
    float16 a step whose loss overflowed is skipped by the loss-scale optimizer (which lowers the scale); it is left
    out of the running mean."""
    value = value * tf.distribute.get_strategy().num_replicas_in_sync
    if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        finite = tf.math.is_finite(value)
        tracker.update_state(tf.where(finite, value, 0.0), sample_weight=tf.cast(finite, value.dtype))
    else:
        tracker.update_state(value)


def record_step_metrics(model, discriminator_results, generator_loss_value, layer_losses) -> None:
    """Updates ``model``'s trackers with one step's discriminator updates (what :func:`discriminator_update`
    returned) and its generator's losses."""
    optimizer = model.discriminator_optimizer
    for loss, real_logits, fake_logits, penalty in discriminator_results:
        track_loss(model.discriminator_loss_tracker, loss, optimizer)
        model.real_score_tracker.update_state(discriminator_score(model.loss, real_logits))
        model.fake_score_tracker.update_state(discriminator_score(model.loss, fake_logits))
        if penalty is not None:
            track_loss(model.gradient_penalty_tracker, tf.nn.compute_average_loss(penalty), optimizer)
    track_loss(model.generator_loss_tracker, generator_loss_value, optimizer)
    if layer_losses is not None:
        track_loss(model.generator_layer_loss_tracker, layer_losses, optimizer)

"""The peer of genkit's ``captioner``: the architecture of keras-io's "Image Captioning" example, in Keras 3.

keras-io ``examples/vision/image_captioning.py`` (A_K_Nain, 2021; last
modified 2021/10/31) captions Flickr8k with

- a CNN feature extractor: ``EfficientNetB0(include_top=False)``, its last
  feature map reshaped into a sequence of spatial cells (10x10 cells of 1280
  channels at its 299x299 input);
- a Transformer encoder block over those cells: LayerNorm, Dense(EMBED_DIM,
  relu), one-head self-attention (key_dim = EMBED_DIM), residual + LayerNorm
  (no feed-forward part);
- a Transformer decoder block: token embeddings scaled by sqrt(EMBED_DIM)
  plus learned position embeddings; causal self-attention (2 heads,
  key_dim = EMBED_DIM, attention dropout 0.1), residual + LayerNorm;
  cross-attention over the encoded image (same), residual + LayerNorm;
  feed-forward Dense(FF_DIM, relu) -> Dropout(0.3) -> Dense(EMBED_DIM),
  residual + LayerNorm; Dropout(0.5); Dense(vocabulary) -> softmax;
- EMBED_DIM = FF_DIM = 512, batch 64, captions of at most 25 words with
  start and end tokens;
- teacher forcing: the decoder reads ``<start> w1 .. wn`` and predicts
  ``w1 .. wn <end>``; sparse categorical cross-entropy averaged over the
  non-padding targets;
- Adam whose learning rate warms up linearly to 1e-4 over the first 1/15 of
  the training steps (30 epochs), constant after;
- image augmentation: RandomFlip("horizontal"), RandomRotation(0.2),
  RandomContrast(0.3), on training batches only;
- greedy decoding: from ``<start>``, append the most likely word until
  ``<end>`` or the length limit.

This module keeps all of that (hyper-parameters as module constants below)
and differs where this benchmark forces it to:

- **No ImageNet weights.** Nothing can be downloaded here, so EfficientNetB0
  starts from random weights (``weights=None``) and is trained together with
  the encoder and decoder, BatchNorm included. keras-io freezes its
  pretrained CNN; freezing a random one would be a strawman. (Its
  preprocessing -- Rescaling(1/255) and an identity Normalization when there
  are no ImageNet weights -- stays inside the network; the BatchNorm after
  the stem does the rest.) The learning rate stays keras-io's 1e-4
  (``learning_rate`` changes it): tuned for a frozen CNN and ~14,000 updates,
  it is on the low side for a CNN from scratch and a few hundred updates (on
  64 emoji for 45 s, 1e-3 fitted faster than 1e-4), but a fair choice needs
  full-budget runs.
- **BatchNorm recalibrated after training.** A from-scratch EfficientNetB0
  trained for a few hundred steps has moving averages (momentum 0.99) that
  lag its weights; in inference mode its features then barely depend on the
  picture (on 64 emoji after 146 steps greedy decoding gave one caption for
  all of them). Before decoding, :func:`recalibrate_batch_norm` sets them to
  the average batch statistics over the training images ("precise
  BatchNorm"; 16 distinct captions on the same run). Its time, 6-11 s at
  96 px here, is counted in the budget.
- **32x32 pictures.** The emoji are 32x32 RGB; EfficientNetB0 reduces by 32,
  so at 32 px its feature "grid" would be a single cell. The model upsamples
  with ``keras.layers.Resizing`` (bilinear) to :data:`IMAGE_SIZE` pixels,
  chosen by measuring the train-step time (batch 64, :func:`measure_step_time`)
  on this shared 2-core CPU: 0.8-1.4 s at 64 px (2x2 cells), 1.2-2.3 s at
  96 px (3x3), 3.4 s at 128 px (4x4), the lower figures on an idle machine.
  96 px keeps a spatial grid for the encoder's self-attention and the
  decoder's cross-attention (keras-io's has 10x10 cells) and lets 11-20
  epochs of the 1,478 training emoji (23 steps each) run in 10 minutes; the
  first step (tracing) takes 11-14 s. XLA (``jit_compile``) made the step 8x
  slower.
- **A wall-clock budget instead of 30 epochs with early stopping.** Training
  stops between steps when ``minutes`` are up (tracing and the BatchNorm
  recalibration included, model building excluded; no validation set is
  looked at). The warmup stays 1/15 of training: it starts at two
  epochs' worth of steps (keras-io's 30 epochs / 15) and, once the first
  steps are timed, is set to 1/15 of the steps the budget allows.
- **One reference per image per epoch.** keras-io takes a gradient step per
  each of an image's 5 captions on every batch (its frozen CNN runs once);
  here the CNN is trained, so every step is one full forward/backward pass,
  and each epoch draws one of the image's references at random (an emoji has
  a variable number: its Unicode name, CLDR short name and keywords). Over
  epochs every reference is trained on, as in keras-io.
- **Augmentation adapted to emoji.** The rotation and contrast are kept
  (after the resize, as keras-io augments its full-size image); the rotation
  fills with white (the emoji sit on a white square) instead of reflecting
  the picture's edges into the corners. The horizontal flip is dropped:
  emoji are chiral (``left arrow``, ``right-facing fist``, letters, digits,
  flags), so a flip would pair a picture with a wrong caption.
- **Tokens as genkit's.** Lowercased words by
  ``re.findall(genkit.data.text_tokenizer.WORD_PATTERN, ...)`` (keras-io
  strips punctuation and splits on spaces), the vocabulary is every word of
  the training captions (keras-io: the 10,000 most frequent), captions are
  truncated to ``max_length`` words (keras-io drops images with captions
  under 5 or over 25 words; emoji references are 1-11 words).
- **Keras 3 idioms, same maths.** ``MultiHeadAttention(use_causal_mask=True)``
  plus a key-padding mask replaces the hand-built causal mask; the
  cross-attention's query-padding mask is omitted (it only changes outputs
  at padding positions, which the loss ignores); the output layer gives
  logits and the loss takes ``from_logits=True`` (the same as softmax +
  cross-entropy, numerically steadier); greedy decoding runs over a batch of
  images with a fixed-length token buffer and never picks the padding or
  start token.

Entry point: :func:`train_and_caption`.
"""

from __future__ import annotations

import math
import re
import time

import keras
import numpy as np
import tensorflow as tf
from keras import layers, ops

from genkit.data.text_tokenizer import WORD_PATTERN

# keras-io's hyper-parameters.
EMBED_DIM = 512
FF_DIM = 512
ENCODER_HEADS = 1
DECODER_HEADS = 2
ATTENTION_DROPOUT = 0.1  # the decoder's two attentions (the encoder's is 0)
FFN_DROPOUT = 0.3
OUTPUT_DROPOUT = 0.5
LEARNING_RATE = 1e-4  # after warmup
WARMUP_FRACTION = 1 / 15  # of all training steps
KERAS_IO_EPOCHS = 30  # warmup before the step time is known: 30 epochs / 15 = 2 epochs
ROTATION_FACTOR = 0.2  # of a full turn, either way
CONTRAST_FACTOR = 0.3
# This benchmark's choice (32x32 emoji upsampled inside the model; see the module docstring).
IMAGE_SIZE = 96
BACKGROUND = 255.0  # the emoji's white square: the rotation's fill

PAD, START, END = "<pad>", "<start>", "<end>"
PAD_ID, START_ID, END_ID = 0, 1, 2
TIMED_STEPS = 4  # steps (after the first, traced one) that estimate the step time for the warmup


# -- text ----------------------------------------------------------------------------------------


def caption_words(text: str) -> list[str]:
    """genkit's word tokens of ``text``, lowercased."""
    return re.findall(WORD_PATTERN, text.lower())


class Vocabulary:
    """Padding, start and end tokens (ids 0, 1, 2), then the training captions' words by count (ties by word)."""

    def __init__(self, captions):
        counts: dict[str, int] = {}
        for caption in captions:
            for word in caption_words(caption):
                counts[word] = counts.get(word, 0) + 1
        self.tokens = [PAD, START, END, *sorted(counts, key=lambda word: (-counts[word], word))]
        self.ids = {token: index for index, token in enumerate(self.tokens)}

    def __len__(self) -> int:
        return len(self.tokens)

    def encode(self, caption: str, max_length: int) -> list[int]:
        """``<start>``, the first ``max_length`` known words, ``<end>``."""
        words = [word for word in caption_words(caption) if word in self.ids][:max_length]
        return [START_ID, *(self.ids[word] for word in words), END_ID]

    def decode(self, ids) -> str:
        """The words of ``ids`` up to the first end token, space-joined (special tokens left out)."""
        words = []
        for index in ids:
            if index == END_ID:
                break
            if index > END_ID:
                words.append(self.tokens[index])
        return " ".join(words)


def encode_references(references, vocabulary: Vocabulary, max_length: int) -> tuple[np.ndarray, np.ndarray]:
    """Every image's references as id sequences: int32 [N, most references, max_length + 2] and counts [N]."""
    counts = np.array([len(refs) for refs in references], dtype=np.int64)
    if counts.min() < 1:
        raise ValueError("every training image needs at least one reference caption")
    sequences = np.full((len(references), counts.max(), max_length + 2), PAD_ID, dtype=np.int32)
    for image, refs in enumerate(references):
        for slot, caption in enumerate(refs):
            ids = vocabulary.encode(caption, max_length)
            sequences[image, slot, : len(ids)] = ids
    return sequences, counts


# -- model ---------------------------------------------------------------------------------------


def get_cnn_model(image_size):
    """EfficientNetB0 without its top, from random weights; its last feature map as a sequence of cells."""
    base = keras.applications.EfficientNetB0(
        include_top=False, weights=None, input_shape=(image_size, image_size, 3)
    )
    cells = layers.Reshape((-1, base.output.shape[-1]))(base.output)
    return keras.Model(base.input, cells, name="efficientnetb0_cells")


class TransformerEncoderBlock(layers.Layer):
    """keras-io's encoder: LayerNorm -> Dense(relu) -> self-attention, residual + LayerNorm."""

    def __init__(self, embed_dim, num_heads, **kwargs):
        super().__init__(**kwargs)
        self.input_norm = layers.LayerNormalization()
        self.projection = layers.Dense(embed_dim, activation="relu")
        self.attention = layers.MultiHeadAttention(num_heads=num_heads, key_dim=embed_dim, dropout=0.0)
        self.output_norm = layers.LayerNormalization()

    def call(self, features, training=None):
        cells = self.projection(self.input_norm(features))
        attended = self.attention(query=cells, value=cells, key=cells, training=training)
        return self.output_norm(cells + attended)


class PositionalEmbedding(layers.Layer):
    """Token embeddings scaled by sqrt(embed_dim) plus learned position embeddings."""

    def __init__(self, sequence_length, vocab_size, embed_dim, **kwargs):
        super().__init__(**kwargs)
        self.token_embeddings = layers.Embedding(vocab_size, embed_dim)
        self.position_embeddings = layers.Embedding(sequence_length, embed_dim)
        self.scale = math.sqrt(embed_dim)

    def call(self, ids):
        positions = ops.arange(ops.shape(ids)[-1])
        return self.token_embeddings(ids) * self.scale + self.position_embeddings(positions)


class TransformerDecoderBlock(layers.Layer):
    """keras-io's decoder: causal self-attention, cross-attention, feed-forward, each residual + LayerNorm."""

    def __init__(self, vocab_size, sequence_length, embed_dim, ff_dim, num_heads, **kwargs):
        super().__init__(**kwargs)
        self.embedding = PositionalEmbedding(sequence_length, vocab_size, embed_dim)
        self.self_attention = layers.MultiHeadAttention(
            num_heads=num_heads, key_dim=embed_dim, dropout=ATTENTION_DROPOUT
        )
        self.cross_attention = layers.MultiHeadAttention(
            num_heads=num_heads, key_dim=embed_dim, dropout=ATTENTION_DROPOUT
        )
        self.ffn_in = layers.Dense(ff_dim, activation="relu")
        self.ffn_dropout = layers.Dropout(FFN_DROPOUT)
        self.ffn_out = layers.Dense(embed_dim)
        self.norm_1 = layers.LayerNormalization()
        self.norm_2 = layers.LayerNormalization()
        self.norm_3 = layers.LayerNormalization()
        self.output_dropout = layers.Dropout(OUTPUT_DROPOUT)
        self.logits = layers.Dense(vocab_size)

    def call(self, ids, encoded_image, training=None):
        tokens = self.embedding(ids)
        key_is_word = ops.expand_dims(ops.not_equal(ids, PAD_ID), 1)  # [B, 1, T]: no attending to padding
        attended = self.self_attention(
            query=tokens, value=tokens, key=tokens, attention_mask=key_is_word,
            use_causal_mask=True, training=training,
        )
        tokens = self.norm_1(tokens + attended)
        looked = self.cross_attention(query=tokens, value=encoded_image, key=encoded_image, training=training)
        tokens = self.norm_2(tokens + looked)
        fed = self.ffn_out(self.ffn_dropout(self.ffn_in(tokens), training=training))
        tokens = self.norm_3(tokens + fed)
        return self.logits(self.output_dropout(tokens, training=training))


class KerasIoCaptioner(keras.Model):
    """Resizing -> (augmentation when training) -> EfficientNetB0 cells -> encoder; decoder over the ids."""

    def __init__(self, vocab_size, max_length, image_size=IMAGE_SIZE, embed_dim=EMBED_DIM, ff_dim=FF_DIM,
                 augment=True, **kwargs):
        super().__init__(**kwargs)
        self.image_size = image_size
        self.resize = layers.Resizing(image_size, image_size, interpolation="bilinear")
        self.augmentation = keras.Sequential([
            layers.RandomRotation(ROTATION_FACTOR, fill_mode="constant", fill_value=BACKGROUND),
            layers.RandomContrast(CONTRAST_FACTOR, value_range=(0, 255)),
        ], name="augmentation") if augment else None
        self.cnn = get_cnn_model(image_size)
        self.encoder = TransformerEncoderBlock(embed_dim, ENCODER_HEADS, name="encoder")
        self.decoder = TransformerDecoderBlock(
            vocab_size, max_length + 1, embed_dim, ff_dim, DECODER_HEADS, name="decoder"
        )

    def build(self, input_shape=None):
        """Sub-layers build on the first call (:func:`build_captioner` makes it)."""
        self.built = True

    def pixels(self, images, augment=False):
        """uint8 or float [B, H, W, 3] in 0..255 -> float32 [B, image_size, image_size, 3], augmented if asked."""
        pixels = self.resize(ops.cast(images, "float32"))
        if augment and self.augmentation is not None:
            pixels = self.augmentation(pixels, training=True)
        return pixels

    def encode_images(self, images, training=None, augment=None):
        """The encoded cells [B, cells, embed_dim]; ``augment`` defaults to ``training``."""
        pixels = self.pixels(images, augment=training if augment is None else augment)
        return self.encoder(self.cnn(pixels, training=training), training=training)

    def call(self, inputs, training=None, augment=None):
        images, ids = inputs
        encoded = self.encode_images(images, training=training, augment=augment)
        return self.decoder(ids, encoded, training=training)


def build_captioner(vocab_size: int, max_length: int, image_size: int = IMAGE_SIZE, **options):
    """The captioner, built (called once on zeros), for ``vocab_size`` tokens and captions of ``max_length`` words."""
    captioner = KerasIoCaptioner(vocab_size, max_length, image_size=image_size, **options)
    captioner((np.zeros((1, 32, 32, 3), np.uint8), np.zeros((1, max_length + 1), np.int32)), training=False)
    return captioner


class WarmupSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """keras-io's schedule: linear warmup to ``peak`` over ``warmup_steps`` (a variable, set later), then flat."""

    def __init__(self, peak: float, warmup_steps: float):
        self.peak = peak
        self.warmup_steps = tf.Variable(float(warmup_steps), trainable=False, dtype=tf.float32)

    def __call__(self, step):
        progress = (tf.cast(step, tf.float32) + 1.0) / tf.maximum(self.warmup_steps, 1.0)
        return self.peak * tf.minimum(progress, 1.0)

    def get_config(self):
        return {"peak": self.peak, "warmup_steps": float(self.warmup_steps.numpy())}


def make_train_step(captioner, optimizer, jit_compile: bool = False):
    """A traced teacher-forcing step: ``step(images, sequences) -> (loss, accuracy)`` over non-padding targets.

    ``sequences`` are int32 [B, max_length + 2]: ``<start> words <end>`` then padding.
    """

    cross_entropy = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction=None)
    variables = captioner.trainable_variables
    optimizer.build(variables)

    # The augmentation stays outside XLA (it has no kernel for RandomRotation's projective transform).
    augment = tf.function(lambda images: captioner.pixels(images, augment=True))

    @tf.function(jit_compile=jit_compile)
    def learn(pixels, sequences):
        inputs, targets = sequences[:, :-1], sequences[:, 1:]
        mask = tf.cast(tf.not_equal(targets, PAD_ID), tf.float32)
        with tf.GradientTape() as tape:
            logits = captioner((pixels, inputs), training=True, augment=False)
            loss = tf.reduce_sum(cross_entropy(targets, logits) * mask) / tf.reduce_sum(mask)
        gradients = tape.gradient(loss, variables)
        optimizer.apply_gradients(zip(gradients, variables))
        hits = tf.cast(tf.equal(tf.argmax(logits, axis=-1, output_type=tf.int32), targets), tf.float32)
        return loss, tf.reduce_sum(hits * mask) / tf.reduce_sum(mask)

    def train_step(images, sequences):
        return learn(augment(images), sequences)

    return train_step


def recalibrate_batch_norm(captioner, images, batch_size: int = 64) -> int:
    """Precise BatchNorm: sets the CNN's moving statistics to the average batch statistics of ``images``.

    Trained from scratch for a few hundred steps, EfficientNetB0's moving averages (momentum 0.99) still
    lag its weights, so in inference mode its features barely depend on the picture. This pass -- the CNN
    in inference mode (no augmentation, no stochastic depth), each BatchNorm normalising by its batch and
    recording that batch's mean and variance -- replaces them by their averages over full batches of
    ``images``. Returns the number of batches used.
    """
    norms = [layer for layer in captioner.cnn.layers if isinstance(layer, layers.BatchNormalization)]
    dropouts = [layer for layer in captioner.cnn.layers if isinstance(layer, layers.Dropout)]
    saved = [norm.momentum for norm in norms], [dropout.rate for dropout in dropouts]
    for norm in norms:
        norm.momentum = 0.0  # each call leaves exactly its batch's statistics
    for dropout in dropouts:
        dropout.rate = 0.0
    forward = tf.function(lambda batch: captioner.cnn(captioner.pixels(batch), training=True))
    means = [np.zeros(norm.moving_mean.shape, np.float64) for norm in norms]
    variances = [np.zeros(norm.moving_variance.shape, np.float64) for norm in norms]
    batches = max(1, len(images) // batch_size)
    try:
        for first in range(0, batches * batch_size, batch_size):
            forward(tf.constant(images[first:first + batch_size]))
            for index, norm in enumerate(norms):
                means[index] += np.asarray(norm.moving_mean)
                variances[index] += np.asarray(norm.moving_variance)
    finally:
        for norm, momentum in zip(norms, saved[0]):
            norm.momentum = momentum
        for dropout, rate in zip(dropouts, saved[1]):
            dropout.rate = rate
    for norm, mean, variance in zip(norms, means, variances):
        norm.moving_mean.assign(mean / batches)
        norm.moving_variance.assign(variance / batches)
    return batches


def greedy_captions(captioner, vocabulary: Vocabulary, images, max_length: int, batch_size: int = 256) -> list[str]:
    """Greedy decoding of every image: the most likely word each time, until ``<end>`` or ``max_length`` words."""

    forbidden = np.zeros(len(vocabulary), np.float32)
    forbidden[[PAD_ID, START_ID]] = -np.inf

    @tf.function
    def next_ids(encoded, ids, position):
        logits = captioner.decoder(ids, encoded, training=False)
        return tf.argmax(tf.gather(logits, position, axis=1) + forbidden, axis=-1, output_type=tf.int32)

    encode = tf.function(lambda batch: captioner.encode_images(batch, training=False))
    captions = []
    for first in range(0, len(images), batch_size):
        batch = np.asarray(images[first:first + batch_size])
        encoded = encode(tf.constant(batch))
        ids = np.zeros((len(batch), max_length + 1), np.int32)
        ids[:, 0] = START_ID
        done = np.zeros(len(batch), bool)
        for position in range(max_length):
            chosen = next_ids(encoded, tf.constant(ids), tf.constant(position)).numpy()
            ids[:, position + 1] = np.where(done, PAD_ID, chosen)
            done |= chosen == END_ID
            if done.all():
                break
        captions += [vocabulary.decode(row[1:]) for row in ids]
    return captions


# -- training ------------------------------------------------------------------------------------


def train_and_caption(train_images, train_references, test_images, minutes: float, seed: int = 0,
                      max_length: int = 16, batch_size: int = 64, image_size: int = IMAGE_SIZE,
                      learning_rate: float = LEARNING_RATE, jit_compile: bool = False) -> dict:
    """Trains keras-io's captioner for ``minutes`` of wall time, then greedy-decodes every test image.

    ``train_images``/``test_images``: uint8 [N, 32, 32, 3]; ``train_references``: per image a tuple of
    reference captions. Each epoch visits the training images in a new random order, each with one of
    its references drawn at random (full batches only: the few images left over differ every epoch).
    The budget, ``minutes`` from the first step's start (tracing included, model building not), covers the
    steps and the closing BatchNorm recalibration (:func:`recalibrate_batch_norm`, whose time is estimated
    from the step time and kept free): training stops between steps. Returns ``captions`` (one
    space-joined string per test image), ``steps``, ``epochs`` (images trained on / training images),
    ``seconds`` (steps + recalibration), ``parameters`` (all weights, BatchNorm statistics included),
    ``image_size``, and for the report ``step_seconds`` (median after the first step), ``final_loss``
    (mean over the last epoch's steps), ``warmup_steps``, ``calibration_seconds``, ``vocabulary_size``.
    ``jit_compile`` XLA-compiles the step (measured 8x slower here: EfficientNet's depthwise convolutions).
    """

    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    train_images = np.asarray(train_images, np.uint8)
    references = [tuple(refs) for refs in train_references]
    vocabulary = Vocabulary(caption for refs in references for caption in refs)
    sequences, reference_counts = encode_references(references, vocabulary, max_length)

    examples = len(train_images)
    batch_size = min(batch_size, examples)
    steps_per_epoch = examples // batch_size
    captioner = build_captioner(len(vocabulary), max_length, image_size=image_size)
    schedule = WarmupSchedule(learning_rate, KERAS_IO_EPOCHS * steps_per_epoch * WARMUP_FRACTION)
    optimizer = keras.optimizers.Adam(learning_rate=schedule)
    train_step = make_train_step(captioner, optimizer, jit_compile=jit_compile)

    def epoch_batches():
        while True:
            order = rng.permutation(examples)
            choice = (rng.random(examples) * reference_counts[order]).astype(np.int64)
            epoch_sequences = sequences[order, choice]
            for first in range(0, steps_per_epoch * batch_size, batch_size):
                yield train_images[order[first:first + batch_size]], epoch_sequences[first:first + batch_size]

    batches = epoch_batches()
    calibration_batches = max(1, examples // batch_size)
    budget = minutes * 60.0
    reserve = 0.0  # for the BatchNorm recalibration, once the step time is known
    step_times: list[float] = []
    losses: list[float] = []
    steps = 0
    start = time.perf_counter()
    while time.perf_counter() - start < budget - reserve:
        images, ids = next(batches)
        began = time.perf_counter()
        loss, _ = train_step(tf.constant(images), tf.constant(ids))
        loss = float(loss)  # waits for the step
        step_times.append(time.perf_counter() - began)
        losses.append(loss)
        steps += 1
        if steps == 1 + TIMED_STEPS:  # the budget's steps are known: warm up over 1/15 of them
            per_step = float(np.median(step_times[1:]))
            # Measured at 96 px: a calibration batch takes 1/6 of a train step, its tracing 1/8 of the first step.
            reserve = calibration_batches * per_step / 6 + step_times[0] / 8
            planned = steps + max(0.0, budget - reserve - (time.perf_counter() - start)) / per_step
            schedule.warmup_steps.assign(max(1.0, planned * WARMUP_FRACTION))
        if not math.isfinite(loss):
            raise FloatingPointError(f"training loss {loss} at step {steps}")
    training_seconds = time.perf_counter() - start
    recalibrate_batch_norm(captioner, train_images, batch_size)
    seconds = time.perf_counter() - start

    captions = greedy_captions(captioner, vocabulary, np.asarray(test_images, np.uint8), max_length)
    return {
        "captions": captions,
        "steps": steps,
        "epochs": steps * batch_size / examples,
        "seconds": seconds,
        "parameters": int(captioner.count_params()),
        "image_size": image_size,
        "step_seconds": float(np.median(step_times[1:])) if len(step_times) > 1 else None,
        "final_loss": float(np.mean(losses[-steps_per_epoch:])),  # mean over the last epoch's steps
        "warmup_steps": float(schedule.warmup_steps.numpy()),
        "calibration_seconds": seconds - training_seconds,
        "vocabulary_size": len(vocabulary),
    }


def measure_step_time(image_size: int, batch_size: int = 64, steps: int = 5, vocab_size: int = 2400,
                      max_length: int = 16, jit_compile: bool = False, seed: int = 0) -> dict:
    """Seconds per train step (median of ``steps`` after the traced first) at ``image_size``, on random data."""

    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    captioner = build_captioner(vocab_size, max_length, image_size=image_size)
    optimizer = keras.optimizers.Adam(learning_rate=WarmupSchedule(LEARNING_RATE, 10))
    train_step = make_train_step(captioner, optimizer, jit_compile=jit_compile)
    images = tf.constant(rng.integers(0, 256, (batch_size, 32, 32, 3)).astype(np.uint8))
    ids = rng.integers(3, vocab_size, (batch_size, max_length + 2)).astype(np.int32)
    ids[:, 0], ids[:, -1] = START_ID, END_ID
    ids = tf.constant(ids)
    began = time.perf_counter()
    float(train_step(images, ids)[0])
    first = time.perf_counter() - began
    times = []
    for _ in range(steps):
        began = time.perf_counter()
        float(train_step(images, ids)[0])
        times.append(time.perf_counter() - began)
    return {"image_size": image_size, "jit_compile": jit_compile, "first_step": first,
            "step_seconds": float(np.median(times)), "cells": int(captioner.cnn.output.shape[1]),
            "parameters": int(captioner.count_params())}


if __name__ == "__main__":
    import argparse
    import json

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--measure", type=int, nargs="*", metavar="SIZE", help="time train steps at these sizes")
    parser.add_argument("--jit", action="store_true", help="XLA-compile the train step")
    arguments = parser.parse_args()
    for size in arguments.measure or [IMAGE_SIZE]:
        print(json.dumps(measure_step_time(size, jit_compile=arguments.jit)), flush=True)

"""dual-encoder: images and texts embedded in one space, trained contrastively (CLIP's symmetric InfoNCE)."""

from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf

from genkit.errors import UserError
from genkit.registry import register_model
from genkit.signatures import Endpoint, TensorDeclaration
from genkit.models.dual_encoder.dual_encoder_config import DualEncoderConfig
from genkit.models.dual_encoder.dual_encoder_evaluation import retrieval_metrics
from genkit.models.dual_encoder.dual_encoder_export_cost import recall_cost
from genkit.tasks.modality_encoders import image_encoder, text_encoder
from genkit.tasks.paired_preprocessor import PairedPreprocessor
from genkit.tasks.paired_task import ImageTextTask
from genkit.training.loss_scaling import with_loss_scaling

MIN_TEMPERATURE = 0.01
EVALUATION_BATCH = 256


def _unit(x):
    return tf.math.l2_normalize(tf.cast(x, tf.float32), axis=-1)


@register_model(
    "dual-encoder",
    config=DualEncoderConfig,
    family="dual_encoder",
    description="Contrastive image-text dual encoder (CLIP-style InfoNCE, learned temperature); retrieval and scoring",
    train_defaults={"epochs": 40, "batch_size": 128},
    tiny_overrides=["width=8", "image_filters=[4]", "embedding_dim=8", "text_units=8"],
)
class DualEncoder(ImageTextTask):
    """Two functional encoders (``image_network``, ``text_network``) and a learned temperature.

    ``embed_images`` / ``embed_texts`` give unit vectors whose dot products
    score how well a text describes an image (what the text-to-image models'
    R-precision uses).
    """

    pairing = "the dual encoder"
    sample_file_types = (".json",)
    final_samples_file = None

    def __init__(self, image_network, text_network, preprocessor, text_reference="random", initial_temperature=0.07,
                 **kwargs):
        super().__init__(**kwargs)
        self.image_network = image_network
        self.text_network = text_network
        self.preprocessor = preprocessor
        self.text_reference = text_reference
        self.initial_temperature = float(initial_temperature)
        self.log_inverse_temperature = self.add_weight(
            shape=(), initializer=keras.initializers.Constant(math.log(1 / self.initial_temperature)),
            name="log_inverse_temperature",
        )
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.accuracy_tracker = keras.metrics.Mean(name="batch_accuracy")
        self.built = True

    @classmethod
    def from_hyperparameters(cls, config):
        image_name, text_name = config.inputs
        return cls(
            image_network=image_encoder(config, image_name),
            text_network=text_encoder(
                len(config.vocabulary) + 2, config.max_text_length, config.embedding_dim, config.text_units,
                config.text_encoder, config.width, text_name,
            ),
            preprocessor=PairedPreprocessor.from_model_config(config),
            text_reference=config.text_reference,
            initial_temperature=config.initial_temperature,
            name="dual_encoder",
        )

    # -- training ------------------------------------------------------------------------------

    @property
    def metrics(self):
        return [self.loss_tracker, self.accuracy_tracker]

    @property
    def temperature(self):
        return 1.0 / tf.exp(self.log_inverse_temperature)

    def _trainable_network_variables(self):
        return [*self.image_network.trainable_variables, *self.text_network.trainable_variables, self.log_inverse_temperature]

    def compile_for_training(self, config, seed: int = 0):
        self.compile(optimizer=with_loss_scaling(keras.optimizers.Adam(config.learning_rate)))

    def checkpoint_objects(self):
        return {
            "image_network": self.image_network, "text_network": self.text_network,
            "temperature": self.log_inverse_temperature, "optimizer": self.optimizer,
        }

    def train_step(self, batch):
        with tf.GradientTape() as tape:
            images = _unit(self.image_network(batch[self.image_input], training=True))
            texts = _unit(self.text_network(batch[self.text_input], training=True))
            all_images, all_texts, offset = _gather_replicas(images), _gather_replicas(texts), _replica_offset(images)
            scale = tf.exp(tf.minimum(tf.cast(self.log_inverse_temperature, tf.float32), math.log(1 / MIN_TEMPERATURE)))
            targets = offset + tf.range(tf.shape(images)[0])
            image_to_text = scale * tf.matmul(images, all_texts, transpose_b=True)
            text_to_image = scale * tf.matmul(texts, all_images, transpose_b=True)
            per_example = 0.5 * (
                tf.nn.sparse_softmax_cross_entropy_with_logits(labels=targets, logits=image_to_text)
                + tf.nn.sparse_softmax_cross_entropy_with_logits(labels=targets, logits=text_to_image)
            )
            loss = tf.nn.compute_average_loss(per_example)
        self.loss_tracker.update_state(self.minimize(tape, loss))
        hits = tf.cast(tf.argmax(image_to_text, axis=-1, output_type=tf.int32) == targets, tf.float32)
        self.accuracy_tracker.update_state(hits)
        return {metric.name: metric.result() for metric in self.metrics}

    def call(self, encoded, training=False):
        """The similarity matrix [N, N] of the batch's images (rows) and texts (columns)."""
        images = _unit(self.image_network(encoded[self.image_input], training=training))
        texts = _unit(self.text_network(encoded[self.text_input], training=training))
        return tf.matmul(images, texts, transpose_b=True)

    # -- endpoints -----------------------------------------------------------------------------

    def endpoints(self) -> dict[str, Endpoint]:
        raw_image, raw_text = self.raw_declarations()
        file_image, _ = self.file_declarations()
        image_ids, text_ids = self.encoded_declarations()
        width = self.image_network.output.shape[-1]

        def embeddings(name):
            return TensorDeclaration(name, "embedding", "float32", (width,), (-1.0, 1.0), description="unit vectors")

        def embed_images(images):
            return {"image_embeddings": _unit(self.image_network(images, training=False))}

        def embed_texts(texts):
            ids = self.preprocessor.tokenize(texts)
            return {"text_embeddings": _unit(self.text_network(ids, training=False))}

        def embed_image_files(data):
            images = self.preprocessor.decode_files({f"{self.image_input}_bytes": data})[self.image_input]
            return embed_images(images)

        def embed_text_ids(ids):
            return {"text_embeddings": _unit(self.text_network(ids, training=False))}

        def score(images, texts):
            image_vectors = embed_images(images)["image_embeddings"]
            text_vectors = embed_texts(texts)["text_embeddings"]
            return {
                "similarity": tf.reduce_sum(image_vectors * text_vectors, axis=-1),
                "image_embeddings": image_vectors, "text_embeddings": text_vectors,
            }

        similarity = TensorDeclaration(
            "similarity", "scores", "float32", (), (-1.0, 1.0), description="cosine similarity of each image and its text",
        )
        return {
            "serving_default": Endpoint(
                "serving_default", score, (raw_image, raw_text),
                (similarity, embeddings("image_embeddings"), embeddings("text_embeddings")), edge=False,
            ),
            "embed_images": Endpoint("embed_images", embed_images, (raw_image,), (embeddings("image_embeddings"),)),
            "embed_texts": Endpoint("embed_texts", embed_texts, (raw_text,), (embeddings("text_embeddings"),), edge=False),
            "embed_image_files": Endpoint(
                "embed_image_files", embed_image_files, (file_image,), (embeddings("image_embeddings"),), edge=False,
            ),
            "embed_text_ids": Endpoint(
                "embed_text_ids", embed_text_ids, (text_ids,), (embeddings("text_embeddings"),), serving=False,
            ),
        }

    def generate_samples(self, num_samples: int, seed: int = 0, **options):
        raise UserError(
            f"'{self.registered_name}' has no samples: use genkit evaluate (retrieval recall) or its "
            "embed_images / embed_texts endpoints"
        )

    # -- evaluation ----------------------------------------------------------------------------

    def embed_split(self, data, split: str) -> tuple[np.ndarray, np.ndarray]:
        """Unit embeddings of a split's images and of its texts' first references."""
        arrays = self.split_arrays(data, split)
        images, texts = [], []
        for start in range(0, len(arrays[self.image_input]), EVALUATION_BATCH):
            batch = {name: values[start : start + EVALUATION_BATCH] for name, values in arrays.items()}
            encoded = self.encode_batch({
                self.image_input: tf.constant(batch[self.image_input]),
                self.text_input: tf.constant(list(batch[self.text_input])),
            })
            images.append(_unit(self.image_network(encoded[self.image_input], training=False)).numpy())
            texts.append(_unit(self.text_network(encoded[self.text_input], training=False)).numpy())
        return np.concatenate(images), np.concatenate(texts)

    def evaluation_metrics(self, data, num_samples=None, seed: int = 0, **options) -> dict:
        """Recall@1/5/10 of image->text and text->image retrieval among the split's pairs, with chance levels
        (:func:`genkit.models.dual_encoder.dual_encoder_evaluation.retrieval_metrics`)."""
        self.check_options("evaluation", options)
        return retrieval_metrics(self, data)

    def export_quality(self, endpoint: str, run_export, data=None, num_samples: int = 1000, seed: int = 0) -> dict:
        """Retrieval recall@1 on the test pairs with the export's embeddings on one side, against Keras' on both
        (:func:`genkit.models.dual_encoder.dual_encoder_export_cost.recall_cost`)."""
        return recall_cost(self, endpoint, run_export, data, num_samples)

    def get_config(self):
        return {
            **super().get_config(),
            "image_network": keras.saving.serialize_keras_object(self.image_network),
            "text_network": keras.saving.serialize_keras_object(self.text_network),
            "preprocessor": keras.saving.serialize_keras_object(self.preprocessor),
            "text_reference": self.text_reference,
            "initial_temperature": self.initial_temperature,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for name in ("image_network", "text_network", "preprocessor"):
            config[name] = keras.saving.deserialize_keras_object(config[name])
        return cls(**config)


def _gather_replicas(local):
    """Every replica's rows, in replica order (``all_gather`` is differentiable: each replica's rows get the
    gradients of every replica's loss, as on one device)."""
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return local
    return context.all_gather(local, axis=0)


def _replica_offset(local):
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return 0
    return tf.cast(context.replica_id_in_sync_group, tf.int32) * tf.shape(local)[0]

"""The capability of models that read paired data (images, texts, audio): data, preprocessing, declarations."""

from __future__ import annotations

import collections
import re

import numpy as np

from genkit.data.text_tokenizer import WORD_PATTERN
from genkit.data.wav import wav_bytes
from genkit.errors import UserError
from genkit.signatures import TensorDeclaration
from genkit.tasks.task import Task
from genkit.tasks.image_generation import image_declaration

ENCODED_INPUTS = {"image": "PNG or JPEG file bytes", "audio": "WAV file bytes (16-bit PCM)"}


def png_bytes(image: np.ndarray) -> bytes:
    """A uint8 [H, W, C] image as PNG file bytes."""
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image).save(buffer, format="PNG")
    return buffer.getvalue()


def build_vocabulary(texts, max_size: int, min_count: int = 1) -> list[str]:
    """Lowercased words of ``texts`` seen at least ``min_count`` times, by descending count (ties by word), at
    most ``max_size``."""
    counts = collections.Counter()
    for text in texts:
        counts.update(re.findall(WORD_PATTERN, text.lower()))
    kept = [word for word in counts if counts[word] >= min_count]
    return sorted(kept, key=lambda word: (-counts[word], word))[:max_size]


class PairedDataTask(Task):
    """A task over a :class:`~genkit.data.paired_dataset.PairedDataset`: one encoder input per feature.

    The model holds a :class:`~genkit.tasks.paired_preprocessor.PairedPreprocessor`
    as ``self.preprocessor``; batches reach ``train_step`` already encoded
    (ids, spectrograms) with the target fields the family asks for
    (:meth:`target_fields`). Declarations come in three forms: raw inputs
    (TF Serving), encoded files (TF Serving clients sending bytes) and
    encoder inputs (TFLite, ONNX).
    """

    example_unit = "examples"
    text_reference = "first"  # which reference of a text feature trains: "first" or "random" (per epoch)

    # -- data ----------------------------------------------------------------------------------

    @classmethod
    def target_fields(cls, model_config) -> tuple[str, ...]:
        """Features besides the inputs that training reads (a classifier's label)."""
        return ()

    def batch_targets(self) -> tuple[str, ...]:
        """The target fields of this model's batches (the instance's :meth:`target_fields`)."""
        return ()

    @classmethod
    def prepare_data(cls, model_config, train_config):
        from genkit.data.dataset_registry import load_dataset

        needs = tuple(model_config.inputs) + cls.target_fields(model_config)
        data = load_dataset(
            train_config.dataset, needs, f"'{cls.registered_name}'", data_dir=train_config.data_dir,
            **cls.data_options(model_config),
        )
        return data, cls.complete_config(model_config, data, train_config.dataset)

    @classmethod
    def data_options(cls, model_config) -> dict:
        """Loader options: images at ``image_size``, or at the run's own image shape once the data has set it
        (evaluating on another dataset gives the network images of the size it was built for)."""
        image_size = model_config.image_size
        if image_size is None and model_config.image_shape:
            image_size = tuple(model_config.image_shape[:2])
        return {
            "image_size": image_size, "sample_rate": model_config.sample_rate,
            "audio_seconds": model_config.audio_seconds, "seed": model_config.split_seed,
        }

    @classmethod
    def default_inputs(cls, data, model_config) -> tuple[str, ...]:
        """Every image, text and audio feature of ``data``."""
        return tuple(f.name for f in data.features if f.type in ("image", "text", "audio"))

    @classmethod
    def complete_config(cls, model_config, data, spec: str):
        """Fills the inputs and what the data decides: input types, image shape, vocabulary, audio length."""
        inputs = tuple(model_config.inputs) or cls.default_inputs(data, model_config)
        if not inputs:
            raise UserError(f"--dataset {spec}: has no image, text or audio feature ({data.describe_features()})")
        types = []
        for name in inputs:
            kind = data.feature(name).type
            if kind not in ("image", "text", "audio"):
                raise UserError(f"inputs: '{name}' is a {kind} feature of {spec}; inputs must be image, text or audio features")
            types.append(kind)
        train = data.split("train")
        changes = {"inputs": list(inputs), "input_types": types}
        image_shapes = {name: list(train[name].shape[1:]) for name, kind in zip(inputs, types) if kind == "image"}
        if image_shapes:
            if len({tuple(shape) for shape in image_shapes.values()}) > 1:
                raise UserError(f"--dataset {spec}: image inputs differ in size ({image_shapes}); set image_size")
            changes["image_shape"] = next(iter(image_shapes.values()))
        text_names = [name for name, kind in zip(inputs, types) if kind == "text"]
        if text_names and model_config.vocabulary is None:
            texts = [text for name in text_names for references in train[name] for text in references]
            changes["vocabulary"] = build_vocabulary(texts, model_config.max_vocabulary, model_config.min_word_count)
        if "audio" in types:
            audio_name = inputs[types.index("audio")]
            changes["sample_rate"] = int(data.sample_rate)
            changes["audio_samples"] = int(train[audio_name].shape[1])
        return model_config.replace("data", **changes)

    def training_dataset(self, data, batch_size: int, shuffle_seed: int):
        """Encoded dict batches of the training split (seeded shuffle, remainder dropped)."""
        import tensorflow as tf

        arrays = self.split_arrays(data, "train", np.random.default_rng(shuffle_seed))
        dataset = tf.data.Dataset.from_tensor_slices(arrays)
        dataset = dataset.shuffle(len(next(iter(arrays.values()))), seed=shuffle_seed, reshuffle_each_iteration=False)
        dataset = dataset.batch(batch_size, drop_remainder=True)
        return dataset.map(self.encode_batch, num_parallel_calls=1).prefetch(tf.data.AUTOTUNE)

    def split_arrays(self, data, split: str, rng=None) -> dict:
        """The inputs and target fields of one split as arrays: images uint8, texts str (one reference each)."""
        arrays = {}
        source = data.split(split)
        for name in [*self.preprocessor.input_names, *self.batch_targets()]:
            values = source[name]
            if data.feature(name).type == "text":
                if self.text_reference == "random" and rng is not None:
                    values = np.array([refs[rng.integers(len(refs))] for refs in values], dtype=object)
                else:
                    values = np.array([refs[0] for refs in values], dtype=object)
            arrays[name] = values
        return arrays

    def encode_batch(self, batch):
        """A batch of :meth:`split_arrays` for the network: images to [0, 1], texts to ids, audio to spectrograms."""
        import tensorflow as tf

        raw = dict(batch)
        for name, kind in zip(self.preprocessor.input_names, self.preprocessor.input_types):
            if kind == "image":
                raw[name] = tf.cast(batch[name], tf.float32) / 255.0
        encoded = self.preprocessor(raw)
        return {**{k: v for k, v in batch.items() if k not in encoded}, **encoded}

    @classmethod
    def evaluation_data(cls, metadata: dict, dataset: str | None = None, data_dir: str | None = None):
        """The run's dataset (its test split) read as it was for training, or ``dataset``."""
        from genkit.data.dataset_registry import load_dataset
        from genkit.registry import get_model_entry

        config = get_model_entry(metadata["model"]).config_class.from_dict(metadata["config"], "genkit.json")
        needs = tuple(config.inputs) + cls.target_fields(config)
        return load_dataset(
            dataset or metadata["data"]["name"], needs, f"'{cls.registered_name}'",
            data_dir=data_dir or metadata["train"].get("data_dir"), **cls.data_options(config),
        )

    def preprocessing_description(self) -> dict:
        p = self.preprocessor
        description = {"inputs": dict(zip(p.input_names, p.input_types))}
        if p.lookup is not None:
            description["text"] = {
                "tokens": "lowercased words (genkit.data.text_tokenizer.WORD_PATTERN)", "split_pattern": WORD_PATTERN,
                "padding_id": 0, "oov_id": 1, "max_text_length": p.max_text_length, "vocabulary_size": p.vocabulary_size,
            }
        if p.log_mel is not None:
            description["audio"] = {
                "sample_rate": p.sample_rate, "samples": p.audio_samples, "frames": p.frames,
                "log_mel": p.log_mel.get_config(),
            }
        return description

    def export_metadata(self) -> dict:
        """The vocabulary and audio settings an edge app needs to prepare inputs without TensorFlow."""
        description = self.preprocessing_description()
        if self.preprocessor.lookup is not None:
            description["text"]["vocabulary"] = ["[PAD]", "[UNK]", *self.preprocessor.vocabulary]
        return {"preprocessing": description}

    # -- declarations --------------------------------------------------------------------------

    def raw_declarations(self) -> list[TensorDeclaration]:
        """Inputs as people have them: images in [0, 1], strings, waveforms."""
        p = self.preprocessor
        declarations = []
        for name, kind in zip(p.input_names, p.input_types):
            if kind == "image":
                declarations.append(image_declaration(name, p.image_shape))
            elif kind == "text":
                declarations.append(TensorDeclaration(name, "text", "string", (), description="any text; words are lowercased"))
            else:
                declarations.append(TensorDeclaration(
                    name, "audio", "float32", (p.audio_samples,), (-1.0, 1.0),
                    description=f"mono waveform at {p.sample_rate} Hz",
                ))
        return declarations

    def file_declarations(self) -> list[TensorDeclaration]:
        """Inputs as files: ``{name}_bytes`` strings for images and audio (base64 in TF Serving's REST JSON)."""
        p = self.preprocessor
        return [
            TensorDeclaration(f"{name}_bytes", "file", "string", (), description=ENCODED_INPUTS[kind])
            if kind in ENCODED_INPUTS else TensorDeclaration(name, "text", "string", ())
            for name, kind in zip(p.input_names, p.input_types)
        ]

    def encoded_declarations(self) -> list[TensorDeclaration]:
        """Inputs as the encoders take them (edge exports): images, word ids, spectrograms."""
        p = self.preprocessor
        declarations = []
        for name, kind in zip(p.input_names, p.input_types):
            if kind == "image":
                declarations.append(image_declaration(name, p.image_shape))
            elif kind == "text":
                declarations.append(TensorDeclaration(
                    f"{name}_ids", "tokens", "int32", (p.max_text_length,), (0, p.vocabulary_size - 1),
                    description="word ids (0: padding, 1: unknown word; genkit.json 'preprocessing')",
                ))
            else:
                declarations.append(TensorDeclaration(
                    f"{name}_log_mel", "audio", "float32", (p.frames, p.num_mel_bins),
                    description="log-mel spectrogram (genkit.json 'preprocessing')",
                ))
        return declarations

    def example_input(self, declaration, num_samples: int, seed: int, data=None) -> np.ndarray:
        """Encoder or raw inputs of ``num_samples`` examples of ``data``'s test split (else its training split)."""
        if data is None:
            raise UserError(f"'{self.registered_name}' needs its data for example inputs (--dataset)")
        split = "test" if data.num_examples("test") else "train"
        rng = np.random.default_rng(seed)
        count = data.num_examples(split)
        index = rng.choice(count, num_samples, replace=num_samples > count)
        arrays = {name: values[index] for name, values in self.split_arrays(data, split).items()}
        return self.encode_numpy(arrays)[declaration.name]

    def evaluation_inputs(self, data, endpoint: str, num_samples: int) -> tuple[dict[str, np.ndarray], dict]:
        """The first ``num_samples`` examples of the evaluation split in ``endpoint``'s declared inputs, and the
        split's arrays (targets included) for the same examples."""
        split = data.scored_split
        arrays = {name: values[:num_samples] for name, values in self.split_arrays(data, split).items()}
        encoded = self.encode_numpy(arrays)
        declared = self.endpoints()[endpoint]
        return {d.name: encoded[d.name] if d.name in encoded else self.example_input(d, len(next(iter(arrays.values()))), 0, data)
                for d in declared.inputs}, arrays

    def encode_numpy(self, arrays: dict) -> dict[str, np.ndarray]:
        """Every declared form of ``arrays`` (from :meth:`split_arrays`) as numpy: raw, ids, spectrograms."""
        import tensorflow as tf

        values = {}
        for name, kind in zip(self.preprocessor.input_names, self.preprocessor.input_types):
            if kind == "image":
                values[name] = arrays[name].astype(np.float32) / 255.0
                values[f"{name}_bytes"] = np.array([png_bytes(image) for image in arrays[name]], dtype=object)
            elif kind == "text":
                values[name] = arrays[name].astype(object)
                values[f"{name}_ids"] = self.preprocessor.tokenize(tf.constant(list(arrays[name]))).numpy()
            else:
                values[name] = arrays[name].astype(np.float32)
                values[f"{name}_bytes"] = np.array(
                    [wav_bytes(waveform, self.preprocessor.sample_rate) for waveform in values[name]], dtype=object
                )
                values[f"{name}_log_mel"] = self.preprocessor.log_mel(tf.constant(values[name])).numpy()
        return values


class ImageTextTask(PairedDataTask):
    """A task over one image feature and one text feature (``image_input``, ``text_input`` of its config): the
    dual encoder, the captioner. ``pairing`` names the model in the error for data without that pair."""

    pairing = "this model"

    @property
    def image_input(self) -> str:
        return self.preprocessor.input_names[0]

    @property
    def text_input(self) -> str:
        return self.preprocessor.input_names[1]

    @classmethod
    def prepare_data(cls, model_config, train_config):
        if not model_config.inputs:  # the two named features are the inputs, in this order
            model_config = model_config.replace("--set", inputs=[model_config.image_input, model_config.text_input])
        return super().prepare_data(model_config, train_config)

    @classmethod
    def complete_config(cls, model_config, data, spec: str):
        model_config = super().complete_config(model_config, data, spec)
        if tuple(model_config.input_types) != ("image", "text"):
            raise UserError(
                f"--dataset {spec}: {cls.pairing} needs an image and a text feature; "
                f"image_input '{model_config.inputs[0]}' and text_input '{model_config.inputs[1]}' are "
                f"{' and '.join(model_config.input_types)}"
            )
        return model_config

"""The capability of models that draw an image from a description: paired data, prompts, R-precision evaluation."""

from __future__ import annotations

import re
import sys

import numpy as np

from genkit.data.text_tokenizer import WORD_PATTERN
from genkit.errors import UserError
from genkit.options import PROMPT_OPTION, Option
from genkit.signatures import Endpoint, StandardNormal, TensorDeclaration
from genkit.tasks.image_generation import FEATURES_OPTION, image_declaration
from genkit.tasks.modality_encoders import text_encoder
from genkit.tasks.paired_task import ImageTextTask

DUAL_ENCODER_OPTION = Option(
    "dual_encoder", "text-to-image models: the dual-encoder run that scores R-precision (default: the shipped emoji one)",
    str, "RUN",
)
NUM_SAMPLE_PROMPTS = 16
GENERATION_BATCH = 256


def sentence_encoder(config, name: str = "text"):
    """word ids [N, max_text_length] -> the sentence embedding [N, sentence_dim] of a :class:`TextConditioningConfig`."""
    return text_encoder(
        len(config.vocabulary) + 2, config.max_text_length, config.embedding_dim, config.text_units,
        config.text_encoder, config.sentence_dim, name,
    )


class TextConditioning(ImageTextTask):
    """Mixed into an image generator whose networks take a description's word ids beside their noise.

    The model holds a :class:`~genkit.tasks.paired_preprocessor.PairedPreprocessor`
    (``self.preprocessor``: the vocabulary, in the graph) and its
    ``sample_prompts``. Its generation endpoint is ``serving_default(text
    [N] string, z [N, latent]) -> images``; ``generate_from_ids(text_ids,
    z)`` is the same with word ids (edge exports). Words outside the
    vocabulary are read as the unknown word and reported by ``genkit sample``.
    """

    pairing = "a text-to-image model"
    sampling_options = (PROMPT_OPTION,)
    evaluation_options = (FEATURES_OPTION, DUAL_ENCODER_OPTION)
    example_unit = "images"
    sample_prompts: tuple[str, ...] = ()

    @classmethod
    def complete_config(cls, model_config, data, spec: str):
        """The image-text pairing, the vocabulary and, unless set, the sample prompts (from the held-out texts)."""
        model_config = super().complete_config(model_config, data, spec)
        if not model_config.sample_prompts:
            split = next(s for s in ("validation", "test", "train") if data.num_examples(s))
            prompts = list(dict.fromkeys(data.first_texts(split, model_config.text_input)))[:NUM_SAMPLE_PROMPTS]
            model_config = model_config.replace("data", sample_prompts=prompts)
        return model_config

    # -- declarations --------------------------------------------------------------------------

    def latent_declaration(self) -> TensorDeclaration:
        return TensorDeclaration("z", "latent", "float32", (self.latent_dim,), distribution=StandardNormal(), description="the latent code")

    def text_declaration(self) -> TensorDeclaration:
        return TensorDeclaration("text", "text", "string", (), description="the description to draw; words are lowercased")

    def ids_declaration(self) -> TensorDeclaration:
        return next(d for d in self.encoded_declarations() if d.modality == "tokens")

    def images_declaration(self) -> TensorDeclaration:
        return image_declaration("images", self.preprocessor.image_shape, "generated images")

    def _images(self, ids, z):
        """Images in [0, 1] [N, H, W, C] of word ids [N, max_text_length] and latent codes [N, latent_dim]."""
        raise NotImplementedError(f"{type(self).__name__} must implement _images(ids, z).")

    def endpoints(self):
        """``serving_default(text, z)`` (TF Serving: the tokenizer in the graph) and ``generate_from_ids(text_ids, z)``
        (TFLite, ONNX: word ids from genkit.json's vocabulary) -> images in [0, 1]."""
        z, text, ids = self.latent_declaration(), self.text_declaration(), self.ids_declaration()
        images = self.images_declaration()

        def serve(text, z):
            return {"images": self._images(self.preprocessor.tokenize(text), z)}

        def from_ids(text_ids, z):
            return {"images": self._images(text_ids, z)}

        return {
            "serving_default": Endpoint("serving_default", serve, (text, z), (images,), edge=False),
            "generate_from_ids": Endpoint("generate_from_ids", from_ids, (ids, z), (images,)),
        }

    # -- prompts and samples -------------------------------------------------------------------

    def unknown_words(self, texts) -> list[str]:
        """The words of ``texts`` (lowercased, as the tokenizer splits them) that the vocabulary lacks, once each."""
        known = set(self.preprocessor.vocabulary)
        words = [w for text in texts for w in re.findall(WORD_PATTERN, str(text).lower())[: self.preprocessor.max_text_length]]
        return list(dict.fromkeys(w for w in words if w not in known))

    def prompts(self, num_samples: int, prompt: str | None = None) -> np.ndarray:
        """``num_samples`` descriptions: ``prompt`` repeated, else the sample prompts in turn."""
        if prompt is not None:
            if not re.findall(WORD_PATTERN, prompt):
                raise UserError("--prompt: has no words to draw")
            return np.array([prompt] * num_samples, dtype=object)
        return np.array([self.sample_prompts[i % len(self.sample_prompts)] for i in range(num_samples)], dtype=object)

    def sample_inputs(self, num_samples: int, seed: int, prompt: str | None = None) -> dict[str, np.ndarray]:
        """The generation endpoint's inputs: the descriptions and ``z`` drawn from its declared distribution."""
        return {"text": self.prompts(num_samples, prompt), "z": self.latent_declaration().draw(num_samples, seed)}

    def generate(self, **inputs):
        """The generation endpoint's images on ``inputs`` (``text`` and ``z``)."""
        endpoint = self.endpoints()[self.generation_endpoint]
        return endpoint.function(*[inputs[name] for name in endpoint.input_names])["images"]

    def generate_samples(self, num_samples: int, seed: int = 0, prompt: str | None = None, **options):
        """Images of ``prompt`` (default: the sample prompts in turn) from ``num_samples`` latent draws of ``seed``."""
        self.check_options("sampling", options)
        inputs = self.sample_inputs(num_samples, seed, prompt)
        unknown = self.unknown_words([prompt]) if prompt is not None else []
        if unknown:
            print(
                f"genkit sample: not in the model's vocabulary, read as the unknown word: {', '.join(unknown)}",
                file=sys.stderr,
            )
        return self.images_of(inputs["text"], inputs["z"])

    def images_of(self, texts, z) -> np.ndarray:
        """float32 images [N, H, W, C] in [0, 1] of descriptions ``texts`` and latent codes ``z``, batch by batch."""
        parts = [
            np.asarray(self.generate(text=np.asarray(texts[start : start + GENERATION_BATCH], dtype=object),
                                     z=z[start : start + GENERATION_BATCH]))
            for start in range(0, len(texts), GENERATION_BATCH)
        ]
        return np.concatenate(parts).astype(np.float32)

    def example_input(self, declaration, num_samples: int, seed: int, data=None) -> np.ndarray:
        """Noise drawn from its distribution; descriptions and word ids from the data's held-out split."""
        if declaration.distribution is not None:
            return declaration.draw(num_samples, seed)
        return super().example_input(declaration, num_samples, seed, data)

    # -- explanations --------------------------------------------------------------------------

    def explanation_methods(self) -> dict:
        """Adds ``prompt-grid`` (held-out descriptions x latent draws, beside the real image) and ``prompt-cam``
        (the shipped classifier's maps of each description's image, for the description's subgroup)."""
        from genkit.tasks.explanations import ExplanationMethod

        methods = super().explanation_methods()
        methods["prompt-grid"] = ExplanationMethod(
            "prompt-grid", "a description x seed grid of held-out descriptions, beside each one's real image",
            self._explain_prompt_grid,
        )
        methods["prompt-cam"] = ExplanationMethod(
            "prompt-cam", "the shipped classifier's Grad-CAM, Grad-CAM++ and Score-CAM of each description's image, "
            "for the description's subgroup", self._explain_prompt_cams,
        )
        return methods

    def _held_out_descriptions(self, data, count: int, seed: int):
        """(real images, descriptions, subgroup ids or None, label names) of ``count`` held-out examples drawn with ``seed``."""
        from genkit.evaluation.text_to_image import evaluation_split_arrays

        _, images, texts, labels, names = evaluation_split_arrays(data, self.image_input, self.text_input)
        picked = np.sort(np.random.default_rng(seed).choice(len(texts), min(count, len(texts)), replace=False))
        return images[picked], [texts[i] for i in picked], None if labels is None else np.asarray(labels)[picked], names

    def _subgroup_classifier(self, label_names):
        """The shipped classifier when its classes are the data's labels (the emoji subgroups), else None."""
        from genkit.tasks.explanations import ExplanationSkipped, shipped_classifier

        try:
            extractor, _ = shipped_classifier(self.image_shape)
        except ExplanationSkipped:
            return None
        return extractor if extractor.label_names is not None and list(label_names) == list(extractor.label_names) else None

    def _explain_prompt_grid(self, data, num_samples: int, seed: int) -> list:
        from genkit.tasks.explanations import Figure, classifier_images, image_table_figure

        real, texts, labels, names = self._held_out_descriptions(data, min(num_samples, 12), seed)
        per_text = max(2, min(num_samples, 6))
        z = self.latent_declaration().draw(per_text, seed)
        generated = self.images_of(np.repeat(np.asarray(texts, dtype=object), per_text), np.tile(z, (len(texts), 1)))
        generated = generated.reshape(len(texts), per_text, *generated.shape[1:])
        extractor = self._subgroup_classifier(names) if labels is not None else None
        row_labels, agreement = list(texts), ""
        if extractor is not None:
            seen = extractor.predict_labels(classifier_images(extractor, generated.reshape(-1, *generated.shape[2:])))
            hits = (seen.reshape(len(texts), per_text) == labels[:, None]).sum(axis=1)
            row_labels = [f"{text} ({hit}/{per_text})" for text, hit in zip(texts, hits)]
            agreement = " In brackets: how many of the row the shipped classifier labels with the description's subgroup."
        images = np.concatenate([real[:, None], generated], axis=1)
        return [Figure(
            name="prompt_grid", title="description x seed grid", method="prompt-grid",
            description=(f"Each row is one held-out description ({data.scored_split} split), its real image first, then one "
                         f"image per latent draw (seed {seed}) kept across the rows: what the words change and what the "
                         f"latent code keeps.{agreement}"),
            png=image_table_figure("description x seed", images, row_labels, ["real", *[f"z{i}" for i in range(per_text)]]),
            arrays={"images": images, "texts": np.asarray(texts, dtype=str)},
        )]

    def _explain_prompt_cams(self, data, num_samples: int, seed: int) -> list:
        from genkit.tasks.explanations import classifier_cam_figure

        _, texts, labels, names = self._held_out_descriptions(data, num_samples, seed)
        images = self.images_of(np.asarray(texts, dtype=object), self.latent_declaration().draw(len(texts), seed))
        targets = labels if labels is not None and self._subgroup_classifier(names) is not None else None
        what = "one generated image per held-out description" + (", for its subgroup" if targets is not None else "")
        return [classifier_cam_figure(images, what, "prompt_cam", target_classes=targets)]

    # -- evaluation ----------------------------------------------------------------------------

    def evaluation_metrics(self, data, num_samples=None, seed: int = 0, features=None, dual_encoder=None, **options) -> dict:
        """FID, KID, precision/recall (``features``, default ``emoji``), R-precision (the shipped emoji dual
        encoder, or the run ``dual_encoder``) and subgroup accuracy of one image per held-out description, with
        the same for the real images (the ceiling) and for retrieval of the training image whose description is
        nearest (the floor)."""
        from genkit.evaluation.text_to_image import text_to_image_evaluation

        self.check_options("evaluation", options)
        return text_to_image_evaluation(
            self.images_of, data, self.image_input, self.text_input, num_samples=num_samples, seed=seed,
            latent_dim=self.latent_dim, features=features, dual_encoder=dual_encoder,
        )

    def export_quality(self, endpoint: str, run_export, data=None, num_samples: int = 1000, seed: int = 0) -> dict:
        """FID and R-precision of images from the held-out descriptions' ids with the export in place of Keras."""
        if data is None:
            return {"skipped": "the run's data is not available here"}
        from genkit.evaluation.export_cost import endpoint_runner
        from genkit.evaluation.text_to_image import export_quality_delta

        declared = self.endpoints()[endpoint]
        if [d.modality for d in declared.inputs] != ["tokens", "latent"]:
            return super().export_quality(endpoint, run_export, data=data, num_samples=num_samples, seed=seed)
        ids_name, z_name = declared.input_names

        def runner(function):
            def images_of(texts, z):
                ids = self.preprocessor.tokenize(list(texts)).numpy()
                return np.asarray(function({ids_name: ids, z_name: z})["images"], np.float32)

            return images_of

        return export_quality_delta(
            runner(endpoint_runner(self, endpoint)), runner(run_export), data, self.image_input, self.text_input,
            num_samples=num_samples, seed=seed, latent_dim=self.latent_dim,
        )

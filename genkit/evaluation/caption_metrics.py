"""Image-caption metrics: corpus BLEU-1..4, CIDEr-D and simple vocabulary statistics.

Everything here is plain Python and numpy; the text side of a captioning model's ``genkit evaluate``.

- :func:`caption_words` splits a caption into lowercased words with the tokeniser's
  :data:`~genkit.data.text_tokenizer.WORD_PATTERN`, so a metric sees the words the model was trained on.
- :func:`corpus_bleu` equals NLTK's ``nltk.translate.bleu_score.corpus_bleu`` without smoothing (Papineni et
  al. 2002): clipped n-gram matches and n-gram counts are summed over the corpus, the brevity penalty uses
  the reference closest in length to each hypothesis (the shorter one on ties).
- :func:`cider_d` is CIDEr-D (Vedantam et al. 2015) as the coco-caption code computes it
  (``pycocoevalcap/cider/cider_scorer.py``, and ``pyciderevalcap/ciderD/ciderD_scorer.py`` with
  ``df_mode="corpus"``): n-gram document frequencies come from the references of the evaluated corpus itself.
- :func:`caption_metrics` tokenises text and returns all of the above plus exact matches, the number of
  distinct words the hypotheses use and their mean length.

A corpus is a list of images. For image ``i``, ``references[i]`` is the list of its reference captions and
``hypotheses[i]`` is the one generated caption; each caption is a list of words.
"""

from __future__ import annotations

import collections
import math
import re

import numpy as np

from genkit.data.text_tokenizer import WORD_PATTERN

Words = list[str]
NGram = tuple[str, ...]


def caption_words(text: str) -> list[str]:
    """Lowercased words of ``text``: the matches of ``WORD_PATTERN`` (so "A dog." is ``["a", "dog", "."]``)."""
    return re.findall(WORD_PATTERN, text.lower())


def _check_corpus(references: list, hypotheses: list) -> None:
    """Raises ValueError unless there is one hypothesis per image and every image has a reference."""
    if len(references) != len(hypotheses):
        raise ValueError(
            f"references and hypotheses must describe the same images: got references for {len(references)} "
            f"images and {len(hypotheses)} hypotheses"
        )
    for index, image_references in enumerate(references):
        if len(image_references) == 0:
            raise ValueError(f"image {index} has no reference caption; every image needs at least one")


def _ngrams(words: Words, order: int) -> collections.Counter[NGram]:
    """How often each n-gram of exactly ``order`` words occurs in ``words``."""
    return collections.Counter(tuple(words[start:start + order]) for start in range(len(words) - order + 1))


# BLEU ---------------------------------------------------------------------------------------------------------


def _clipped_matches(image_references: list[Words], hypothesis: Words, order: int) -> tuple[int, int]:
    """BLEU's modified precision of one hypothesis as (clipped matches, n-gram count), as NLTK counts them.

    A hypothesis n-gram counts at most as often as it occurs in any single reference. The n-gram count is at
    least 1 (NLTK's ``max(1, ...)``), so a hypothesis shorter than ``order`` words adds 0 matches out of 1.
    """
    hypothesis_counts = _ngrams(hypothesis, order)
    most_in_a_reference: collections.Counter[NGram] = collections.Counter()
    for reference in image_references:
        most_in_a_reference |= _ngrams(reference, order)
    matches = sum(min(count, most_in_a_reference[ngram]) for ngram, count in hypothesis_counts.items())
    return matches, max(1, sum(hypothesis_counts.values()))


def _closest_reference_length(image_references: list[Words], hypothesis_length: int) -> int:
    """Length of the reference closest in length to the hypothesis; of two equally close, the shorter."""
    lengths = (len(reference) for reference in image_references)
    return min(lengths, key=lambda length: (abs(length - hypothesis_length), length))


def _brevity_penalty(reference_length: int, hypothesis_length: int) -> float:
    """1 for a corpus of hypotheses longer than its references, else exp(1 - r / c); 0 when c is 0."""
    if hypothesis_length > reference_length:
        return 1.0
    if hypothesis_length == 0:
        return 0.0
    return math.exp(1.0 - reference_length / hypothesis_length)


def corpus_bleu(references: list[list[list[str]]], hypotheses: list[list[str]], max_order: int = 4) -> dict[str, float]:
    """Corpus BLEU-1 to BLEU-``max_order``: ``{"bleu_1": ..., ..., "bleu_<max_order>": ...}``.

    ``bleu_k`` equals NLTK 3.10's ``corpus_bleu(references, hypotheses, weights=(1/k,) * k)`` with its default
    (no smoothing): the brevity penalty times the geometric mean of the modified n-gram precisions of orders
    1..k, whose matches and counts are each summed over the corpus before dividing. If no n-gram of some order
    up to k matches anywhere in the corpus, ``bleu_k`` is 0 (NLTK warns and returns 0 up to ~1e-77). An empty
    corpus scores 0 throughout.
    """
    _check_corpus(references, hypotheses)
    if max_order < 1:
        raise ValueError(f"max_order must be at least 1, got {max_order}")
    matches = [0] * (max_order + 1)
    totals = [0] * (max_order + 1)
    hypothesis_length = reference_length = 0
    for image_references, hypothesis in zip(references, hypotheses):
        for order in range(1, max_order + 1):
            image_matches, image_total = _clipped_matches(image_references, hypothesis, order)
            matches[order] += image_matches
            totals[order] += image_total
        hypothesis_length += len(hypothesis)
        reference_length += _closest_reference_length(image_references, len(hypothesis))
    penalty = _brevity_penalty(reference_length, hypothesis_length)

    scores = {}
    for order in range(1, max_order + 1):
        if min(matches[1:order + 1]) == 0:
            scores[f"bleu_{order}"] = 0.0
            continue
        weight = 1.0 / order
        log_mean = math.fsum(weight * math.log(matches[k] / totals[k]) for k in range(1, order + 1))
        scores[f"bleu_{order}"] = penalty * math.exp(log_mean)
    return scores


# CIDEr-D ------------------------------------------------------------------------------------------------------


def _all_ngrams(words: Words, n: int) -> collections.Counter[NGram]:
    """Term frequencies of every n-gram of 1 to ``n`` words in one caption."""
    counts: collections.Counter[NGram] = collections.Counter()
    for order in range(1, n + 1):
        counts.update(_ngrams(words, order))
    return counts


def _document_frequency(reference_counts: list[list[collections.Counter[NGram]]]) -> collections.Counter[NGram]:
    """In how many images each n-gram occurs in at least one reference (an image is one document)."""
    frequency: collections.Counter[NGram] = collections.Counter()
    for image_counts in reference_counts:
        frequency.update(set().union(*image_counts))
    return frequency


def _tfidf_vectors(
    counts: collections.Counter[NGram], document_frequency: collections.Counter[NGram], log_images: float, n: int,
) -> tuple[list[dict[NGram, float]], list[float]]:
    """TF-IDF vectors of one caption, one per n-gram order, and their Euclidean norms.

    The weight of an n-gram is ``term frequency * (log(number of images) - log(max(1, document frequency)))``,
    so an n-gram that no reference uses gets the largest idf, ``log(number of images)``, and one used for every
    image gets 0. Norms are taken over all of a caption's n-grams, before any clipping.
    """
    vectors: list[dict[NGram, float]] = [{} for _ in range(n)]
    for ngram, term_frequency in counts.items():
        idf = log_images - math.log(max(1.0, document_frequency[ngram]))
        vectors[len(ngram) - 1][ngram] = term_frequency * idf
    norms = [math.sqrt(sum(weight * weight for weight in vector.values())) for vector in vectors]
    return vectors, norms


def _clipped_similarity(
    hypothesis: tuple[list[dict[NGram, float]], list[float]],
    reference: tuple[list[dict[NGram, float]], list[float]],
    length_difference: int,
    sigma: float,
) -> float:
    """CIDEr-D similarity of a hypothesis and one reference, averaged over n-gram orders.

    Per order: sum over hypothesis n-grams of ``min(hypothesis weight, reference weight) * reference weight``
    (the clipping that stops repeated words from scoring), divided by the product of the two unclipped norms
    (0 when either norm is 0), times the Gaussian length penalty ``exp(-difference^2 / (2 sigma^2))``.
    """
    hypothesis_vectors, hypothesis_norms = hypothesis
    reference_vectors, reference_norms = reference
    penalty = np.e ** (-(float(length_difference) ** 2) / (2.0 * sigma**2))
    per_order = []
    for hypothesis_vector, reference_vector, hypothesis_norm, reference_norm in zip(
        hypothesis_vectors, reference_vectors, hypothesis_norms, reference_norms,
    ):
        overlap = 0.0
        for ngram, weight in hypothesis_vector.items():
            reference_weight = reference_vector.get(ngram, 0.0)
            overlap += min(weight, reference_weight) * reference_weight
        if hypothesis_norm != 0.0 and reference_norm != 0.0:
            overlap /= hypothesis_norm * reference_norm
        per_order.append(overlap * penalty)
    return float(np.mean(per_order))


def cider_d(references: list[list[list[str]]], hypotheses: list[list[str]], n: int = 4, sigma: float = 6.0) -> dict:
    """CIDEr-D of a corpus: ``{"cider_d": mean over images, "per_caption": [score of each hypothesis]}``.

    As in coco-caption, the idf comes from the references of this corpus (``log(number of images)`` minus the
    log of the n-gram's document frequency), each hypothesis is compared with each of its references by
    :func:`_clipped_similarity` over n-grams of 1 to ``n`` words, and an image scores 10 times the mean over its
    references. So a corpus of one image scores 0 (every idf is log 1 - log 1), as does an empty hypothesis; an
    empty corpus gives ``{"cider_d": 0.0, "per_caption": []}``.

    The length penalty uses the difference in words. (coco-caption measures length as the number of bigrams,
    which gives the same difference whenever neither caption is empty and n >= 2; with an empty caption the
    score is 0 either way.)
    """
    _check_corpus(references, hypotheses)
    if not hypotheses:
        return {"cider_d": 0.0, "per_caption": []}
    reference_counts = [[_all_ngrams(reference, n) for reference in image] for image in references]
    document_frequency = _document_frequency(reference_counts)
    log_images = math.log(float(len(references)))

    per_caption = []
    for image_references, image_counts, hypothesis in zip(references, reference_counts, hypotheses):
        hypothesis_vectors = _tfidf_vectors(_all_ngrams(hypothesis, n), document_frequency, log_images, n)
        similarities = [
            _clipped_similarity(
                hypothesis_vectors, _tfidf_vectors(counts, document_frequency, log_images, n),
                len(hypothesis) - len(reference), sigma,
            )
            for reference, counts in zip(image_references, image_counts)
        ]
        per_caption.append(10.0 * float(np.mean(similarities)))
    return {"cider_d": float(np.mean(per_caption)), "per_caption": per_caption}


# Everything at once -------------------------------------------------------------------------------------------


def caption_metrics(references_text: list[list[str]], hypotheses_text: list[str]) -> dict:
    """All caption metrics of a corpus given as text; captions are split by :func:`caption_words`.

    Returns ``bleu_1`` .. ``bleu_4`` (:func:`corpus_bleu`), ``cider_d`` (:func:`cider_d`), ``exact_match`` (the
    share of hypotheses whose words equal those of one of their references), ``vocabulary_usage`` (how many
    distinct words the hypotheses use altogether) and ``mean_length`` (words per hypothesis). Raises ValueError
    when there are not as many hypotheses as images or an image has no reference.
    """
    _check_corpus(references_text, hypotheses_text)
    references = [[caption_words(reference) for reference in image_references] for image_references in references_text]
    hypotheses = [caption_words(hypothesis) for hypothesis in hypotheses_text]
    exact = sum(hypothesis in image_references for image_references, hypothesis in zip(references, hypotheses))
    vocabulary = {word for hypothesis in hypotheses for word in hypothesis}
    count = len(hypotheses)
    return {
        **corpus_bleu(references, hypotheses, max_order=4),
        "cider_d": cider_d(references, hypotheses)["cider_d"],
        "exact_match": exact / count if count else 0.0,
        "vocabulary_usage": len(vocabulary),
        "mean_length": sum(len(hypothesis) for hypothesis in hypotheses) / count if count else 0.0,
    }

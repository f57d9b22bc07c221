"""The metric library against known answers, the shipped Fashion-MNIST classifier, and the feature extractors."""

from __future__ import annotations

import numpy as np
import pytest

from genkit.errors import UserError
from genkit.evaluation import (
    conditioning_accuracy,
    model_conditioning_accuracy,
    feature_statistics,
    frechet_distance,
    frechet_feature_distance,
    image_generation_metrics,
    kernel_inception_distance,
    load_feature_extractor,
    precision_recall,
)
from conftest import run_python

# The shipped classifier measures 0.92+ on the full 10,000-image test split (weights/fashion_mnist_classifier.json);
# the embedded 1,000-image test subset is part of that split.
CLASSIFIER_ACCURACY_BOUND = 0.90


def _rotation(dimension, seed):
    q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((dimension, dimension)))
    return q


@pytest.fixture(scope="module")
def embedded():
    from genkit.data import load_image_dataset

    return load_image_dataset("embedded")


@pytest.fixture(scope="module")
def extractor():
    return load_feature_extractor("fashion_mnist")


def test_fid_of_a_set_against_itself_is_zero():
    features = np.random.default_rng(0).standard_normal((500, 16)) * 3 + 1
    assert frechet_feature_distance(features, features) == pytest.approx(0.0, abs=1e-8)


def test_frechet_distance_matches_the_closed_form_for_commuting_covariances():
    # sigma_i = R diag(a_i) R^T share eigenvectors: FID = |mu1 - mu2|^2 + sum (sqrt(a1) - sqrt(a2))^2.
    rng = np.random.default_rng(1)
    rotation = _rotation(8, 2)
    a1, a2 = rng.uniform(0.1, 4, 8), rng.uniform(0.1, 4, 8)
    mu1, mu2 = rng.standard_normal(8), rng.standard_normal(8)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(a1) - np.sqrt(a2)) ** 2)
    distance = frechet_distance(mu1, rotation @ np.diag(a1) @ rotation.T, mu2, rotation @ np.diag(a2) @ rotation.T)
    assert distance == pytest.approx(expected, rel=1e-9)


def test_frechet_distance_of_general_gaussians_matches_the_closed_form_and_is_symmetric():
    # 1-D: (mu1 - mu2)^2 + (s1 - s2)^2. Against the identity: tr(I) + tr(S) - 2 sum sqrt(eig(S)).
    assert frechet_distance([1.0], [[4.0]], [3.0], [[9.0]]) == pytest.approx(4.0 + 1.0)
    rng = np.random.default_rng(3)
    a, b = rng.standard_normal((6, 6)), rng.standard_normal((6, 6))
    s1, s2 = a @ a.T, b @ b.T
    identity = np.eye(6)
    expected = 6 + np.trace(s2) - 2 * np.sqrt(np.linalg.eigvalsh(s2)).sum()
    assert frechet_distance(np.zeros(6), identity, np.zeros(6), s2) == pytest.approx(expected, rel=1e-9)
    assert frechet_distance(np.zeros(6), s1, np.ones(6), s2) == pytest.approx(
        frechet_distance(np.ones(6), s2, np.zeros(6), s1), rel=1e-9
    )


def test_fid_of_samples_converges_to_the_distance_of_their_gaussians():
    rng = np.random.default_rng(4)
    rotation = _rotation(4, 5)
    a1, a2 = np.array([1.0, 2.0, 0.5, 3.0]), np.array([2.0, 1.0, 1.5, 0.5])
    mu1, mu2 = np.zeros(4), np.array([1.0, 0.0, -1.0, 0.5])
    x = rng.multivariate_normal(mu1, rotation @ np.diag(a1) @ rotation.T, 50_000)
    y = rng.multivariate_normal(mu2, rotation @ np.diag(a2) @ rotation.T, 50_000)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(a1) - np.sqrt(a2)) ** 2)
    assert frechet_feature_distance(x, y) == pytest.approx(expected, rel=0.03)


def test_frechet_distance_is_finite_for_singular_covariances():
    rng = np.random.default_rng(6)
    x, y = rng.standard_normal((10, 32)), rng.standard_normal((10, 32)) + 1  # fewer samples than dimensions
    distance = frechet_feature_distance(x, y)
    assert np.isfinite(distance) and distance > 0
    mu, sigma = feature_statistics(x)
    assert mu.shape == (32,) and sigma.shape == (32, 32)


def test_kid_is_about_zero_for_one_distribution_and_positive_for_a_shifted_one():
    rng = np.random.default_rng(7)
    x, y = rng.standard_normal((2000, 16)), rng.standard_normal((2000, 16))
    kid, kid_std = kernel_inception_distance(x, y, num_subsets=20, subset_size=500, seed=0)
    assert abs(kid) < 3 * kid_std + 1e-3
    shifted, shifted_std = kernel_inception_distance(x, y + 0.5, num_subsets=20, subset_size=500, seed=0)
    assert shifted > 0.05 and shifted > 10 * shifted_std
    assert kernel_inception_distance(x, y, num_subsets=5, subset_size=300, seed=1) == kernel_inception_distance(
        x, y, num_subsets=5, subset_size=300, seed=1
    )


def test_precision_and_recall_are_one_for_identical_sets_and_zero_for_disjoint_ones():
    x = np.random.default_rng(8).standard_normal((300, 8))
    assert precision_recall(x, x, k=3) == (1.0, 1.0)
    assert precision_recall(x, x + 100.0, k=3) == (0.0, 0.0)


def test_precision_and_recall_separate_quality_from_coverage():
    # Real data: ten well-separated clusters. A mode-collapsed generator: realistic samples of one cluster.
    rng = np.random.default_rng(9)
    centres = rng.standard_normal((10, 4)) * 20
    real = np.repeat(centres, 100, axis=0) + rng.standard_normal((1000, 4))
    collapsed = centres[0] + rng.standard_normal((300, 4))
    precision, recall = precision_recall(real, collapsed, k=3)
    assert precision > 0.9 and recall == pytest.approx(0.1, abs=0.02)
    half_bad = np.concatenate([real[:500], real[:500] + 50.0])
    precision, _ = precision_recall(real, half_bad, k=3)
    assert precision == pytest.approx(0.5)


def test_metric_functions_reject_bad_arrays():
    with pytest.raises(ValueError, match="features1"):
        kernel_inception_distance(np.zeros((1, 3)), np.zeros((5, 3)))
    with pytest.raises(ValueError, match="NaN"):
        precision_recall(np.full((5, 2), np.nan), np.zeros((5, 2)))
    with pytest.raises(ValueError, match="k must be"):
        precision_recall(np.zeros((3, 2)), np.zeros((5, 2)), k=3)


def test_shipped_classifier_accuracy_on_the_embedded_test_subset(embedded, extractor):
    images = embedded.test_images.astype("float32") / 255.0
    accuracy = float(np.mean(extractor.predict_labels(images) == embedded.test_labels))
    assert accuracy > CLASSIFIER_ACCURACY_BOUND
    assert extractor.test_accuracy > CLASSIFIER_ACCURACY_BOUND  # the full test split, measured at training time
    assert extractor.label_names == embedded.label_names


def test_classifier_features_are_batched_without_retracing(embedded, extractor):
    images = embedded.test_images.astype("float32") / 255.0
    first = extractor.features(images[:700])
    again = extractor.features(images[:3])
    assert first.shape == (700, extractor.feature_dim) and first.dtype == np.float32
    np.testing.assert_allclose(again, first[:3], atol=1e-5)
    assert extractor._function.experimental_get_tracing_count() == 1
    assert load_feature_extractor("fashion_mnist") is extractor


def test_feature_extractor_errors_name_the_flag(extractor):
    with pytest.raises(UserError, match="--features resnet: unknown feature extractor; allowed: fashion_mnist, emoji, inception"):
        load_feature_extractor("resnet")
    with pytest.raises(UserError, match=r"--features fashion_mnist: .*\[28, 28, 1\].*got \[32, 32, 3\]"):
        extractor.features(np.zeros((2, 32, 32, 3), np.float32))


def test_image_metrics_tell_real_images_from_noise(embedded, extractor):
    reference = embedded.test_images.astype("float32") / 255.0
    real = embedded.train_images[:1000].astype("float32") / 255.0
    noise = np.random.default_rng(0).uniform(size=real.shape).astype("float32")
    good = image_generation_metrics(real, reference, extractor, kid_subsets=10, kid_subset_size=500)
    bad = image_generation_metrics(noise, reference, extractor, kid_subsets=10, kid_subset_size=500)
    assert set(good) == {"fid", "kid", "kid_std", "precision", "recall", "num_samples", "num_reference_samples", "features"}
    assert good["features"] == "fashion_mnist" and good["num_samples"] == 1000 and good["num_reference_samples"] == 1000
    assert bad["fid"] > 20 * good["fid"] and bad["kid"] > 20 * abs(good["kid"])
    assert good["precision"] > 0.6 and good["recall"] > 0.6
    assert bad["precision"] < 0.05 and bad["recall"] < 0.05


def test_conditioning_accuracy_of_real_images_with_true_and_wrong_labels(embedded, extractor):
    images = embedded.test_images.astype("float32") / 255.0
    right = conditioning_accuracy(images, embedded.test_labels, extractor)
    wrong = conditioning_accuracy(images, (embedded.test_labels + 1) % 10, extractor)
    assert right["conditioning_accuracy"] > CLASSIFIER_ACCURACY_BOUND
    assert set(right) == {"conditioning_accuracy", *[f"conditioning_accuracy_class_{k}" for k in range(10)]}
    assert right["conditioning_accuracy_class_1"] > 0.9  # trousers
    assert wrong["conditioning_accuracy"] < 0.1


class _RealImagesByClass:
    """A stand-in conditional generator: real test images of the class it is asked for."""

    def __init__(self, data, swap=False):
        self.data, self.swap, self.calls = data, swap, []

    def generate_samples(self, num_samples, seed, label=None):
        self.calls.append((num_samples, seed, label))
        wanted = (label + 1) % 10 if self.swap and label in (3, 4) else label
        images = self.data.test_images[self.data.test_labels == wanted][:num_samples]
        return images.astype("float32") / 255.0


def test_model_conditioning_accuracy_asks_each_class_and_scores_it(embedded, extractor):
    model = _RealImagesByClass(embedded)
    result = model_conditioning_accuracy(model, embedded.label_names, samples_per_class=50, seed=7, extractor=extractor)
    assert model.calls == [(50, 7 + k, k) for k in range(10)]
    assert result["conditioning_accuracy"] > CLASSIFIER_ACCURACY_BOUND
    # A generator that draws classes 4 and 5 when asked for 3 and 4 fails exactly those classes.
    swapped = model_conditioning_accuracy(_RealImagesByClass(embedded, swap=True), embedded.label_names, 50, 0, extractor)
    assert swapped["conditioning_accuracy_class_3"] < 0.2 and swapped["conditioning_accuracy_class_4"] < 0.2
    assert swapped["conditioning_accuracy_class_1"] > 0.9
    assert swapped["conditioning_accuracy"] == pytest.approx(result["conditioning_accuracy"] - 0.2, abs=0.05)
    # Labels that are not Fashion-MNIST's: no number the classifier could vouch for.
    other = model_conditioning_accuracy(model, [str(k) for k in range(10)], 5, 0, extractor)
    assert other["conditioning_accuracy"].startswith("n/a")


@pytest.mark.slow
def test_inception_without_its_weights_is_a_clear_error_offline(tmp_path):
    # A fresh process with an empty Keras home: nothing is downloaded, the error names the missing file.
    output = run_python(
        "from genkit.errors import UserError\n"
        "from genkit.evaluation import load_feature_extractor\n"
        "try:\n"
        "    load_feature_extractor('inception')\n"
        "except UserError as error:\n"
        "    print(error)\n",
        env={"KERAS_HOME": str(tmp_path / "keras"), "GENKIT_INCEPTION_WEIGHTS": ""},
    )
    assert "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5 was not found" in output
    assert str(tmp_path / "keras" / "models") in output and "GENKIT_INCEPTION_WEIGHTS" in output
    assert not (tmp_path / "keras" / "models").exists()


def test_inception_features_resize_and_colour_any_image():
    extractor = load_feature_extractor("inception", weights=None, batch_size=2)  # random weights: shapes only
    grey = np.random.default_rng(0).uniform(size=(3, 28, 28, 1)).astype("float32")
    features = extractor.features(grey)
    assert features.shape == (3, 2048) and np.isfinite(features).all()
    np.testing.assert_allclose(extractor.features(np.repeat(grey, 3, axis=-1)), features, rtol=1e-4, atol=1e-5)
    assert extractor.features(np.zeros((1, 32, 32, 3), np.float32)).shape == (1, 2048)
    with pytest.raises(UserError, match="does not classify"):
        extractor.predict_labels(grey)

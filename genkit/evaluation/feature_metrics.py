"""Distances between two sets of feature vectors: FID, KID and k-NN precision/recall.

Each function takes plain numpy arrays ``[N, D]`` (rows = samples) and
computes in float64. They are what :func:`image_generation_metrics` reports;
they are public so that any features (a classifier's, Inception's) can be
compared the same way.
"""

from __future__ import annotations

import numpy as np


def _as_features(features, name: str) -> np.ndarray:
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2 or len(features) < 2:
        raise ValueError(f"{name} must be a [N, D] array with N >= 2. Received: {name}.shape={features.shape}")
    if not np.isfinite(features).all():
        raise ValueError(f"{name} holds NaN or infinite values")
    return features


def feature_statistics(features) -> tuple[np.ndarray, np.ndarray]:
    """The mean ``[D]`` and the (unbiased, N - 1) covariance ``[D, D]`` of ``features`` ``[N, D]``."""
    features = _as_features(features, "features")
    return features.mean(axis=0), np.cov(features, rowvar=False)


def _symmetric_sqrt(matrix: np.ndarray) -> np.ndarray:
    """The square root of a symmetric positive semi-definite matrix (round-off negatives clipped to 0)."""
    eigenvalues, eigenvectors = np.linalg.eigh((matrix + matrix.T) / 2.0)
    return (eigenvectors * np.sqrt(np.clip(eigenvalues, 0.0, None))) @ eigenvectors.T


def frechet_distance(mu1, sigma1, mu2, sigma2) -> float:
    """The Fréchet (2-Wasserstein) distance between N(mu1, sigma1) and N(mu2, sigma2), squared.

    ``|mu1 - mu2|^2 + tr(sigma1) + tr(sigma2) - 2 tr((sigma1 sigma2)^(1/2))``
    (Heusel et al. 2017; FID when the Gaussians are fitted to features).
    The trace of the matrix square root is computed as the sum of the square
    roots of the eigenvalues of the symmetric PSD matrix
    ``sigma1^(1/2) sigma2 sigma1^(1/2)``, which has the same spectrum as
    ``sigma1 sigma2``: two symmetric eigen-decompositions, no complex
    intermediate, stable for singular covariances (fewer samples than
    dimensions). Never negative.
    """
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    sigma1, sigma2 = np.atleast_2d(np.asarray(sigma1, np.float64)), np.atleast_2d(np.asarray(sigma2, np.float64))
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape or sigma1.shape != (mu1.size, mu1.size):
        raise ValueError(
            f"Expected mu [D] and sigma [D, D] of equal D. Received: mu1 {mu1.shape}, sigma1 {sigma1.shape}, "
            f"mu2 {mu2.shape}, sigma2 {sigma2.shape}"
        )
    root1 = _symmetric_sqrt(sigma1)
    product = root1 @ sigma2 @ root1
    trace_sqrt = np.sqrt(np.clip(np.linalg.eigvalsh((product + product.T) / 2.0), 0.0, None)).sum()
    distance = np.sum((mu1 - mu2) ** 2) + np.trace(sigma1) + np.trace(sigma2) - 2.0 * trace_sqrt
    return float(max(distance, 0.0))


def frechet_feature_distance(features1, features2) -> float:
    """FID between two feature sets: :func:`frechet_distance` of their fitted Gaussians."""
    return frechet_distance(*feature_statistics(features1), *feature_statistics(features2))


def polynomial_kernel(x, y, degree: int = 3, coef0: float = 1.0) -> np.ndarray:
    """``(x . y / D + coef0) ** degree`` for every pair of rows (the kernel of KID)."""
    return (x @ y.T / x.shape[1] + coef0) ** degree


def unbiased_mmd2(x, y, degree: int = 3, coef0: float = 1.0) -> float:
    """The unbiased estimate of MMD^2 between samples ``x`` [m, D] and ``y`` [n, D] under the polynomial kernel."""
    m, n = len(x), len(y)
    kxx, kyy, kxy = polynomial_kernel(x, x, degree, coef0), polynomial_kernel(y, y, degree, coef0), polynomial_kernel(x, y, degree, coef0)
    return float(
        (kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy)) / (n * (n - 1)) - 2.0 * kxy.mean()
    )


def kernel_inception_distance(
    features1, features2, num_subsets: int = 100, subset_size: int = 1000, seed: int = 0,
    degree: int = 3, coef0: float = 1.0,
) -> tuple[float, float]:
    """KID (Bińkowski et al. 2018): the mean and standard deviation of the unbiased MMD^2 over subsets.

    Each of ``num_subsets`` rounds draws ``min(subset_size, N1, N2)`` rows of
    each set without replacement (seeded) and computes :func:`unbiased_mmd2`
    with the cubic polynomial kernel ``(x . y / D + 1)^3``. Unbiased: about 0
    (and possibly slightly negative) for two samples of one distribution.
    """
    features1, features2 = _as_features(features1, "features1"), _as_features(features2, "features2")
    if features1.shape[1] != features2.shape[1]:
        raise ValueError(f"Feature sizes differ: {features1.shape[1]} and {features2.shape[1]}")
    size = min(subset_size, len(features1), len(features2))
    rng = np.random.default_rng(seed)
    values = [
        unbiased_mmd2(
            features1[rng.choice(len(features1), size, replace=False)],
            features2[rng.choice(len(features2), size, replace=False)], degree, coef0,
        )
        for _ in range(num_subsets)
    ]
    return float(np.mean(values)), float(np.std(values))


def _squared_distances(x, y) -> np.ndarray:
    return np.clip((x**2).sum(1)[:, None] + (y**2).sum(1)[None, :] - 2.0 * x @ y.T, 0.0, None)


def _knn_radii(features: np.ndarray, k: int, chunk: int) -> np.ndarray:
    """Squared distance of each row to its k-th nearest other row."""
    radii = np.empty(len(features))
    for start in range(0, len(features), chunk):
        distances = _squared_distances(features[start : start + chunk], features)
        # Column k of the sorted row: column 0 is the row itself (distance 0).
        radii[start : start + chunk] = np.partition(distances, k, axis=1)[:, k]
    return radii


def _coverage(points: np.ndarray, centres: np.ndarray, radii: np.ndarray, chunk: int) -> float:
    """The share of ``points`` inside at least one ball (centre, k-NN radius)."""
    inside = np.zeros(len(points), bool)
    for start in range(0, len(points), chunk):
        distances = _squared_distances(points[start : start + chunk], centres)
        inside[start : start + chunk] = (distances <= radii[None, :]).any(axis=1)
    return float(inside.mean())


def precision_recall(real_features, generated_features, k: int = 3, chunk: int = 1024) -> tuple[float, float]:
    """Improved precision and recall (Kynkäänniemi et al. 2019) on k-nearest-neighbour manifolds.

    Each set's manifold is the union of balls around its samples, each with
    the radius of the distance to that sample's k-th nearest neighbour within
    the set. Precision: the share of generated samples inside the real
    manifold (are the samples realistic?). Recall: the share of real samples
    inside the generated manifold (is the variety covered?).
    """
    real = _as_features(real_features, "real_features")
    generated = _as_features(generated_features, "generated_features")
    if real.shape[1] != generated.shape[1]:
        raise ValueError(f"Feature sizes differ: {real.shape[1]} and {generated.shape[1]}")
    if not 1 <= k < min(len(real), len(generated)):
        raise ValueError(f"k must be in [1, N) for both sets. Received: k={k}, N={len(real)} and {len(generated)}")
    precision = _coverage(generated, real, _knn_radii(real, k, chunk), chunk)
    recall = _coverage(real, generated, _knn_radii(generated, k, chunk), chunk)
    return precision, recall

"""Image-distribution gap estimators on feature vectors (numpy, scipy, scikit-learn).

Every function takes two feature matrices, ``(N, D)`` float arrays of the synthetic and
the real images (from the same extractor and preprocessing), and returns plain floats
with their sample sizes. The estimators are the standard ones, computed on whatever
features are given, so a report names them with their extractor (e.g. "KID-MobileNetV2"):

* KID: unbiased MMD^2 with the cubic polynomial kernel ``(x.y / D + 1)^3`` (Binkowski et
  al. 2018), mean and standard deviation over random subsets.
* Fréchet distance between Gaussians fitted to both sets (FID's formula); biased at small
  N and rank-deficient below N = D, so always reported with N.
* MMD^2 with an RBF kernel whose bandwidth is the median pairwise distance (unbiased).
* Precision / recall and density / coverage (Naeem et al. 2020) with k-nearest-neighbour
  balls.
* Classifier two-sample test: scikit-learn's L2 logistic regression under stratified
  cross-validation; mean held-out ROC AUC (0.5: indistinguishable) and scikit-learn's
  permutation-test p-value.
"""

from __future__ import annotations

import numpy as np
from scipy import linalg
from scipy.spatial.distance import cdist

__all__ = [
    "classifier_two_sample_test",
    "frechet_distance",
    "kid",
    "mmd_rbf",
    "precision_recall_density_coverage",
]


def _check(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"features must be (N, D) arrays with the same D, got {a.shape} and {b.shape}")
    if len(a) < 2 or len(b) < 2:
        raise ValueError(f"need at least 2 samples on each side, got {len(a)} and {len(b)}")
    return a, b


def _unbiased_mmd2(k_aa: np.ndarray, k_bb: np.ndarray, k_ab: np.ndarray) -> float:
    m, n = len(k_aa), len(k_bb)
    within_a = (k_aa.sum() - np.trace(k_aa)) / (m * (m - 1))
    within_b = (k_bb.sum() - np.trace(k_bb)) / (n * (n - 1))
    return float(within_a + within_b - 2 * k_ab.mean())


def kid(synthetic: np.ndarray, real: np.ndarray, rng: np.random.Generator, subsets: int = 50,
        subset_size: int | None = None) -> dict:
    """Kernel Inception Distance on the given features: mean and std over subsets."""
    a, b = _check(synthetic, real)
    size = min(subset_size or 1000, len(a), len(b))
    dim = a.shape[1]
    values = []
    for _ in range(subsets):
        x = a[rng.choice(len(a), size, replace=False)]
        y = b[rng.choice(len(b), size, replace=False)]
        kernel = lambda p, q: (p @ q.T / dim + 1.0) ** 3  # noqa: E731
        values.append(_unbiased_mmd2(kernel(x, x), kernel(y, y), kernel(x, y)))
    return {"mean": float(np.mean(values)), "std": float(np.std(values)), "subsets": subsets,
            "subset_size": size, "n_synthetic": len(a), "n_real": len(b)}


def frechet_distance(synthetic: np.ndarray, real: np.ndarray) -> dict:
    """Fréchet distance between Gaussian fits of the two feature sets."""
    a, b = _check(synthetic, real)
    mean_a, mean_b = a.mean(axis=0), b.mean(axis=0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = linalg.sqrtm(cov_a @ cov_b)
    root = root.real if np.iscomplexobj(root) else root
    value = float(np.sum((mean_a - mean_b) ** 2) + np.trace(cov_a + cov_b - 2 * root))
    return {"value": max(value, 0.0), "n_synthetic": len(a), "n_real": len(b),
            "full_rank": bool(min(len(a), len(b)) > a.shape[1])}


def mmd_rbf(synthetic: np.ndarray, real: np.ndarray) -> dict:
    """Unbiased MMD^2 with an RBF kernel, bandwidth = median pairwise distance of the pooled set."""
    a, b = _check(synthetic, real)
    pooled = np.concatenate([a, b])
    distances = cdist(pooled, pooled)
    bandwidth = float(np.median(distances[np.triu_indices(len(pooled), k=1)]))
    kernel = np.exp(-(distances**2) / (2 * max(bandwidth, 1e-12) ** 2))
    m = len(a)
    value = _unbiased_mmd2(kernel[:m, :m], kernel[m:, m:], kernel[:m, m:])
    return {"value": value, "bandwidth": bandwidth, "n_synthetic": len(a), "n_real": len(b)}


def precision_recall_density_coverage(synthetic: np.ndarray, real: np.ndarray, k: int = 5) -> dict:
    """Fidelity (precision, density) and diversity (recall, coverage) with k-NN balls."""
    fake, true = _check(synthetic, real)
    k = min(k, len(true) - 1, len(fake) - 1)
    real_radii = np.sort(cdist(true, true), axis=1)[:, k]  # column 0 is the point itself
    fake_radii = np.sort(cdist(fake, fake), axis=1)[:, k]
    between = cdist(true, fake)  # (real, fake)
    inside_real_balls = between <= real_radii[:, None]
    return {
        "precision": float(inside_real_balls.any(axis=0).mean()),
        "recall": float((between <= fake_radii[None, :]).any(axis=1).mean()),
        "density": float(inside_real_balls.sum() / (k * len(fake))),
        "coverage": float(inside_real_balls.any(axis=1).mean()),
        "k": k, "n_synthetic": len(fake), "n_real": len(true),
        # Per real image: distance to the nearest synthetic one over its own ball's radius
        # (above 1: no synthetic image near it), for galleries of uncovered real images.
        "real_uncovered_ratio": (between.min(axis=1) / np.maximum(real_radii, 1e-12)).tolist(),
    }


def _probe(l2: float):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    # Balanced class weights: real sets are often 10x smaller than synthetic ones.
    return make_pipeline(StandardScaler(), LogisticRegression(C=1.0 / l2, class_weight="balanced", max_iter=1000))


def classifier_two_sample_test(synthetic: np.ndarray, real: np.ndarray, rng: np.random.Generator,
                               folds: int = 5, permutations: int = 50, l2: float = 1.0, jobs: int = -1) -> dict:
    """Can a logistic probe tell synthetic from real features?

    scikit-learn's L2 logistic regression on standardised features under stratified
    ``folds``-fold cross-validation; ``permutation_test_score`` refits it on ``permutations``
    label shuffles for the p-value (in parallel over ``jobs`` processes, -1: every core).

    Args:
        synthetic: (N, D) float features of the synthetic images.
        real: (M, D) float features of the real images.
        rng: Draws the folds and the permutations.
        folds: Cross-validation folds (at most the smaller side's size, at least 2).
        permutations: Label shuffles for the permutation p-value.
        l2: L2 penalty strength (scikit-learn's ``C = 1 / l2``).
        jobs: Parallel processes for the permutation refits.

    Returns:
        ``auc``: mean held-out ROC AUC over the folds (0.5: indistinguishable, 1: separable),
        its permutation ``p_value``, and the held-out ``synthetic_scores`` (decision values,
        higher: looks more synthetic), for galleries of the most synthetic-looking images.
    """
    from sklearn.model_selection import StratifiedKFold, cross_val_predict, permutation_test_score

    a, b = _check(synthetic, real)
    folds = max(2, min(folds, len(a), len(b)))
    x = np.concatenate([a, b])
    y = np.concatenate([np.ones(len(a), dtype=int), np.zeros(len(b), dtype=int)])
    split_seed, permutation_seed = (int(v) for v in rng.integers(0, 2**31 - 1, size=2))
    cv = StratifiedKFold(folds, shuffle=True, random_state=split_seed)
    auc, null, p_value = permutation_test_score(_probe(l2), x, y, cv=cv, n_permutations=permutations,
                                                scoring="roc_auc", n_jobs=jobs, random_state=permutation_seed)
    scores = cross_val_predict(_probe(l2), x, y, cv=cv, method="decision_function")
    return {"auc": float(auc), "p_value": float(p_value), "folds": folds, "permutations": permutations,
            "null_auc_mean": float(np.mean(null)), "n_synthetic": len(a), "n_real": len(b),
            "synthetic_scores": scores[: len(a)].tolist()}

"""Distribution-gap estimators: about zero for one distribution, growing with the shift."""

import numpy as np
import pytest
from scipy import linalg

from synthgen.validation.distribution import (
    classifier_two_sample_test,
    frechet_distance,
    kid,
    mmd_rbf,
    precision_recall_density_coverage,
)

D = 8


def _samples(seed, n=120, shift=0.0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, D)) + shift


def test_same_distribution_gives_no_gap():
    a, b = _samples(1), _samples(2)
    score = kid(a, b, np.random.default_rng(0), subsets=20, subset_size=60)
    assert abs(score["mean"]) < 3 * score["std"] + 1e-3
    assert abs(mmd_rbf(a, b)["value"]) < 0.02
    c2st = classifier_two_sample_test(a, b, np.random.default_rng(0), permutations=20)
    assert 0.35 < c2st["auc"] < 0.65 and c2st["p_value"] > 0.05
    prdc = precision_recall_density_coverage(a, b)
    assert prdc["precision"] > 0.7 and prdc["recall"] > 0.7 and prdc["coverage"] > 0.7


def test_gaps_grow_with_the_shift_in_the_right_order():
    real = _samples(3)
    shifts = (0.0, 0.5, 1.5)
    fakes = [_samples(4, shift=s) for s in shifts]
    kids = [kid(f, real, np.random.default_rng(0), subsets=20, subset_size=60)["mean"] for f in fakes]
    fds = [frechet_distance(f, real)["value"] for f in fakes]
    mmds = [mmd_rbf(f, real)["value"] for f in fakes]
    aucs = [classifier_two_sample_test(f, real, np.random.default_rng(0), permutations=5)["auc"] for f in fakes]
    for values in (kids, fds, mmds, aucs):
        assert values[0] < values[1] < values[2], values
    assert aucs[2] > 0.95
    assert frechet_distance(fakes[2], real)["value"] == pytest.approx(D * 1.5**2, rel=0.3)
    far = precision_recall_density_coverage(_samples(4, shift=4.0), real)
    assert far["precision"] < 0.2 and far["coverage"] < 0.2


def test_frechet_distance_matches_the_formula():
    a, b = _samples(5, n=400), _samples(6, n=400, shift=1.0)
    ca, cb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    expected = np.sum((a.mean(0) - b.mean(0)) ** 2) + np.trace(ca + cb - 2 * linalg.sqrtm(ca @ cb).real)
    result = frechet_distance(a, b)
    assert result["value"] == pytest.approx(expected) and result["full_rank"]


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match="same D"):
        mmd_rbf(np.zeros((5, 3)), np.zeros((5, 4)))
    with pytest.raises(ValueError, match="at least 2 samples"):
        kid(np.zeros((1, 3)), np.zeros((5, 3)), np.random.default_rng(0))


def test_classifier_two_sample_test_is_scikit_learns_logistic_regression():
    """The probe is scikit-learn's (it replaced a hand-written L-BFGS fit that took ~12 minutes for
    800 vs 60 images): its AUC is the mean held-out ROC AUC of StandardScaler + LogisticRegression
    under stratified folds, and the same seed gives the same p-value whatever the job count."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    fake, real = _samples(5, n=90, shift=0.4), _samples(6, n=30)
    result = classifier_two_sample_test(fake, real, np.random.default_rng(7), folds=5, permutations=9, jobs=1)
    x, y = np.concatenate([fake, real]), np.r_[np.ones(90, int), np.zeros(30, int)]
    split_seed = int(np.random.default_rng(7).integers(0, 2**31 - 1, size=2)[0])
    aucs = []
    for train, test in StratifiedKFold(5, shuffle=True, random_state=split_seed).split(x, y):
        probe = make_pipeline(StandardScaler(), LogisticRegression(class_weight="balanced", max_iter=1000))
        probe.fit(x[train], y[train])
        aucs.append(roc_auc_score(y[test], probe.decision_function(x[test])))
    assert result["auc"] == pytest.approx(np.mean(aucs), abs=1e-12)
    assert len(result["synthetic_scores"]) == 90 and 0.0 < result["p_value"] <= 1.0
    parallel = classifier_two_sample_test(fake, real, np.random.default_rng(7), folds=5, permutations=9, jobs=2)
    assert parallel["p_value"] == result["p_value"] and parallel["auc"] == result["auc"]

"""The statistics of the multivariate detectors against independent oracles: scikit-learn's ROC AUC and RBF kernel,
scipy's pairwise distances, and brute-force enumeration of every split for the permutation p-values."""

from itertools import combinations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.distance import pdist
from scipy.stats import rankdata
from sklearn.metrics import roc_auc_score
from sklearn.metrics.pairwise import rbf_kernel

from driftloop.stats.mann_whitney_auc import auc_test
from driftloop.stats.mmd import median_bandwidth, mmd2_unbiased, mmd_permutation_test, squared_distances


def brute_mmd2(x: np.ndarray, y: np.ndarray, sigma: float) -> float:
    """Unbiased MMD² by its definition (Gretton et al. 2012, eq. 3), with scikit-learn's RBF kernel."""
    gamma = 1.0 / (2.0 * sigma * sigma)
    kxx, kyy, kxy = rbf_kernel(x, x, gamma=gamma), rbf_kernel(y, y, gamma=gamma), rbf_kernel(x, y, gamma=gamma)
    m, n = len(x), len(y)
    return ((kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
            - 2.0 * kxy.mean())


def test_bandwidth_is_the_median_pairwise_distance():
    pooled = np.random.default_rng(0).normal(size=(41, 3))
    assert median_bandwidth(squared_distances(pooled)) == pytest.approx(np.median(pdist(pooled)), rel=1e-12)


def test_vectorised_mmd_of_every_split_equals_the_definition():
    rng = np.random.default_rng(1)
    pooled = rng.normal(size=(9, 2))
    sigma = median_bandwidth(squared_distances(pooled))
    kernel = rbf_kernel(pooled, gamma=1.0 / (2.0 * sigma * sigma))
    splits = list(combinations(range(9), 4))
    members = np.zeros((9, len(splits)))
    for b, chosen in enumerate(splits):
        members[list(chosen), b] = 1.0
    fast = mmd2_unbiased(kernel, members)
    for b, chosen in enumerate(splits):
        rest = [i for i in range(9) if i not in chosen]
        assert fast[b] == pytest.approx(brute_mmd2(pooled[list(chosen)], pooled[rest], sigma), rel=1e-10, abs=1e-12)


def test_permutation_p_value_matches_the_enumeration_of_every_split():
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(5, 2)), rng.normal(0.8, 1.0, size=(6, 2))
    pooled = np.concatenate([x, y])
    sigma = median_bandwidth(squared_distances(pooled))
    observed = brute_mmd2(x, y, sigma)
    every = [brute_mmd2(pooled[list(c)], pooled[[i for i in range(11) if i not in c]], sigma)
             for c in combinations(range(11), 5)]
    exact = np.mean(np.asarray(every) >= observed - 1e-12)  # the exact permutation p-value (462 splits)
    result = mmd_permutation_test(x, y, n_permutations=20_000, seed=3)
    assert result.mmd2 == pytest.approx(observed, rel=1e-10)
    assert abs(result.p_value - exact) < 4 * np.sqrt(exact * (1 - exact) / 20_000) + 1e-4


def test_mmd_p_values_are_uniform_under_the_null_and_tiny_under_a_flipped_correlation():
    rng = np.random.default_rng(4)
    p_values = [mmd_permutation_test(rng.normal(size=(40, 2)), rng.normal(size=(40, 2)), n_permutations=200,
                                     seed=s).p_value for s in range(60)]
    assert 0.3 < np.mean(p_values) < 0.7 and np.mean(np.asarray(p_values) <= 0.05) < 0.15
    cov = [[1.0, 0.9], [0.9, 1.0]]
    flipped = mmd_permutation_test(rng.multivariate_normal([0, 0], cov, 300),
                                   rng.multivariate_normal([0, 0], [[1.0, -0.9], [-0.9, 1.0]], 300), seed=0)
    assert flipped.p_value < 1e-6  # beyond every permutation: the extrapolated Pearson tail


def test_mmd_refuses_missing_values_with_a_clear_message():
    with pytest.raises(ValueError, match="finite numbers only"):
        mmd_permutation_test(np.array([[0.0], [np.nan]]), np.zeros((3, 1)))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 6), min_size=1, max_size=30), st.lists(st.integers(0, 6), min_size=1, max_size=30))
def test_auc_equals_scikit_learn_with_ties(positive, negative):
    scores = np.array(positive + negative, dtype=float)
    labels = np.r_[np.ones(len(positive)), np.zeros(len(negative))]
    if len(set(labels)) == 2:
        assert auc_test(positive, negative).auc == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)


def _rank_sums(pooled: np.ndarray, members: np.ndarray) -> np.ndarray:
    """Sum of the midranks of the rows in each row of ``members`` (the Mann–Whitney statistic up to a constant)."""
    return rankdata(pooled)[members].sum(axis=1)


def test_auc_p_value_is_the_exact_mann_whitney_null_for_small_samples():
    rng = np.random.default_rng(5)
    for _ in range(5):
        positive, negative = rng.normal(0.7, 1.0, size=6), rng.normal(size=7)
        pooled = np.concatenate([positive, negative])
        every = np.array(list(combinations(range(13), 6)))  # all 1,716 assignments of the positive labels
        sums = _rank_sums(pooled, every)
        exact = np.mean(sums >= _rank_sums(pooled, np.arange(6)[None, :])[0] - 1e-9)
        assert auc_test(positive, negative).p_value == pytest.approx(exact, rel=1e-9)


def test_auc_p_value_with_ties_and_larger_samples_is_close_to_the_permutation_null():
    rng = np.random.default_rng(6)
    positive, negative = rng.integers(0, 8, size=40).astype(float) + 0.5, rng.integers(0, 8, size=50).astype(float)
    pooled = np.concatenate([positive, negative])
    permuted = _rank_sums(pooled, rng.random((100_000, 90)).argsort(axis=1)[:, :40])
    monte_carlo = np.mean(permuted >= _rank_sums(pooled, np.arange(40)[None, :])[0] - 1e-9)
    assert 0.001 < monte_carlo < 0.2  # a p-value the normal approximation must get right
    assert auc_test(positive, negative).p_value == pytest.approx(monte_carlo, rel=0.1)


@pytest.mark.parametrize("rows", [2, 3, 4, 5, 40])
def test_bandwidth_with_ties_and_odd_or_even_pair_counts_is_the_median_pairwise_distance(rows):
    pooled = np.random.default_rng(rows).integers(0, 3, size=(rows, 2)).astype(float)  # many equal distances
    distances = pdist(pooled)
    expected = np.median(distances)
    if expected == 0:  # more than half the pairs coincide: the root mean square of the others, else 1
        positive = distances[distances > 0]
        expected = np.sqrt(np.mean(positive ** 2)) if positive.size else 1.0
    assert median_bandwidth(squared_distances(pooled)) == pytest.approx(expected, rel=1e-12)

"""Binned and categorical statistics on aligned count vectors, against scipy as the oracle."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from scipy import special, stats
from scipy.spatial import distance
from stats_strategies import close, count_pairs

from driftloop.stats import (
    absent_share,
    chi_squared,
    hellinger,
    jensen_shannon,
    kl_divergence,
    l_infinity,
    psi,
    total_variation,
    unseen_share,
)

PROPERTY = settings(max_examples=200, deadline=None)


def floored(counts: np.ndarray, epsilon: float) -> np.ndarray:
    return np.maximum(counts / counts.sum(), epsilon)


@PROPERTY
@given(count_pairs(), st.sampled_from([1e-4, 1e-6, 0.01]))
def test_psi_is_the_symmetrised_kl_of_floored_proportions(pair: tuple[np.ndarray, np.ndarray], eps: float) -> None:
    ref, win = pair
    p, q = floored(ref, eps), floored(win, eps)
    expected = float(special.rel_entr(q, p).sum() + special.rel_entr(p, q).sum())
    assert close(psi(ref, win, epsilon=eps), expected)
    assert psi(ref, win, epsilon=eps) >= 0.0


def test_psi_epsilon_zero() -> None:
    assert psi([1, 1, 0], [1, 1, 0], epsilon=0.0) == 0.0  # a bin empty on both sides contributes nothing
    assert psi([1, 0], [1, 1], epsilon=0.0) == math.inf


@PROPERTY
@given(count_pairs(), st.sampled_from([2.0, math.e, 10.0]))
def test_jensen_shannon_matches_scipy(pair: tuple[np.ndarray, np.ndarray], base: float) -> None:
    ref, win = pair
    ours = jensen_shannon(ref, win, base=base)
    assert close(ours, distance.jensenshannon(ref, win, base=base))
    assert 0.0 <= jensen_shannon(ref, win) <= 1.0 + 1e-12  # as scipy: not clipped, may round to 1 + 2**-52


@PROPERTY
@given(count_pairs(), st.sampled_from([1e-4, 1e-8, 0.0]))
def test_kl_divergence_matches_scipy_entropy(pair: tuple[np.ndarray, np.ndarray], eps: float) -> None:
    ref, win = pair
    p, q = floored(ref, eps), floored(win, eps)
    # direction: KL(window || reference), the floored proportions renormalised (scipy.stats.entropy normalises)
    expected = stats.entropy(q, p)
    ours = kl_divergence(ref, win, epsilon=eps)
    if math.isinf(expected):
        assert ours == math.inf
    else:
        assert close(ours, expected)


@PROPERTY
@example((np.array([0.0, 0.0, 140.0, 0.0, 3.0, 0.0, 0.0]), np.array([0.0, 0.0, 0.0, 3.0, 0.0, 5.0, 4.0])))
@given(count_pairs())
def test_distances_match_scipy(pair: tuple[np.ndarray, np.ndarray]) -> None:
    ref, win = pair
    p, q = ref / ref.sum(), win / win.sum()
    assert close(hellinger(ref, win), distance.euclidean(np.sqrt(p), np.sqrt(q)) / math.sqrt(2.0))
    assert close(total_variation(ref, win), distance.cityblock(p, q) / 2.0)
    assert close(l_infinity(ref, win), distance.chebyshev(p, q))
    for value in (hellinger(ref, win), total_variation(ref, win), l_infinity(ref, win)):
        assert 0.0 <= value <= 1.0


@PROPERTY
@given(count_pairs())
def test_chi_squared_matches_chi2_contingency(pair: tuple[np.ndarray, np.ndarray]) -> None:
    ref, win = pair
    table = np.vstack([ref, win])
    table = table[:, table.sum(axis=0) > 0]
    theirs = stats.chi2_contingency(table)
    ours = chi_squared(ref, win)
    assert ours.dof == theirs.dof
    assert close(ours.statistic, theirs.statistic)
    assert close(ours.p_value, theirs.pvalue)


def test_chi_squared_yates_and_degenerate_cases() -> None:
    theirs = stats.chi2_contingency([[30, 10], [20, 20]])  # dof == 1: Yates' correction
    assert close(chi_squared([30, 10], [20, 20]).statistic, theirs.statistic)
    assert chi_squared([5, 0, 0], [7, 0, 0]) == (0.0, 1.0, 0)


@PROPERTY
@given(count_pairs())
def test_unseen_and_absent_share(pair: tuple[np.ndarray, np.ndarray]) -> None:
    ref, win = pair
    assert close(absent_share(ref, win), win[ref == 0].sum() / win.sum())
    assert close(unseen_share(win, -1), win[-1] / win.sum())
    assert close(unseen_share(win, list(range(win.size))), 1.0)


def test_identical_counts_give_zero_everywhere() -> None:
    counts = np.array([3.0, 0.0, 7.0, 1.0])
    for function in (psi, kl_divergence, jensen_shannon, hellinger, total_variation, l_infinity):
        assert function(counts, counts * 5) == pytest.approx(0.0, abs=1e-12)
    assert chi_squared(counts, counts).statistic == pytest.approx(0.0, abs=1e-12)


BINNED = [psi, kl_divergence, jensen_shannon, hellinger, total_variation, l_infinity, chi_squared, absent_share]


@pytest.mark.parametrize("function", BINNED)
def test_bad_counts_raise_a_clear_error(function) -> None:  # type: ignore[no-untyped-def]
    good = [1.0, 2.0, 3.0]
    cases = [
        (good, [1.0, 2.0], r"^window_counts must have the same length as reference_counts \(3\); got length 2$"),
        ([1.0, -2.0, 3.0], good, r"^reference_counts must be non-negative; got -2\.0 at index 1$"),
        (good, [0.0, 0.0, 0.0], r"^window_counts must have a positive total; got all zeros$"),
        (good, [1.0, np.nan, 1.0], r"^window_counts must contain only finite counts; got nan at index 1$"),
        ([], [], r"^reference_counts must not be empty; got an empty array$"),
        ([[1.0, 2.0]], good, r"^reference_counts must be a 1-D array; got an array of shape \(1, 2\)$"),
    ]
    for ref, win, message in cases:
        with pytest.raises(ValueError, match=message):
            function(ref, win)


@pytest.mark.parametrize("function", [psi, kl_divergence])
def test_bad_epsilon(function) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=r"^epsilon must be in \[0, 1\); got -0\.1$"):
        function([1, 2], [2, 1], epsilon=-0.1)


def test_bad_base_and_unseen_index() -> None:
    with pytest.raises(ValueError, match=r"^base must be a finite positive number other than 1; got 1\.0$"):
        jensen_shannon([1, 2], [2, 1], base=1.0)
    with pytest.raises(ValueError, match=r"^unseen_index must be within \[-3, 2\] for 3 categories; got 3$"):
        unseen_share([1, 2, 3], 3)
    with pytest.raises(ValueError, match=r"^unseen_index must be an int or a sequence of ints; got 1\.5$"):
        unseen_share([1, 2, 3], 1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"^window_counts must have a positive total; got all zeros$"):
        unseen_share([0, 0], 0)

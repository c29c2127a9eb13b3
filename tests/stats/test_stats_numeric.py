"""Numeric two-sample statistics against scipy as the oracle (hypothesis property tests)."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import stats
from stats_strategies import close, sorted_pairs

from driftloop.stats import (
    anderson_darling_sorted,
    cramer_von_mises_sorted,
    ecdf_gaps,
    energy_distance_sorted,
    ks_2samp_sorted,
    merge_ecdfs,
    sort_finite,
    wasserstein_normalized,
    wasserstein_sorted,
)
from driftloop.stats.constant import constant_value, roundoff_tolerance

PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def scale_of(a: np.ndarray, b: np.ndarray) -> float:
    return float(max(np.abs(a).max(), np.abs(b).max()))


@PROPERTY
@given(sorted_pairs())
def test_merge_ecdfs_counts_match_searchsorted(pair: tuple[np.ndarray, np.ndarray]) -> None:
    a, b = pair
    merged = merge_ecdfs(a, b)
    assert np.array_equal(merged.values, np.unique(np.concatenate([a, b])))
    assert np.array_equal(merged.reference_cdf, np.searchsorted(a, merged.values, side="right"))
    assert np.array_equal(merged.window_cdf, np.searchsorted(b, merged.values, side="right"))
    assert (merged.n_reference, merged.n_window) == (a.size, b.size)
    assert merged.reference_counts().sum() == a.size and merged.window_counts().sum() == b.size


@pytest.mark.filterwarnings("ignore:ks_2samp. Exact calculation unsuccessful:RuntimeWarning")
@PROPERTY
@given(sorted_pairs())
def test_ks_matches_scipy(pair: tuple[np.ndarray, np.ndarray]) -> None:
    a, b = pair
    ours = ks_2samp_sorted(a, b)
    theirs = stats.ks_2samp(a, b)
    assert close(ours.statistic, theirs.statistic)
    assert close(ours.p_value, theirs.pvalue)
    assert ks_2samp_sorted(a, b, check=False) == ours
    assert ks_2samp_sorted(a, b, gaps=ecdf_gaps(a, b)) == ours


@pytest.mark.parametrize(
    ("n", "m", "levels", "shift"),
    [
        (10_000, 9_999, None, 0.02),  # exact, unequal sizes (lattice-path count)
        (3_000, 3_000, None, 0.02),  # exact, equal sizes (reflection formula)
        (10_001, 4_000, None, 0.02),  # asymptotic: above scipy's exact cut-off
        (30_000, 20_000, None, 0.05),  # asymptotic, in the vectorised one-sided Smirnov branch (n D^2 >= 2.2)
        (50_000, 70_000, 7, 0.0),  # asymptotic with heavy ties
        (200, 10_000, 3, 0.0),  # exact with heavy ties
    ],
)
def test_ks_matches_scipy_on_large_samples(n: int, m: int, levels: int | None, shift: float) -> None:
    rng = np.random.default_rng(n + m)
    if levels is None:
        a, b = np.sort(rng.normal(size=n)), np.sort(rng.normal(shift, 1.0, size=m))
    else:
        a = np.sort(rng.integers(0, levels, size=n).astype(float))
        b = np.sort(rng.integers(0, levels, size=m).astype(float))
    ours = ks_2samp_sorted(a, b)
    theirs = stats.ks_2samp(a, b)
    assert close(ours.statistic, theirs.statistic)
    assert close(ours.p_value, theirs.pvalue)


def test_ks_exact_fallback_matches_scipys_compiled_path_count() -> None:
    from driftloop.stats import ks

    if ks._compiled_outside_band is None:  # pragma: no cover - scipy build without it
        pytest.skip("scipy's compiled lattice-path count is not available")
    for n, m in [(1, 2), (3, 5), (7, 4), (10, 25), (40, 33), (120, 77)]:
        g = math.gcd(n, m)
        lcm = n // g * m
        for h in range(1, lcm + 1, max(1, lcm // 9)):
            assert close(ks._prob_outside_band_numpy(n, m, g, h), ks._compiled_outside_band(n, m, g, h))


@PROPERTY
@given(sorted_pairs())
def test_wasserstein_matches_scipy(pair: tuple[np.ndarray, np.ndarray]) -> None:
    a, b = pair
    expected = stats.wasserstein_distance(a, b)
    assert close(wasserstein_sorted(a, b), expected, scale=scale_of(a, b))
    assert close(wasserstein_sorted(a, b, gaps=ecdf_gaps(a, b)), expected, scale=scale_of(a, b))


@PROPERTY
@given(sorted_pairs(min_size=2))
def test_wasserstein_normalized_divides_by_population_std(pair: tuple[np.ndarray, np.ndarray]) -> None:
    a, b = pair
    spread = float(np.std(a))
    distance = stats.wasserstein_distance(a, b)
    ours = wasserstein_normalized(a, b)
    held = constant_value(a[0], a[-1])
    if held is not None:  # constant up to round-off: 0 or inf, whatever the std round-off left
        assert ours == (0.0 if distance <= roundoff_tolerance(held) else math.inf)
        assert wasserstein_normalized(a, b, reference_std=0.0) == ours
    elif spread == 0.0:  # the std underflowed (values near 1e-300)
        assert ours == (0.0 if distance == 0.0 else math.inf)
    else:
        assert close(ours, distance / spread, scale=scale_of(a, b) / spread)
    # a stored scale is the scale, even for a constant part of the reference (a calibration draw)
    assert close(wasserstein_normalized(a, b, reference_std=2.0), wasserstein_sorted(a, b) / 2.0)


def test_wasserstein_normalized_constant_reference() -> None:
    assert wasserstein_normalized([1.0, 1.0], [1.0]) == 0.0
    assert wasserstein_normalized([1.0, 1.0], [1.0, 2.0]) == math.inf


@PROPERTY
@given(sorted_pairs())
def test_energy_distance_matches_scipy(pair: tuple[np.ndarray, np.ndarray]) -> None:
    a, b = pair
    assert close(energy_distance_sorted(a, b), stats.energy_distance(a, b), scale=math.sqrt(scale_of(a, b)))


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sorted_pairs(min_size=2, max_size=35))
def test_cramer_von_mises_matches_scipy(pair: tuple[np.ndarray, np.ndarray]) -> None:
    a, b = pair
    ours = cramer_von_mises_sorted(a, b)
    theirs = stats.cramervonmises_2samp(a, b)
    assert close(ours.statistic, theirs.statistic)
    assert close(ours.p_value, theirs.pvalue)


@pytest.mark.parametrize(("n", "m"), [(19, 20), (20, 20), (2, 20), (21, 20), (500, 300)])
def test_cramer_von_mises_exact_and_asymptotic_edges(n: int, m: int) -> None:
    rng = np.random.default_rng(n * m)
    a, b = np.sort(rng.normal(size=n)), np.sort(rng.normal(0.3, 1.0, size=m))
    ours = cramer_von_mises_sorted(a, b)
    theirs = stats.cramervonmises_2samp(a, b)
    assert close(ours.statistic, theirs.statistic)
    assert close(ours.p_value, theirs.pvalue)


def test_cramer_von_mises_limiting_cdf_matches_scipy() -> None:
    from scipy.stats._hypotests import _cdf_cvm_inf

    from driftloop.stats.cramer_von_mises import limiting_cdf

    for x in np.linspace(0.01, 3.0, 60):
        assert close(limiting_cdf(float(x)), float(_cdf_cvm_inf(x)))


def _scipy_anderson(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # p-value capped / floored warnings, midrank deprecation
        try:
            result = stats.anderson_ksamp([a, b], variant="midrank")
        except TypeError:  # scipy < 1.17: no `variant`, midrank=True is the default
            result = stats.anderson_ksamp([a, b])
    return float(result.statistic), float(result.pvalue)


@PROPERTY
@given(sorted_pairs())
def test_anderson_darling_matches_scipy(pair: tuple[np.ndarray, np.ndarray]) -> None:
    a, b = pair
    if a.size + b.size < 4 or np.unique(np.concatenate([a, b])).size < 2:
        with pytest.raises(ValueError, match="reference and window must hold at least"):
            anderson_darling_sorted(a, b)
        return
    ours = anderson_darling_sorted(a, b)
    statistic, p_value = _scipy_anderson(a, b)
    assert close(ours.statistic, statistic)
    assert close(ours.p_value, p_value)
    assert 0.001 <= ours.p_value <= 0.25


@pytest.mark.parametrize(("n", "m", "shift"), [(300, 200, 0.0), (300, 200, 0.25), (2_000, 3_000, 1.0)])
def test_anderson_darling_p_value_range(n: int, m: int, shift: float) -> None:
    rng = np.random.default_rng(n + m)
    a, b = np.sort(rng.normal(size=n)), np.sort(rng.normal(shift, 1.0, size=m))
    ours = anderson_darling_sorted(a, b)
    statistic, p_value = _scipy_anderson(a, b)
    assert close(ours.statistic, statistic)
    assert close(ours.p_value, p_value)


@PROPERTY
@given(
    st.lists(
        st.one_of(st.floats(-100, 100, allow_subnormal=False), st.sampled_from([np.nan, np.inf, -np.inf, 1.0])),
        min_size=0,
        max_size=40,
    ),
    sorted_pairs(),
)
def test_nan_and_inf_never_reach_a_statistic(raw: list[float], pair: tuple[np.ndarray, np.ndarray]) -> None:
    values = np.asarray(raw, dtype=np.float64)
    sample = sort_finite(values)
    assert sample.n_missing == int(np.isnan(values).sum())
    assert sample.n_nonfinite == int(np.isinf(values).sum())
    assert np.array_equal(sample.values, np.sort(values[np.isfinite(values)]))
    assert sample.values.size + sample.n_missing + sample.n_nonfinite == values.size
    reference = pair[0]
    if sample.values.size == 0:
        with pytest.raises(ValueError, match="window must not be empty"):
            ks_2samp_sorted(reference, sample.values)
        return
    clean = values[np.isfinite(values)]
    assert close(ks_2samp_sorted(reference, sample.values).p_value, stats.ks_2samp(reference, clean).pvalue)
    assert close(
        wasserstein_sorted(reference, sample.values),
        stats.wasserstein_distance(reference, clean),
        scale=scale_of(reference, sample.values),
    )


NUMERIC = [
    ks_2samp_sorted,
    wasserstein_sorted,
    wasserstein_normalized,
    energy_distance_sorted,
    cramer_von_mises_sorted,
    anderson_darling_sorted,
    merge_ecdfs,
    ecdf_gaps,
]


@pytest.mark.parametrize("function", NUMERIC)
def test_empty_samples_raise_a_clear_error(function) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=r"^window must not be empty; got an empty array$"):
        function(np.array([1.0, 2.0, 3.0, 4.0]), np.array([]))
    with pytest.raises(ValueError, match=r"^reference must not be empty; got an empty array$"):
        function(np.array([]), np.array([1.0, 2.0, 3.0, 4.0]))


@pytest.mark.parametrize("function", NUMERIC)
def test_unsorted_and_nonfinite_samples_raise_a_clear_error(function) -> None:  # type: ignore[no-untyped-def]
    good = np.array([1.0, 2.0, 3.0, 4.0])
    with pytest.raises(ValueError, match=r"^window must be sorted ascending; got 5\.0 at index 1 followed by 2\.0$"):
        function(good, np.array([1.0, 5.0, 2.0]))
    with pytest.raises(ValueError, match=r"^reference must contain only finite values; got 1 NaN and 2 infinite"):
        function(np.array([1.0, np.nan, np.inf, -np.inf]), good)
    with pytest.raises(ValueError, match=r"^window must be a 1-D array; got an array of shape \(2, 2\)$"):
        function(good, np.ones((2, 2)))
    with pytest.raises(ValueError, match=r"^reference must be a 1-D array of numbers; got text or bytes"):
        function(["a", "b"], good)


def test_check_false_skips_the_order_check_only() -> None:
    # the caller's contract: with check=False an unsorted sample is not detected (documented), size still is
    ks_2samp_sorted([1.0, 2.0], [2.0, 1.0], check=False)
    with pytest.raises(ValueError, match="window must not be empty"):
        ks_2samp_sorted([1.0, 2.0], [], check=False)


def test_cramer_von_mises_needs_two_values_per_sample() -> None:
    with pytest.raises(ValueError, match=r"^window must have at least 2 values; got 1$"):
        cramer_von_mises_sorted([1.0, 2.0], [1.5])
    with pytest.raises(ValueError, match=r"^reference must have at least 2 values; got 1$"):
        cramer_von_mises_sorted([1.0], [1.5, 2.0], merged=merge_ecdfs([1.0], [1.5, 2.0]))


def test_anderson_darling_needs_four_values_and_two_distinct() -> None:
    with pytest.raises(ValueError, match=r"at least 4 values together; got 1 \+ 2 = 3$"):
        anderson_darling_sorted([1.0], [2.0, 3.0])
    with pytest.raises(ValueError, match=r"at least 2 distinct values together; got only 1\.0$"):
        anderson_darling_sorted([1.0, 1.0], [1.0, 1.0])


def test_wasserstein_normalized_rejects_a_bad_reference_std() -> None:
    with pytest.raises(ValueError, match=r"^reference_std must be a finite non-negative number; got -1\.0$"):
        wasserstein_normalized([1.0, 2.0], [1.0], reference_std=-1.0)


def test_tiny_samples() -> None:
    assert ks_2samp_sorted([1.0], [2.0]) == (1.0, 1.0)
    assert ks_2samp_sorted([1.0], [1.0]) == (0.0, 1.0)
    assert wasserstein_sorted([1.0], [3.0]) == 2.0
    assert energy_distance_sorted([1.0], [1.0]) == 0.0
    assert close(energy_distance_sorted([0.0], [2.0]), stats.energy_distance([0.0], [2.0]))


@pytest.mark.parametrize("n", [141, 10_000, 54_321])
def test_kstwo_sf_matches_scipy_including_the_vectorised_smirnov_branch(n: int) -> None:
    from driftloop.stats.ks import kstwo_sf

    for x in np.concatenate([np.geomspace(0.5 / n, 0.99, 30), [0.5, 0.49999]]):
        assert math.isclose(kstwo_sf(float(x), n), float(stats.kstwo.sf(x, n)), rel_tol=1e-9, abs_tol=1e-300)


def test_sort_finite_rejects_text_and_2d_input() -> None:
    with pytest.raises(ValueError, match=r"^values must be a 1-D array of numbers; got text or bytes \(dtype <U3\)$"):
        sort_finite(["1.5", "abc"])
    with pytest.raises(ValueError, match=r"^values must be a 1-D array of numbers; got ndarray that cannot be read"):
        sort_finite(np.array([1.0, "abc", None], dtype=object))
    with pytest.raises(ValueError, match=r"^values must be a 1-D array; got an array of shape \(1, 2\)$"):
        sort_finite([[1.0, 2.0]])
    empty = sort_finite([])
    assert empty.values.size == 0 and (empty.n_missing, empty.n_nonfinite) == (0, 0)


@settings(max_examples=60, deadline=None)
@given(sorted_pairs(min_size=2))
def test_shared_merge_gives_the_same_results(pair: tuple[np.ndarray, np.ndarray]) -> None:
    a, b = pair
    merged = merge_ecdfs(a, b)
    assert energy_distance_sorted(a, b, merged=merged) == energy_distance_sorted(a, b)
    assert cramer_von_mises_sorted(a, b, merged=merged) == cramer_von_mises_sorted(a, b)
    if np.unique(np.concatenate([a, b])).size >= 2 and a.size + b.size >= 4:
        assert anderson_darling_sorted(a, b, merged=merged) == anderson_darling_sorted(a, b, check=False)


@settings(max_examples=150, deadline=None)
@given(sorted_pairs())
def test_ecdf_gaps_equal_the_merged_cdfs_without_storing_them(pair: tuple[np.ndarray, np.ndarray]) -> None:
    a, b = pair
    merged = merge_ecdfs(a, b)
    gaps = ecdf_gaps(a, b)
    n, m = a.size, b.size
    g = math.gcd(n, m)
    assert (gaps.n_reference, gaps.n_window) == (n, m)
    assert gaps.scaled_max_gap == int(np.abs(merged.reference_cdf * (m // g) - merged.window_cdf * (n // g)).max())
    steps = np.abs(merged.reference_cdf / n - merged.window_cdf / m)[:-1] * np.diff(merged.values)
    assert math.isclose(gaps.area, float(steps.sum()), rel_tol=1e-12, abs_tol=1e-300)
    assert ecdf_gaps(a, b, check=False) == gaps

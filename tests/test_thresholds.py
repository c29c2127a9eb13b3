"""Verdicts: Benjamini–Hochberg against scipy, the leave-one-chunk-out null, the null fit and the size law."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as ss

from driftloop.errors import DriftloopError
from driftloop.thresholds import (
    DriftThresholds,
    NullModel,
    benjamini_hochberg,
    chunk_bounds,
    distance_threshold,
    effective_size,
    fit_null,
    leave_one_chunk_out,
    random_splits,
)

p_values = st.lists(st.floats(0.0, 1.0, allow_nan=False), min_size=1, max_size=60)


@settings(max_examples=200, deadline=None)
@given(p_values, st.sampled_from([0.001, 0.01, 0.05, 0.2]))
def test_benjamini_hochberg_matches_scipy(p: list[float], alpha: float) -> None:
    result = benjamini_hochberg(p, alpha)
    adjusted = ss.false_discovery_control(p, method="bh")
    np.testing.assert_allclose(result.adjusted, adjusted, rtol=1e-12, atol=0)
    np.testing.assert_array_equal(result.rejected, adjusted <= alpha * (1 + 1e-12))
    # the cutoff reproduces every decision
    np.testing.assert_array_equal(result.rejected, np.asarray(p) <= result.cutoff)


def test_benjamini_hochberg_leaves_nan_out() -> None:
    with_nan = benjamini_hochberg([0.01, np.nan, 0.02, 0.9], 0.05)
    without = benjamini_hochberg([0.01, 0.02, 0.9], 0.05)
    assert with_nan.rejected.tolist() == [True, False, True, False]
    assert with_nan.cutoff == without.cutoff
    assert np.isnan(with_nan.adjusted[1])
    empty = benjamini_hochberg([np.nan], 0.05)
    assert not empty.rejected.any() and np.isnan(empty.cutoff)


@pytest.mark.parametrize("alpha", [0, 1, -0.1, "0.05", True])
def test_benjamini_hochberg_rejects_bad_alpha(alpha: object) -> None:
    with pytest.raises(DriftloopError, match="'alpha' parameter of benjamini_hochberg must be a number in"):
        benjamini_hochberg([0.1], alpha)  # type: ignore[arg-type]


def test_chunks_cover_the_rows_contiguously() -> None:
    bounds = chunk_bounds(1003, 20)
    assert bounds[0][0] == 0 and bounds[-1][1] == 1003
    assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:]))
    assert max(b - a for a, b in bounds) - min(b - a for a, b in bounds) <= 1


def test_a_chunk_is_never_compared_with_a_reference_containing_it() -> None:
    values = np.arange(1000)
    seen: list[tuple[int, int]] = []

    def evaluate(rest: np.ndarray, sample: np.ndarray) -> list[float]:
        assert len(np.intersect1d(rest, sample)) == 0
        assert len(rest) == 1000 - 50  # the whole chunk is left out, not just the sample
        seen.append((int(sample.min()) // 50, len(sample)))
        return [0.0]

    null = leave_one_chunk_out(values, lambda r: r, evaluate, n_chunks=20, draws=3, sample_size=20, seed=0)
    assert null.values.shape == (60, 1) and sorted({c for c, _ in seen}) == list(range(20))
    assert np.allclose(null.n_eff, effective_size(20, 950))


def test_leave_one_chunk_out_is_seeded_and_checks_its_sample_size() -> None:
    x = np.random.default_rng(0).normal(size=500)
    run = lambda seed: leave_one_chunk_out(x, np.sort, lambda r, s: [s.mean()], n_chunks=5, draws=2,  # noqa: E731
                                           sample_size=10, seed=seed).values
    np.testing.assert_array_equal(run(3), run(3))
    assert not np.array_equal(run(3), run(4))
    with pytest.raises(DriftloopError, match="'sample_size' parameter of leave_one_chunk_out"):
        leave_one_chunk_out(x, np.sort, lambda r, s: [0.0], n_chunks=5, draws=1, sample_size=101, seed=0)


def test_fit_null_recovers_a_scaled_chi_squared() -> None:
    rng = np.random.default_rng(0)
    z = 0.3 * rng.chisquare(7, size=20_000)
    model = fit_null(z / 50.0, np.full(z.size, 50.0), power=1.0)
    assert model.scale == pytest.approx(0.3, rel=0.05) and model.dof == pytest.approx(7, rel=0.05)
    zero = fit_null(np.zeros(10), np.full(10, 5.0), power=2.0)
    assert zero.scale == 0.0 and distance_threshold(zero, 100, 100, 0.01) == 0.0


def test_threshold_follows_the_size_law_and_the_tail_level() -> None:
    model = NullModel(scale=0.5, dof=9.0, z_max=1.0, power=2.0, n_draws=100)
    small, large = distance_threshold(model, 1_000, 10**6, 1e-3), distance_threshold(model, 100_000, 10**6, 1e-3)
    ratio = np.sqrt(effective_size(100_000, 10**6) / effective_size(1_000, 10**6))
    assert small / large == pytest.approx(ratio, rel=1e-12)
    assert distance_threshold(model, 1_000, 10**6, 1e-4) > small
    expected = np.sqrt(0.5 * ss.chi2.isf(1e-3, 9) / effective_size(1_000, 10**6))
    assert small == pytest.approx(expected, rel=1e-12)


def test_calibrated_thresholds_control_false_alarms_at_a_new_size() -> None:
    """Null measured at 200 rows, applied through the size law at 2,000: false alarm rate stays near the level."""
    rng = np.random.default_rng(7)
    reference = rng.normal(size=40_000)
    ks = lambda a, b: [ss.ks_2samp(a, b).statistic]  # noqa: E731
    null = leave_one_chunk_out(reference, np.sort, ks, n_chunks=20, draws=10, sample_size=200, seed=1)
    model = fit_null(null.values[:, 0], null.n_eff, power=2.0)
    threshold = distance_threshold(model, 2_000, len(reference), 0.05)
    alarms = sum(ss.ks_2samp(reference, rng.normal(size=2_000)).statistic > threshold for _ in range(200))
    assert alarms <= 25  # 5 % nominal, conservative: max(z) and a chi-squared tail fit to KS


def test_drift_thresholds_validation() -> None:
    assert DriftThresholds().validate() == DriftThresholds()
    for params, name in (({"alpha_distances": 0.0}, "alpha_distances"), ({"draws": 0}, "draws"),
                         ({"max_rows": 2.5}, "max_rows"), ({"seed": -1}, "seed")):
        with pytest.raises(DriftloopError, match=f"'{name}' parameter of DriftThresholds"):
            DriftThresholds(**params).validate()  # type: ignore[arg-type]


def test_random_splits_is_the_permutation_null_of_a_two_sample_statistic() -> None:
    """The difference of means between a random subset and the rest: its variance is the permutation variance
    s^2 N / (k (N - k)) (sampling without replacement), with no chunk and no size law involved."""
    values = np.random.default_rng(3).lognormal(size=600)
    statistic = lambda rest, sample: [sample.mean() - rest.mean()]  # noqa: E731
    null = random_splits(values, np.asarray, statistic, draws=4000, sample_size=150, seed=1)
    expected = values.var(ddof=1) * len(values) / (150 * 450)
    assert null.values.shape == (4000, 1) and null.sample_size == 150
    assert abs(null.values.var() / expected - 1.0) < 0.1
    again = random_splits(values, np.asarray, statistic, draws=4000, sample_size=150, seed=1)
    np.testing.assert_array_equal(null.values, again.values)
    with pytest.raises(DriftloopError, match="'sample_size' parameter of random_splits must be between 1 and half"):
        random_splits(values, np.asarray, statistic, draws=10, sample_size=301, seed=1)

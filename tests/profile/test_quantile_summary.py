"""The quantile summary above max_exact_size: its stated error bounds on KS and Wasserstein-1 hold."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as ss

from driftloop.profile import ReferenceProfile
from driftloop.profile.quantiles import ks_gap, quantile_summary, wasserstein_gap


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("m", [50, 500, 4000])
def test_bounds_hold_against_scipy(seed: int, m: int) -> None:
    rng = np.random.default_rng(seed)
    ref = np.sort(np.concatenate([rng.normal(size=20_000), rng.integers(0, 5, size=5_000).astype(float)]))
    summary = quantile_summary(ref, m)
    assert len(summary.values) == m and summary.n == len(ref)
    assert summary.ks_error <= 1 / (2 * m) + 1 / len(ref) + 1e-15
    assert summary.ks_error == pytest.approx(ss.ks_2samp(ref, summary.values).statistic, abs=1e-12)
    assert summary.wasserstein_error == pytest.approx(ss.wasserstein_distance(ref, summary.values), rel=1e-9)
    for shift in (0.0, 0.05, 0.5):
        win = rng.normal(shift, 1.0, size=3000)
        d_exact, d_summary = ss.ks_2samp(ref, win).statistic, ss.ks_2samp(summary.values, win).statistic
        assert abs(d_exact - d_summary) <= summary.ks_error + 1e-12
        w_exact, w_summary = ss.wasserstein_distance(ref, win), ss.wasserstein_distance(summary.values, win)
        assert abs(w_exact - w_summary) <= summary.wasserstein_error + 1e-12


def test_gaps_are_zero_for_identical_samples() -> None:
    x = np.sort(np.random.default_rng(0).normal(size=100))
    assert ks_gap(x, x) == 0.0 and wasserstein_gap(x, x) == 0.0
    assert quantile_summary(x, 1000).ks_error == 0.0


def test_profile_uses_the_summary_above_max_exact_size() -> None:
    rng = np.random.default_rng(1)
    ref = pd.DataFrame({"x": rng.normal(size=30_000)})
    win = pd.DataFrame({"x": rng.normal(0.1, 1.0, size=2_000)})
    exact = ReferenceProfile(numeric_statistics=("ks", "wasserstein_raw", "psi")).fit(ref)
    summarised = ReferenceProfile(numeric_statistics=("ks", "wasserstein_raw", "psi"), max_exact_size=1000).fit(ref)
    column = summarised.columns_["x"]
    assert not column.exact and len(column.values) == 1000 and column.n == 30_000
    a = exact.compare(win).set_index("statistic")
    b = summarised.compare(win).set_index("statistic")
    assert abs(a.loc["ks", "value"] - b.loc["ks", "value"]) <= column.ks_error
    assert abs(a.loc["wasserstein_raw", "value"] - b.loc["wasserstein_raw", "value"]) <= column.wasserstein_error
    assert a.loc["psi", "value"] == b.loc["psi", "value"]  # bins are always exact
    # the p-value uses the reference's true size, as scipy's asymptotic formula does
    assert b.loc["ks", "p_value"] == pytest.approx(ss.ks_2samp(ref.x, win.x, method="asymp").pvalue, rel=0.2)

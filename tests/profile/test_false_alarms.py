"""Acceptance: calibrated verdicts do not flag stable windows, and do flag shifted ones."""

from __future__ import annotations

import pandas as pd

from driftloop.profile import ReferenceProfile

from .conftest import make_frame


def flagged_columns(result: pd.DataFrame) -> set[str]:
    return set(result.loc[result.drifted.fillna(False).astype(bool), "column"])


def test_fifty_stable_windows_at_most_one_flagged(fitted_profile: ReferenceProfile) -> None:
    """50 seeded windows from the reference's distribution, 25 columns, all default statistics (95 rows each)."""
    sizes = [500, 2_000, 5_000, 20_000, 100]  # small, calibrated directly, and beyond a chunk (size law)
    flagged = []
    for i in range(50):
        result = fitted_profile.compare(make_frame(sizes[i % len(sizes)], seed=1000 + i))
        assert result.reason.isna().all() and len(result) == 95
        if columns := flagged_columns(result):
            flagged.append((i, sorted(columns)))
    assert len(flagged) <= 1, flagged


def test_shifted_windows_are_flagged(fitted_profile: ReferenceProfile) -> None:
    result = fitted_profile.compare(make_frame(5_000, seed=77, shift=0.15))
    numeric = result[result.column.str.startswith("num_")]
    assert flagged_columns(numeric) == {f"num_{j}" for j in range(20)}
    for statistic in ("ks", "wasserstein", "psi", "js"):
        # binned statistics do not see a shift smaller than a bin on integer-valued columns (num_3, num_7, ...)
        assert numeric.loc[numeric.statistic == statistic, "drifted"].sum() >= (20 if statistic in ("ks", "wasserstein") else 15), statistic


def test_a_category_shift_is_flagged(fitted_profile: ReferenceProfile) -> None:
    window = make_frame(5_000, seed=78)
    window.loc[: len(window) // 5, "cat_4"] = "L0"  # a fifth of the rows move to the rarest level
    result = fitted_profile.compare(window)
    assert flagged_columns(result) == {"cat_4"}
    assert result.loc[result.column == "cat_4", "drifted"].all()

"""A reference column held at one value: finite, round-off independent values, a reason, and exact verdicts."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from driftloop.profile import ReferenceProfile

JUDGED = ["value", "p_value", "threshold", "drifted"]


def held_at_0_3(n: int, seed: int) -> np.ndarray:
    """0.3 written by arithmetic: 0.1 * 3 (0.30000000000000004), 0.6 / 2 and 0.3 itself, mixed."""
    choices = np.array([0.1 * 3, 0.6 / 2, 0.3])
    return choices[np.random.default_rng(seed).integers(0, 3, size=n)]


def test_constant_reference_gives_the_same_answer_whatever_the_round_off() -> None:
    noisy_reference = pd.DataFrame({"c": held_at_0_3(2000, seed=0)})
    assert noisy_reference.c.std() > 0.0  # the std that made the normalised Wasserstein 4.1e15
    exact = ReferenceProfile().fit(pd.DataFrame({"c": np.full(2000, 0.3)}))
    noisy = ReferenceProfile().fit(noisy_reference)
    rng = np.random.default_rng(1)
    for departures in (0, 3, 40):
        away = rng.normal(0.5, 0.1, size=departures)
        for window in (np.r_[np.full(500 - departures, 0.3), away], np.r_[held_at_0_3(500 - departures, 2), away]):
            frame = pd.DataFrame({"c": window})
            results = [exact.compare(frame), noisy.compare(frame)]
            pd.testing.assert_frame_equal(results[0][JUDGED], results[1][JUDGED])
            result = results[1].set_index("statistic")
            # every value finite, so that it charts; Wasserstein-1 in the column's units: the mean distance from 0.3
            assert np.isfinite(result.value).all()
            assert np.isclose(result.loc["wasserstein", "value"], np.abs(window - 0.3).mean(), rtol=1e-9, atol=1e-15)
            assert "constant" in result.loc["wasserstein", "reason"]
            assert "units" in result.loc["wasserstein", "reason"]
            # the other rows were computed as usual: None, not the NaN pandas 3 made of it beside a reason
            assert [reason is None for reason in result.reason] == [True, False, True, True]
            # distance rows: Fisher's exact test of the departures (oracle: scipy's hypergeometric tail)
            fisher = stats.hypergeom.sf(departures - 1, 2500, departures, 500)
            distances = result.loc[["wasserstein", "psi", "js"]]
            assert np.allclose(distances.p_value, fisher, rtol=1e-9)
            assert (distances.drifted == (fisher <= distances.threshold)).all()
            assert distances.drifted.all() == (departures == 40)


def test_a_constant_column_keeps_its_answer_after_save_and_load(tmp_path) -> None:
    profile = ReferenceProfile().fit(pd.DataFrame({"c": held_at_0_3(1000, seed=3)}))
    window = pd.DataFrame({"c": np.r_[np.full(290, 0.3), np.full(10, 2.0)]})
    loaded = ReferenceProfile.load(profile.save(tmp_path / "profile"))
    pd.testing.assert_frame_equal(profile.compare(window), loaded.compare(window))


def test_a_column_with_one_reading_off_zero_has_a_finite_null_on_every_draw() -> None:
    """A calibration draw whose reference part happens to be constant is scaled by the column's spread, not inf."""
    x = np.zeros(2000)
    x[700] = 1.0
    profile = ReferenceProfile().fit(pd.DataFrame({"x": x}))
    for null in profile.nulls_["x"].values():
        assert np.isfinite(null.values).all()

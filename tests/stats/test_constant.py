"""Constancy up to round-off and Fisher's exact test of departures, against scipy's hypergeometric distribution."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from driftloop.stats import wasserstein_normalized
from driftloop.stats.constant import constant_value, departures_p_value, snap_sorted


@settings(max_examples=200, deadline=None)
@given(n_reference=st.integers(1, 3000), n_window=st.integers(1, 3000), data=st.data())
def test_departures_p_value_is_fishers_exact_test(n_reference: int, n_window: int, data: st.DataObject) -> None:
    k = data.draw(st.integers(0, n_window))
    expected = stats.hypergeom.sf(k - 1, n_reference + n_window, k, n_window)
    assert math.isclose(departures_p_value(n_reference, n_window, k), expected, rel_tol=1e-9, abs_tol=1e-300)


def test_a_value_held_through_round_off_is_one_value() -> None:
    noisy = np.sort(np.array([0.1 * 3, 0.3, 0.6 / 2, 0.3, 3 * 0.1]))
    assert np.std(noisy) > 0.0  # what made the normalised Wasserstein 4e15
    held = constant_value(noisy[0], noisy[-1])
    assert held is not None and abs(held - 0.3) < 1e-15
    assert constant_value(0.3, 0.3 + 1e-9) is None
    window = np.array([0.29999999999999993, 0.3, 0.30000000000000004, 0.31])
    assert snap_sorted(window, held) == 1 and window.tolist() == [held, held, held, 0.31]


def test_normalised_wasserstein_of_a_constant_reference_does_not_depend_on_round_off() -> None:
    exact, noisy = np.full(100, 0.3), np.sort(np.where(np.arange(100) % 3 == 0, 0.1 * 3, 0.3))
    for reference in (exact, noisy):
        assert wasserstein_normalized(reference, np.full(40, 0.3)) == 0.0
        assert wasserstein_normalized(reference, np.array([0.3, 0.1 * 3])) == 0.0
        assert wasserstein_normalized(reference, np.array([0.3, 0.5])) == math.inf

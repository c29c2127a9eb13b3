"""Bin edges read from sorted values equal numpy's inverted-CDF quantiles (the oracle)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from driftloop.profile.bins import quantile_edges


@settings(max_examples=300, deadline=None)
@given(values=st.lists(st.one_of(st.integers(-5, 5).map(float), st.floats(-1e6, 1e6, allow_subnormal=False)),
                       min_size=1, max_size=400),
       n_bins=st.integers(1, 40))
def test_quantile_edges_equal_numpys_inverted_cdf(values: list[float], n_bins: int) -> None:
    ordered = np.sort(np.asarray(values))
    expected = np.unique(np.quantile(ordered, np.linspace(0.0, 1.0, n_bins + 1), method="inverted_cdf"))
    np.testing.assert_array_equal(quantile_edges(ordered, n_bins), expected)

"""The report's distribution charts of a window show the counts its drift statistics were computed from: per
reference bin (numeric, underflow and overflow bins included) or per reference category (unseen slot last),
checked against counts made independently here (comparisons with the edges, ``collections.Counter``)."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from driftloop.data.windows import Window
from driftloop.monitor.engine import MonitorInputs, assess_window
from driftloop.profile import ReferenceProfile


def _oracle_bins(values: np.ndarray, edges: np.ndarray) -> list[int]:
    """Counts below the first edge, in [e_i, e_i+1) (the last bin closed), above the last edge; NaN left out."""
    x = values[~np.isnan(values)]
    if len(edges) == 1:
        return [int((x < edges[0]).sum()), int((x == edges[0]).sum()), int((x > edges[0]).sum())]
    inner = [int(((x >= low) & (x < high)).sum()) for low, high in zip(edges[:-2], edges[1:-1], strict=True)]
    inner.append(int(((x >= edges[-2]) & (x <= edges[-1])).sum()))
    return [int((x < edges[0]).sum()), *inner, int((x > edges[-1]).sum())]


def _shares(counts: list[int]) -> list[float]:
    total = sum(counts)
    return [c / total for c in counts]


@pytest.fixture(scope="module")
def profile() -> ReferenceProfile:
    rng = np.random.default_rng(0)
    reference = pd.DataFrame({"x": rng.normal(size=2000), "y": rng.poisson(3.0, size=2000).astype(float),
                              "city": rng.choice(["paris", "lyon", "nice"], size=2000)})
    return ReferenceProfile(n_jobs=1).fit(reference)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), shift=st.floats(-3.0, 3.0), missing=st.integers(0, 50))
def test_charts_show_the_counts_of_the_statistics(profile, seed, shift, missing):
    rng = np.random.default_rng(seed)
    n = 500
    x = rng.normal(shift, 1.0, size=n)
    x[:missing] = np.nan
    window = pd.DataFrame({"x": x, "y": rng.poisson(3.0 + abs(shift), size=n).astype(float),
                           "city": pd.Series(rng.choice(["paris", "lyon", "nice", "rome"], size=n), dtype="str")})
    inputs = MonitorInputs(profile, ["x", "y", "city"], None, top_distributions=3)
    result = assess_window(inputs, Window(0, pd.Timestamp(0, tz="UTC"), pd.Timestamp(1, tz="UTC"), window),
                           task=None)
    charts = {d.column: d for d in result.distributions}
    assert set(charts) == {"x", "y", "city"}
    psi = result.drift.set_index(["column", "statistic"])["value"]
    for name in ("x", "y"):
        column = profile.columns_[name]
        assert charts[name].window_share == pytest.approx(_shares(_oracle_bins(window[name].to_numpy(),
                                                                              column.edges)), abs=1e-15)
        assert charts[name].reference_share == pytest.approx(_shares(list(column.counts)), abs=1e-15)
        assert charts[name].value == psi[(name, "psi")]
    city = profile.columns_["city"]
    seen = Counter(window["city"])
    expected = [seen.get(c, 0) for c in city.categories] + [sum(v for k, v in seen.items() if k not in city.categories)]
    assert charts["city"].labels == [*map(str, city.categories), "(unseen)"]
    assert charts["city"].window_share == pytest.approx(_shares(expected), abs=1e-15)
    assert charts["city"].value == psi[("city", "psi")]

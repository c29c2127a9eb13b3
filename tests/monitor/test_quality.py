"""Data quality of a window (``quality_metrics``) against an oracle written cell by cell in plain Python: missing
cells (None, NaN), finite numbers outside the reference's [min, max] (NaN and infinities never counted),
categories the reference never saw (missing cells never counted)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from driftloop.monitor.quality import quality_metrics

NUMBERS = st.one_of(st.none(), st.sampled_from([np.nan, np.inf, -np.inf, -0.0]), st.floats(-5, 5))
TEXTS = st.one_of(st.none(), st.sampled_from(["a", "b", "c", "new", ""]))


@settings(max_examples=80, deadline=None)
@given(numbers=st.lists(NUMBERS, min_size=0, max_size=60), low=st.floats(-3, 0), width=st.floats(0, 3),
       texts_seed=st.integers(0, 2**32 - 1), as_str=st.booleans())
def test_quality_matches_a_cell_by_cell_count(numbers, low, width, texts_seed, as_str):
    rows = len(numbers)
    rng = np.random.default_rng(texts_seed)
    texts = [[None, "a", "b", "c", "new", ""][k] for k in rng.integers(0, 6, size=rows)]
    high = low + width
    window = pd.DataFrame({"x": pd.Series([np.nan if v is None else v for v in numbers], dtype="float64"),
                           "city": pd.Series(texts, dtype="str" if as_str else object)})
    metrics, _ = quality_metrics(window, ["x", "city"], ["x"], {"x": (low, high)}, {"city": {"a", "b", "c"}})
    if rows == 0:
        assert math.isnan(metrics["quality/x/missing_rate"])
        return
    x_missing = sum(1 for v in numbers if v is None or math.isnan(v))
    outside = sum(1 for v in numbers if v is not None and math.isfinite(v) and (v < low or v > high))
    city_missing = sum(1 for t in texts if t is None)
    unseen = sum(1 for t in texts if t is not None and t not in {"a", "b", "c"})
    assert metrics["quality/x/missing_rate"] == x_missing / rows
    assert metrics["quality/x/out_of_range"] == outside / rows
    assert metrics["quality/city/missing_rate"] == city_missing / rows
    assert metrics["quality/city/unseen"] == unseen / rows
    assert metrics["quality/missing_rate"] == pytest.approx((x_missing + city_missing) / (2 * rows), rel=1e-15)

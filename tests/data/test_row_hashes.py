"""``row_hashes`` equals pandas' ``hash_pandas_object(frame, index=False)`` (the oracle) for every column type a
window can hold: floats with NaN of any sign or payload, -0.0 and infinities, integers, booleans, date-times (with
and without a time zone, with NaT), text (pandas' ``str`` and object), categories, nullable integers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from driftloop.data.row_hashes import row_hashes
from driftloop.tracking.model_page import rows_digest

SPECIAL_FLOATS = [np.nan, -np.nan, np.inf, -np.inf, 0.0, -0.0,
                  np.array(0x7FF0000000000001, dtype=np.uint64).view(np.float64).item(),  # a NaN with a payload
                  np.array(0xFFF8000000000000, dtype=np.uint64).view(np.float64).item()]  # NaN with the sign set


def _column(kind: str, rng: np.random.Generator, n: int) -> pd.Series:
    if kind == "float":
        values = rng.normal(size=n)
        special = rng.random(n) < 0.3
        values[special] = rng.choice(np.array(SPECIAL_FLOATS), size=int(special.sum()))
        return pd.Series(values)
    if kind == "float32":
        return pd.Series(rng.normal(size=n).astype(np.float32))
    if kind == "int":
        return pd.Series(rng.integers(-(2**62), 2**62, size=n))
    if kind == "int32":
        return pd.Series(rng.integers(-1000, 1000, size=n).astype(np.int32))
    if kind == "uint":
        return pd.Series(rng.integers(0, 2**63, size=n).astype(np.uint64))
    if kind == "bool":
        return pd.Series(rng.random(n) < 0.5)
    if kind in ("time", "utc"):
        stamps = pd.Series(pd.to_datetime(rng.integers(0, 2**50, size=n)))
        stamps[rng.random(n) < 0.2] = pd.NaT
        return stamps.dt.tz_localize("UTC") if kind == "utc" else stamps
    if kind == "duration":
        return pd.Series(pd.to_timedelta(rng.integers(0, 10**12, size=n)))
    texts = rng.choice(np.array(["a", "b", "é", "", "long text"], dtype=object), size=n)
    texts[rng.random(n) < 0.2] = None
    if kind == "str":
        return pd.Series(texts, dtype="str")
    if kind == "object":
        return pd.Series(texts, dtype=object)
    if kind == "category":
        return pd.Series(texts, dtype="category")
    return pd.Series(pd.array([None if v is None else len(v) for v in texts], dtype="Int64"))  # nullable


KINDS = ["float", "float32", "int", "int32", "uint", "bool", "time", "utc", "duration", "str", "object", "category",
         "nullable"]


@settings(max_examples=60, deadline=None)
@given(kinds=st.lists(st.sampled_from(KINDS), min_size=0, max_size=8), rows=st.integers(0, 300),
       seed=st.integers(0, 2**32 - 1))
def test_row_hashes_equal_pandas(kinds, rows, seed):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({f"c{i}": _column(kind, rng, rows) for i, kind in enumerate(kinds)}, index=range(rows))
    expected = pd.util.hash_pandas_object(frame, index=False).to_numpy(np.uint64)
    np.testing.assert_array_equal(row_hashes(frame), expected)


def test_unhashable_cells_raise_as_in_pandas_and_the_digest_hashes_their_text():
    frame = pd.DataFrame({"x": [1.0, 2.0], "lists": [[1, 2], [3]]})
    with pytest.raises(TypeError):
        pd.util.hash_pandas_object(frame, index=False)
    with pytest.raises(TypeError):
        row_hashes(frame)
    assert rows_digest(frame) == rows_digest(frame.astype(str))
    assert rows_digest(frame) != rows_digest(frame.assign(lists=[[1, 2], [4]]))

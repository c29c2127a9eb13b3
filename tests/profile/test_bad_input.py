"""Bad windows: the row carries the reason, drifted is <NA>, and the rest of the window is still computed."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from driftloop.profile import ReferenceProfile


def fitted() -> ReferenceProfile:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=3000), "y": rng.normal(size=3000),
                          "c": pd.array(rng.choice(["a", "b", "c"], size=3000), dtype="str")})
    return ReferenceProfile().fit(frame)


def window(n: int = 400, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"x": rng.normal(size=n), "y": rng.normal(size=n),
                         "c": pd.array(rng.choice(["a", "b", "c"], size=n), dtype="str")})


def rows(result: pd.DataFrame, column: str) -> pd.DataFrame:
    return result[result.column == column]


def assert_rest_computed(result: pd.DataFrame, bad: str) -> None:
    rest = result[result.column != bad]
    # None, not NaN: a NaN reason was read as "not computed: nan" by the monitor (issue 12, item 2)
    assert all(reason is None for reason in rest.reason), rest.reason.tolist()
    assert rest.value.notna().all() and rest.drifted.notna().all()


def test_column_missing_from_the_window() -> None:
    result = fitted().compare(window().drop(columns=["y"]))
    y = rows(result, "y")
    assert (y.reason == "column 'y' is missing from the window").all()
    assert y.drifted.isna().all() and y.value.isna().all() and y.n.isna().all()
    assert_rest_computed(result, "y")


def test_strings_in_a_numeric_column() -> None:
    frame = window()
    frame["x"] = frame["x"].astype(object)
    frame.loc[5, "x"] = "oops"
    result = fitted().compare(frame)
    x = rows(result, "x")
    assert x.reason.str.contains("column 'x' must hold numbers").all()
    assert x.reason.str.contains("'oops'").all() and x.drifted.isna().all()
    assert_rest_computed(result, "x")
    as_text = window()
    as_text["x"] = as_text["x"].astype("str")
    assert rows(fitted().compare(as_text), "x").reason.str.contains("dtype str").all()


def test_all_null_columns() -> None:
    frame = window()
    frame["x"] = np.nan
    frame["c"] = pd.array([None] * len(frame), dtype="str")
    result = fitted().compare(frame)
    for name in ("x", "c"):
        part = rows(result, name)
        assert part.reason.str.contains(f"column '{name}' has no non-missing values").all()
        assert (part.n_missing == len(frame)).all() and part.drifted.isna().all()
    assert_rest_computed(result[result.column != "c"], "x")


def test_empty_window() -> None:
    result = fitted().compare(window().iloc[:0])
    assert result.reason.notna().all() and result.drifted.isna().all()


def test_missing_and_infinite_values_are_counted_apart_and_never_reach_a_statistic() -> None:
    profile = fitted()
    frame = window()
    clean = profile.compare(frame)
    dirty = pd.concat([frame, pd.DataFrame({"x": [np.nan, np.inf, -np.inf], "y": [1.0, 2.0, 3.0],
                                            "c": pd.array([None, "a", None], dtype="str")})], ignore_index=True)
    result = profile.compare(dirty)
    x = rows(result, "x")
    assert (x.n == len(frame)).all() and (x.n_missing == 3).all()
    assert np.allclose(x.value.to_numpy(), rows(clean, "x").value.to_numpy(), rtol=0, atol=0)
    assert (rows(result, "c").n_missing == 2).all()


def test_unseen_categories_are_counted_in_their_own_slot() -> None:
    profile = ReferenceProfile(categorical_statistics=("chi2", "psi", "js", "unseen_share")).fit(window(3000, 0))
    frame = window()
    frame.loc[:99, "c"] = "never-seen"
    result = rows(profile.compare(frame), "c").set_index("statistic")
    assert result.loc["unseen_share", "value"] == 100 / len(frame)
    assert result.drifted.all()


def test_nullable_and_arrow_integer_windows() -> None:
    profile = fitted()
    frame = window()
    table = pa.table({"x": pa.array([1, None, 3] * 50, type=pa.int64()), "y": frame["y"].to_numpy()[:150],
                      "c": pa.array(["a", "b", None] * 50)})
    result = profile.compare(table)
    assert (rows(result, "x").n_missing == 50).all() and rows(result, "x").reason.isna().all()
    nullable = pd.DataFrame({"x": pd.array([1, None, 2] * 50, dtype="Int64")})
    assert (rows(profile.compare(nullable), "x").n == 100).all()


def test_reason_is_none_where_a_row_was_computed_even_when_another_failed() -> None:
    """The documented ``None`` (not NaN): pandas 3 would infer the ``str`` dtype, whose missing value is NaN."""
    result = fitted().compare(window().drop(columns=["y"]))
    computed = result[result.column != "y"].reason
    assert computed.dtype == object and len(computed) > 0
    assert all(reason is None for reason in computed)
    assert all(isinstance(reason, str) for reason in rows(result, "y").reason)

"""Signature validation: typed arrays for valid columns, row/column/expected/received for invalid ones."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from driftloop.serve.errors import InvalidInput
from driftloop.serve.formats import MISSING
from driftloop.serve.validation import ColumnSpec, SignatureValidator, loggable_columns


def errors_of(validator: SignatureValidator, columns: dict, n: int) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        validator.validate(columns, n)
    return caught.value


def test_dtypes_follow_the_signature() -> None:
    validator = SignatureValidator([
        ColumnSpec("d", "double"), ColumnSpec("f", "float"), ColumnSpec("l", "long"), ColumnSpec("i", "integer"),
        ColumnSpec("b", "boolean"), ColumnSpec("s", "string"), ColumnSpec("t", "datetime"),
    ])
    arrays = validator.validate({"d": [1, 2.5], "f": [1.5, 2], "l": [2**62, 3.0], "i": [1, -2], "b": [True, False],
                                 "s": ["x", "y"], "t": ["2024-01-01T00:00:00", "2024-01-02"]}, 2)
    assert [str(arrays[k].dtype) for k in "dflibst"] == [
        "float64", "float32", "int64", "int32", "bool", "object", "datetime64[ns]"]
    assert arrays["l"].tolist() == [2**62, 3]


@pytest.mark.parametrize("spec, values, bad_row, received", [
    ("double", [1.0, "x"], 1, "'x' (string)"),
    ("double", [1.0, float("inf")], 1, "inf (number)"),
    ("double", [float("nan"), 1.0], 0, "nan (number)"),
    ("double", [True, 1.0], 0, "true (boolean)"),
    ("double", [1.0, None], 1, "null"),
    ("double", [1.0, [1]], 1, "[1] (array)"),
    ("float", [1e39, 1.0], 0, "1e+39 (number)"),
    ("long", [1, 1.5], 1, "1.5 (number)"),
    ("long", [1, 2**63], 1, f"{2**63} (number)"),
    ("integer", [2**31, 1], 0, f"{2**31} (number)"),
    ("boolean", [True, 1], 1, "1 (number)"),
    ("string", ["a", 1], 1, "1 (number)"),
    ("datetime", ["2024-01-01", "yesterday"], 1, "'yesterday' (string)"),
    ("double", [1.0, MISSING], 1, "no value (the key is missing)"),
])
def test_an_invalid_value_is_named(spec: str, values: list, bad_row: int, received: str) -> None:
    error = errors_of(SignatureValidator([ColumnSpec("c", spec)]), {"c": values}, len(values))
    assert (error.errors[0].row, error.errors[0].column, error.errors[0].received) == (bad_row, "c", received)
    assert error.rejected_rows == 1
    assert error.message.startswith(f"Row {bad_row}, column 'c': expected ")


def test_a_missing_column_and_counting_rejected_rows() -> None:
    validator = SignatureValidator([ColumnSpec("a", "double"), ColumnSpec("b", "double")])
    error = errors_of(validator, {"a": [1.0, 2.0, 3.0]}, 3)
    assert error.errors[0].row is None and error.errors[0].column == "b"
    assert "no such column" in error.errors[0].received and error.rejected_rows == 3
    error = errors_of(validator, {"a": ["x", 2.0, "y"], "b": [1.0, 2.0, math.inf]}, 3)
    assert error.rejected_rows == 2 and [e.row for e in error.errors] == [0, 2, 2]


def test_optional_columns_accept_nulls_and_absence() -> None:
    validator = SignatureValidator([ColumnSpec("a", "double", required=False), ColumnSpec("s", "string", False)])
    arrays = validator.validate({"a": [1.0, None, MISSING], "s": [None, "x", MISSING]}, 3)
    assert np.isnan(arrays["a"][1:]).all() and arrays["s"].tolist() == [None, "x", None]
    assert np.isnan(validator.validate({}, 2)["a"]).all()


def test_from_schema_reads_the_wine_signature() -> None:
    from mlflow.types import ColSpec, Schema, TensorSpec

    schema = Schema([ColSpec("double", "pH"), ColSpec("long", "n", required=False)])
    validator = SignatureValidator.from_schema(schema)
    assert validator is not None and [(c.name, c.type, c.required) for c in validator.columns] == [
        ("pH", "double", True), ("n", "long", False)]
    assert SignatureValidator.from_schema(Schema([TensorSpec(np.dtype("float64"), (-1, 3))])) is None
    assert SignatureValidator.from_schema(None) is None


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.floats(allow_nan=False, allow_infinity=False), st.integers(-(2**53), 2**53)),
                min_size=1, max_size=50))
def test_valid_numbers_pass_unchanged(values: list) -> None:
    array = SignatureValidator([ColumnSpec("x", "double")]).validate({"x": values}, len(values))["x"]
    assert array.tolist() == [float(v) for v in values]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(), min_size=1, max_size=30), st.data())
def test_every_non_finite_row_is_rejected(values: list, data: st.DataObject) -> None:
    bad = {i for i, v in enumerate(values) if not math.isfinite(v)}
    validator = SignatureValidator([ColumnSpec("x", "double")])
    if not bad:
        validator.validate({"x": values}, len(values))
        return
    error = errors_of(validator, {"x": values}, len(values))
    assert error.rejected_rows == len(bad) and {e.row for e in error.errors} <= bad


@pytest.mark.parametrize("spec, value", [("double", 10**400), ("float", -(10**400)), ("long", 10**400),
                                         ("integer", 10**40), ("double", [[[[[[1]]]]]])])
def test_numbers_past_every_range_are_named_not_crashed_on(spec: str, value: object) -> None:
    error = errors_of(SignatureValidator([ColumnSpec("c", spec)]), {"c": [1, value]}, 2)
    assert (error.errors[0].row, error.errors[0].column) == (1, "c") and error.rejected_rows == 1


def test_loggable_columns_hold_what_the_log_stores() -> None:
    arrays = loggable_columns({"a": [1, -(2**63), 2**63 - 1], "b": ["x", None, MISSING], "c": [True, 1.5, "y"]}, 3)
    assert arrays["a"].tolist() == [1, -(2**63), 2**63 - 1] and arrays["b"].tolist() == ["x", None, None]
    assert arrays["c"].dtype == object
    bad = {"a": [1, 2**63, 3], "b": [float("nan"), 1.0, 2.0], "c": ["x", "y", [1, 2]], "d": [{"k": 1}, 1, 1]}
    error = errors_of_log(bad, 3)
    assert [(e.row, e.column) for e in error.errors] == [(0, "b"), (0, "d"), (1, "a"), (2, "c")]
    assert error.rejected_rows == 3 and "64-bit integer" in error.errors[0].expected


def errors_of_log(columns: dict, n: int) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        loggable_columns(columns, n)
    return caught.value


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers() | st.floats() | st.text(max_size=3) | st.booleans() | st.none(), min_size=1,
                max_size=20))
def test_loggable_values_are_exactly_what_sqlite_binds(values: list) -> None:
    """Oracle: SQLite itself. A value passes if and only if SQLite stores it and reads it back unchanged."""
    import sqlite3

    connection = sqlite3.connect(":memory:")
    connection.execute("CREATE TABLE t (x)")

    def stored(value: object) -> bool:
        try:
            connection.execute("DELETE FROM t")
            connection.execute("INSERT INTO t VALUES (?)", (value,))
        except OverflowError:
            return False
        back = connection.execute("SELECT x FROM t").fetchone()[0]
        return back == value and (not isinstance(value, float) or math.isfinite(value))

    expected_bad = [row for row, value in enumerate(values) if not stored(value)]
    if expected_bad:
        assert sorted({e.row for e in errors_of_log({"x": values}, len(values)).errors}) == expected_bad[:20]
    else:
        assert loggable_columns({"x": values}, len(values))["x"].tolist() == values

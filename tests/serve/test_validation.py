"""Signature validation: typed arrays for valid columns, row/column/expected/received for invalid ones."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from driftloop.serve.errors import InvalidInput
from driftloop.serve.formats import MISSING
from driftloop.serve.validation import ColumnSpec, SignatureValidator


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

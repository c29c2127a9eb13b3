"""Checking a request's columns against the model signature, a whole column at a time.

Each column is checked with numpy over the batch: the set of Python types present is taken in C
(``set(map(type, values))``), the column is converted with one ``np.array`` call, and finiteness or range is one
vectorised test. Only a column that fails is walked value by value, to name its invalid rows. The arrays returned
have exactly the signature's dtypes, which is what MLflow's own schema enforcement would produce.

Rules, by signature type (a value is a JSON value):

========  ===============================================================  ==============
type      accepted                                                          numpy dtype
========  ===============================================================  ==============
double    a finite number                                                   float64
float     a finite number within float32's range                            float32
long      an integer (or a number with no fractional part)                  int64
integer   an integer within 32 bits (or a number with no fractional part)   int32
boolean   true or false                                                     bool
string    a string                                                          object
datetime  an ISO 8601 string                                                datetime64[ns]
========  ===============================================================  ==============

A required column must be present in every row, with a non-null value. An optional column (``required=False``) may
be absent or null: missing values become NaN (numbers; an optional integer column with a null becomes float64),
``None`` (strings, booleans) or NaT. Columns that the signature does not name are ignored, as MLflow does.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from driftloop.serve.errors import CellError, InvalidInput, describe
from driftloop.serve.formats import MISSING, listed

SUPPORTED_TYPES = ("double", "float", "long", "integer", "boolean", "string", "datetime")
_EXPECTED = {
    "double": "a finite number (double)",
    "float": "a finite number within float32 range (float)",
    "long": "an integer (long)",
    "integer": "a 32-bit integer (integer)",
    "boolean": "true or false (boolean)",
    "string": "a string (string)",
    "datetime": "an ISO 8601 date-time string (datetime)",
}
_INT_RANGE = {"long": (-(2**63), 2**63 - 1), "integer": (-(2**31), 2**31 - 1)}
_FLOAT32_MAX = float(np.finfo(np.float32).max)
_FLOAT64_MAX = int(np.finfo(np.float64).max)
_NULLS = (type(None), type(MISSING))


@dataclass(frozen=True)
class ColumnSpec:
    """One column of a signature: its name, its type (one of :data:`SUPPORTED_TYPES`), whether it is required."""

    name: str
    type: str
    required: bool = True


class SignatureValidator:
    """Validates columns of values against a column-based signature and returns typed numpy arrays.

    >>> validator = SignatureValidator([ColumnSpec("pH", "double"), ColumnSpec("n", "long")])
    >>> arrays = validator.validate({"pH": [3.2, 3], "n": [1, 2.0]}, 2)
    >>> arrays["pH"].dtype, arrays["n"].tolist()
    (dtype('float64'), [1, 2])
    >>> try:
    ...     validator.validate({"pH": [3.2, "x"], "n": [1, 2]}, 2)
    ... except InvalidInput as error:
    ...     print(error.message)
    Row 1, column 'pH': expected a finite number (double); received 'x' (string).
    """

    def __init__(self, columns: list[ColumnSpec]) -> None:
        for column in columns:
            if column.type not in SUPPORTED_TYPES:
                raise ValueError(f"column {column.name!r} has type {column.type!r}; supported: {SUPPORTED_TYPES}")
        self.columns = list(columns)
        self.names = [column.name for column in columns]

    @classmethod
    def from_schema(cls, schema: Any) -> SignatureValidator | None:
        """A validator for an MLflow input schema, or ``None`` when the schema is absent, tensor-based, unnamed or
        holds types other than scalars (the model's own schema enforcement then applies)."""
        if schema is None or getattr(schema, "is_tensor_spec", lambda: True)():
            return None
        columns = []
        for spec in schema.inputs:
            type_name = getattr(getattr(spec, "type", None), "name", None)
            if spec.name is None or type_name not in SUPPORTED_TYPES:
                return None
            columns.append(ColumnSpec(spec.name, type_name, bool(getattr(spec, "required", True))))
        return cls(columns) if columns else None

    def validate(self, columns: Mapping[str, list[Any]], n_rows: int) -> dict[str, np.ndarray]:
        """Check every column; return ``{name: array}`` in signature order, or raise :class:`InvalidInput` naming
        the invalid cells (row, column, expected, received) and counting every invalid row."""
        arrays: dict[str, np.ndarray] = {}
        bad_rows: list[np.ndarray] = []
        errors: list[CellError] = []
        for spec in self.columns:
            values = columns.get(spec.name)
            if values is None:
                if spec.required:
                    errors.append(CellError(None, spec.name, f"a column {spec.name!r}: {_EXPECTED[spec.type]}",
                                            f"no such column (columns given: {listed(columns) or 'none'})"))
                    bad_rows.append(np.arange(n_rows))
                    continue
                values = [None] * n_rows
            array, bad = _check(spec, values)
            if bad is None:
                arrays[spec.name] = array
                continue
            bad_rows.append(bad)
            for row in bad[:20].tolist():
                value = values[row]
                received = "no value (the key is missing)" if value is MISSING else describe(value)
                errors.append(CellError(row, spec.name, _EXPECTED[spec.type], received))
        if errors:
            errors.sort(key=lambda error: -1 if error.row is None else error.row)
            rejected = int(np.unique(np.concatenate(bad_rows)).size) if bad_rows else n_rows
            raise InvalidInput(errors, rejected_rows=rejected)
        return arrays


def _check(spec: ColumnSpec, values: list[Any]) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(array, None) when every value is valid, else (None, indices of the invalid rows)."""
    types = set(map(type, values))
    nullable = not spec.required
    has_nulls = bool(types & set(_NULLS))
    if has_nulls and not nullable:
        return None, _slow_bad(spec, values)
    kind = spec.type
    if kind in ("double", "float", "long", "integer"):
        if not types - {int, float, *(_NULLS if nullable else ())}:
            plain = [None if v is MISSING else v for v in values] if type(MISSING) in types else values
            try:
                as_float = np.array(plain, dtype=np.float64)  # None becomes NaN
            except (OverflowError, TypeError, ValueError):
                return None, _slow_bad(spec, values)
            null_mask = _null_mask(values) if has_nulls else None
            finite = np.isfinite(as_float)
            if kind in ("long", "integer"):
                low, high = _INT_RANGE[kind]
                with np.errstate(invalid="ignore"):
                    finite &= (as_float == np.trunc(as_float)) & (as_float >= low) & (as_float <= high)
            elif kind == "float":
                finite &= np.abs(as_float) <= _FLOAT32_MAX
            if null_mask is not None:
                finite |= null_mask
            if not finite.all():
                return None, np.flatnonzero(~finite)
            if kind == "double":
                return as_float, None
            if kind == "float":
                return as_float.astype(np.float32), None
            if null_mask is not None and null_mask.any():
                return as_float, None  # an optional integer column with nulls: float64 with NaN
            try:
                exact = as_float.astype(np.int64) if float in types else np.array(plain, dtype=np.int64)
            except OverflowError:  # an integer just past the range, hidden by float rounding
                return None, _slow_bad(spec, values)
            return (exact.astype(np.int32) if kind == "integer" else exact), None
        return None, _slow_bad(spec, values)
    if kind == "boolean":
        if not types - {bool, *(_NULLS if nullable else ())}:
            if has_nulls:
                return np.array([None if v is MISSING else v for v in values], dtype=object), None
            return np.array(values, dtype=bool), None
        return None, _slow_bad(spec, values)
    if kind == "string":
        if not types - {str, *(_NULLS if nullable else ())}:
            array = np.array(values, dtype=object)
            if has_nulls:
                array[_null_mask(values)] = None
            return array, None
        return None, _slow_bad(spec, values)
    # datetime
    if not types - {str, *(_NULLS if nullable else ())}:
        strings = [None if v is MISSING else v for v in values]
        parsed = pd.to_datetime(pd.Series(strings, dtype=object), errors="coerce", format="ISO8601", utc=True)
        invalid = parsed.isna().to_numpy()
        if has_nulls:
            invalid &= ~_null_mask(values)
        if invalid.any():
            return None, np.flatnonzero(invalid)
        return parsed.dt.tz_localize(None).to_numpy(dtype="datetime64[ns]"), None
    return None, _slow_bad(spec, values)


def _null_mask(values: list[Any]) -> np.ndarray:
    return np.fromiter((v is None or v is MISSING for v in values), dtype=bool, count=len(values))


def _valid(spec: ColumnSpec, value: Any) -> bool:
    if value is None or value is MISSING:
        return not spec.required
    kind = spec.type
    if kind in ("double", "float"):
        return _finite(value) and (kind == "double" or abs(value) <= _FLOAT32_MAX)
    if kind in ("long", "integer"):
        low, high = _INT_RANGE[kind]
        if type(value) is int:
            return low <= value <= high
        return type(value) is float and math.isfinite(value) and value.is_integer() and low <= value <= high
    if kind == "boolean":
        return type(value) is bool
    if kind == "string":
        return type(value) is str
    if type(value) is not str:
        return False
    try:
        pd.Timestamp(value)
    except (ValueError, TypeError):
        return False
    return True


def _finite(value: Any) -> bool:
    """Whether ``value`` is a JSON number that is a finite float64 (an integer past float64's range is not)."""
    if type(value) is int:
        return -_FLOAT64_MAX <= value <= _FLOAT64_MAX
    return type(value) is float and math.isfinite(value)


def _slow_bad(spec: ColumnSpec, values: list[Any]) -> np.ndarray:
    """The invalid rows of a column, value by value (only for a column known to hold an invalid value)."""
    return np.array([index for index, value in enumerate(values) if not _valid(spec, value)], dtype=np.int64)


LOGGABLE = "a string, a boolean, a 64-bit integer, a finite number or null (what the inference log stores)"


def fits_log(value: Any) -> bool:
    """Whether a JSON value fits a column of the inference log: a string, a boolean, an integer within 64 bits, a
    finite number, or null (SQLite refuses larger integers; the log stores one scalar per cell).

    >>> fits_log(2**63 - 1), fits_log(2**63), fits_log(float("nan")), fits_log([1]), fits_log("x")
    (True, False, False, False, True)
    """
    kind = type(value)
    if kind is str or kind is bool or value is None or value is MISSING:
        return True
    if kind is int:
        return _INT_RANGE["long"][0] <= value <= _INT_RANGE["long"][1]
    return kind is float and math.isfinite(value)


def loggable_columns(columns: Mapping[str, list[Any]], n_rows: int) -> dict[str, np.ndarray]:
    """The columns of a model without a column signature, checked to fit the inference log (:func:`fits_log`),
    as object arrays (an absent value becomes ``None``); :class:`InvalidInput` names the cells that do not fit.

    >>> loggable_columns({"x": [1, "a", None]}, 3)["x"].tolist()
    [1, 'a', None]
    """
    arrays: dict[str, np.ndarray] = {}
    errors: list[CellError] = []
    bad_rows: set[int] = set()
    for name, values in columns.items():
        bad = [row for row, value in enumerate(values) if not fits_log(value)]
        if bad:
            bad_rows.update(bad)
            errors.extend(CellError(row, name, LOGGABLE, describe(values[row])) for row in bad[:20])
            continue
        arrays[name] = np.fromiter((None if value is MISSING else value for value in values), dtype=object,
                                   count=n_rows)
    if errors:
        errors.sort(key=lambda error: error.row)
        raise InvalidInput(errors, rejected_rows=len(bad_rows))
    return arrays

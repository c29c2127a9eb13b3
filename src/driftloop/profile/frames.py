"""Reading the columns of a reference or a window: pandas DataFrame, pyarrow Table, or a Parquet file's path.

No copy of the whole frame is ever made: a numeric column is read as a float64 view where its storage allows
(numpy-backed float64 columns, single-chunk Arrow float64 without nulls), otherwise converted column by column.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from numpy.typing import NDArray
from pandas.api import types as ptypes

from driftloop.errors import DriftloopError, invalid_parameter

Frame = pd.DataFrame | pa.Table


def open_frame(data: Any, owner: str, columns: Sequence[str] | None = None) -> Frame:
    """Accept a DataFrame, an Arrow table or a Parquet path (reading only ``columns`` that the file has)."""
    if isinstance(data, (pd.DataFrame, pa.Table)):
        return data
    if isinstance(data, (str, os.PathLike)):
        path = Path(data)
        if not path.exists():
            raise invalid_parameter("frame", owner, "a DataFrame, an Arrow table or an existing Parquet file", str(path))
        try:
            names = pq.read_schema(path).names
            wanted = names if columns is None else [c for c in columns if c in names]
            return pq.read_table(path, columns=wanted)
        except (pa.ArrowInvalid, OSError) as exc:
            raise DriftloopError(f"The 'frame' parameter of {owner} must be a Parquet file; reading {str(path)!r} "
                                 f"failed: {exc}") from exc
    raise invalid_parameter(
        "frame", owner, "a pandas DataFrame, a pyarrow Table or a Parquet file's path", type(data).__name__
    )


def column_names(frame: Frame) -> list[str]:
    return [str(c) for c in frame.columns] if isinstance(frame, pd.DataFrame) else list(frame.column_names)


def n_rows(frame: Frame) -> int:
    return len(frame) if isinstance(frame, pd.DataFrame) else frame.num_rows


def get_column(frame: Frame, name: str) -> pd.Series | pa.ChunkedArray:
    return frame[name] if isinstance(frame, pd.DataFrame) else frame.column(name)


def is_numeric_column(column: pd.Series | pa.ChunkedArray) -> bool:
    """Numbers are numeric; booleans, strings, categories and everything else are categorical."""
    if isinstance(column, pa.ChunkedArray):
        t = column.type
        return pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t)
    dtype = column.dtype
    return ptypes.is_numeric_dtype(dtype) and not ptypes.is_bool_dtype(dtype)


def dtype_name(column: pd.Series | pa.ChunkedArray) -> str:
    return str(column.type) if isinstance(column, pa.ChunkedArray) else str(column.dtype)


def numeric_values(column: pd.Series | pa.ChunkedArray, name: str) -> tuple[NDArray[np.float64] | None, str | None]:
    """The column as float64 (missing values as NaN), or ``(None, reason)`` when it does not hold numbers."""
    if isinstance(column, pa.ChunkedArray):
        t = column.type
        if pa.types.is_null(t):
            return np.full(len(column), np.nan), None
        if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t) or pa.types.is_boolean(t):
            if pa.types.is_decimal(t) or pa.types.is_boolean(t):
                column = pc.cast(column, pa.float64())
            return np.asarray(column.to_numpy(), dtype=np.float64), None
        return None, _not_numbers(name, str(t), _first_string(column.drop_null().slice(0, 1).to_pylist()))
    if ptypes.is_numeric_dtype(column.dtype):
        return column.to_numpy(dtype=np.float64, na_value=np.nan), None
    if column.dtype == object:
        converted = pd.to_numeric(column, errors="coerce")
        bad = converted.isna() & column.notna()
        if not bad.any():
            return converted.to_numpy(dtype=np.float64, na_value=np.nan), None
        return None, _not_numbers(name, "object", column[bad].iloc[0])
    if column.isna().all():
        return np.full(len(column), np.nan), None
    return None, _not_numbers(name, str(column.dtype), column.dropna().iloc[0])


def _first_string(values: list[Any]) -> Any:
    return values[0] if values else None


def _not_numbers(name: str, dtype: str, example: Any) -> str:
    return f"column {name!r} must hold numbers (as in the reference); got dtype {dtype} with values such as {example!r}"


def python_value(value: Any) -> Any:
    """A category as a plain Python value (JSON-friendly): numpy scalars become int/float/bool/str."""
    return value.item() if isinstance(value, np.generic) else value


def category_counts(column: pd.Series | pa.ChunkedArray) -> tuple[list[Any], NDArray[np.int64], int]:
    """Distinct non-missing values, their counts, and the number of missing values."""
    if isinstance(column, pa.ChunkedArray):
        counted = pc.value_counts(column)
        values = counted.field("values").to_pylist()
        counts = counted.field("counts").to_numpy().astype(np.int64)
        keep = np.array([v is not None for v in values], dtype=bool)
        n_missing = int(counts[~keep].sum()) if (~keep).any() else 0
        return [v for v in values if v is not None], counts[keep], n_missing
    counted = column.value_counts(dropna=True, sort=False)
    counts = counted.to_numpy(dtype=np.int64)
    return [python_value(v) for v in counted.index], counts, int(len(column) - counts.sum())


def factorize(column: pd.Series | pa.ChunkedArray) -> tuple[NDArray[np.int64], list[Any]]:
    """Codes in row order (-1 for missing) and the distinct values, for fitting a categorical column."""
    series = column.to_pandas() if isinstance(column, pa.ChunkedArray) else column
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    return codes.astype(np.int64), [python_value(v) for v in uniques]

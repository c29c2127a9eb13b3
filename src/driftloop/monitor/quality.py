"""Data quality of one window against the model's signature and the reference profile."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from driftloop.data.coercion import TextNumbers, is_text_column, numbers_from_text


def read_text_numbers(window: pd.DataFrame, numeric_columns: Sequence[str]) -> dict[str, TextNumbers]:
    """The numeric columns of ``window`` that arrive as text (or objects), read with
    :func:`~driftloop.data.coercion.numbers_from_text`."""
    return {c: numbers_from_text(window[c]) for c in numeric_columns
            if c in window.columns and is_text_column(window[c])}


def _outside(numbers: np.ndarray, low: float, high: float) -> int:
    """Finite values outside ``[low, high]`` (finite bounds), without copying the finite values: a NaN is on
    neither side, an infinity on exactly one side (``-inf < low``, ``inf > high``), so the infinities are taken
    back from the two counts.

    >>> _outside(np.array([0.0, 5.0, -1.0, np.nan, np.inf, -np.inf, 2.0]), 0.0, 2.0)
    2
    """
    below, above = np.count_nonzero(numbers < low), np.count_nonzero(numbers > high)
    return int(below + above - np.count_nonzero(np.isinf(numbers)))


def quality_metrics(
    window: pd.DataFrame,
    expected_columns: Sequence[str],
    numeric_columns: Sequence[str],
    reference_ranges: dict[str, tuple[float, float]],
    reference_categories: dict[str, set[object]],
    ignored_columns: Sequence[str] = (),
    text_numbers: Mapping[str, TextNumbers] | None = None,
    unread_columns: Sequence[str] = (),
) -> tuple[dict[str, float], list[str]]:
    """Quality metrics of ``window`` (keys as in :mod:`driftloop.monitor.results`) and reasons for problems.

    - ``missing_rate``: NaN or None cells over the column's rows;
    - ``type_errors``: non-missing values of a numeric column that are not numbers (text that is not a decimal
      numeral, or one a float64 cannot hold unchanged: :mod:`driftloop.data.coercion`);
    - ``coerced_from_text``: values of a numeric column stored as text and read as numbers, losslessly;
    - ``out_of_range``: numeric values outside the reference's ``[min, max]``;
    - ``unseen``: categorical values absent from the reference's table.

    ``text_numbers`` are the numeric columns already read from text (:func:`read_text_numbers`); other numeric
    columns that arrive as text are read here. ``unread_columns`` are columns of the data that were not read into
    ``window`` (a dataset read window by window reads only the columns the monitor uses): they count as extra.
    """
    metrics: dict[str, float] = {}
    reasons: list[str] = []
    rows = len(window)
    missing_columns = [c for c in expected_columns if c not in window.columns]
    extra = [c for c in [*window.columns, *unread_columns] if c not in expected_columns and c not in ignored_columns]
    metrics["quality/missing_columns"] = float(len(missing_columns))
    metrics["quality/extra_columns"] = float(len(extra))
    if missing_columns:
        reasons.append(f"columns the model expects are missing: {', '.join(missing_columns)}")
    missing_cells = 0
    text_columns: list[str] = []
    present = [c for c in expected_columns if c in window.columns]
    for column in present:
        values = window[column]
        missing = values.isna().to_numpy()
        missing_count = int(np.count_nonzero(missing))
        missing_cells += missing_count
        metrics[f"quality/{column}/missing_rate"] = missing_count / rows if rows else float("nan")
        if column in numeric_columns:
            if not is_text_column(values):
                numbers = values.to_numpy(dtype="float64", na_value=np.nan)
                type_errors = converted = 0
            else:
                read = (text_numbers or {}).get(column) or numbers_from_text(values)
                numbers = read.values.to_numpy()
                type_errors, converted = read.wrong_type, read.converted
                metrics[f"quality/{column}/coerced_from_text"] = converted / rows if rows else float("nan")
                if converted:
                    text_columns.append(column)
            metrics[f"quality/{column}/type_errors"] = type_errors / rows if rows else float("nan")
            if type_errors:
                reasons.append(f"column {column!r}: {type_errors} value(s) are not numbers, such as {read.example!r}")
            if column in reference_ranges:
                metrics[f"quality/{column}/out_of_range"] = _outside(numbers, *reference_ranges[column]) / rows \
                    if rows else float("nan")
        elif column in reference_categories:
            known = reference_categories[column]
            unseen = int(np.count_nonzero(~values.isin(list(known)).to_numpy() & ~missing))
            metrics[f"quality/{column}/unseen"] = unseen / rows if rows else float("nan")
    if text_columns:
        reasons.append(f"numbers stored as text were read as numbers (losslessly) in {len(text_columns)} column(s): "
                       + ", ".join(text_columns))
    cells = rows * len(expected_columns)
    metrics["quality/missing_rate"] = (missing_cells + rows * len(missing_columns)) / cells if cells else float("nan")
    return metrics, reasons

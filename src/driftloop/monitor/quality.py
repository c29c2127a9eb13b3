"""Data quality of one window against the model's signature and the reference profile."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from pandas.api.types import is_bool_dtype, is_numeric_dtype


def quality_metrics(
    window: pd.DataFrame,
    expected_columns: Sequence[str],
    numeric_columns: Sequence[str],
    reference_ranges: dict[str, tuple[float, float]],
    reference_categories: dict[str, set[object]],
    ignored_columns: Sequence[str] = (),
) -> tuple[dict[str, float], list[str]]:
    """Quality metrics of ``window`` (keys as in :mod:`driftloop.monitor.results`) and reasons for problems.

    - ``missing_rate``: NaN or None cells over the column's rows;
    - ``type_errors``: non-missing values of a numeric column that do not parse as numbers;
    - ``out_of_range``: numeric values outside the reference's ``[min, max]``;
    - ``unseen``: categorical values absent from the reference's table.
    """
    metrics: dict[str, float] = {}
    reasons: list[str] = []
    rows = len(window)
    missing_columns = [c for c in expected_columns if c not in window.columns]
    extra = [c for c in window.columns if c not in expected_columns and c not in ignored_columns]
    metrics["quality/missing_columns"] = float(len(missing_columns))
    metrics["quality/extra_columns"] = float(len(extra))
    if missing_columns:
        reasons.append(f"columns the model expects are missing: {', '.join(missing_columns)}")
    missing_cells = 0
    present = [c for c in expected_columns if c in window.columns]
    for column in present:
        values = window[column]
        missing = values.isna()
        missing_cells += int(missing.sum())
        metrics[f"quality/{column}/missing_rate"] = float(missing.mean()) if rows else float("nan")
        if column in numeric_columns:
            if is_numeric_dtype(values.dtype) and not is_bool_dtype(values.dtype):
                numbers = values.to_numpy(dtype="float64", na_value=np.nan)
                type_errors = 0
            else:
                numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
                type_errors = int((np.isnan(numbers) & ~missing.to_numpy()).sum())
            metrics[f"quality/{column}/type_errors"] = type_errors / rows if rows else float("nan")
            if type_errors:
                reasons.append(f"column {column!r}: {type_errors} value(s) are not numbers")
            if column in reference_ranges:
                low, high = reference_ranges[column]
                finite = numbers[np.isfinite(numbers)]
                outside = int(((finite < low) | (finite > high)).sum())
                metrics[f"quality/{column}/out_of_range"] = outside / rows if rows else float("nan")
        elif column in reference_categories:
            known = reference_categories[column]
            observed = values[~missing]
            unseen = int((~observed.isin(list(known))).sum()) if len(observed) else 0
            metrics[f"quality/{column}/unseen"] = unseen / rows if rows else float("nan")
    cells = rows * len(expected_columns)
    metrics["quality/missing_rate"] = (missing_cells + rows * len(missing_columns)) / cells if cells else float("nan")
    return metrics, reasons

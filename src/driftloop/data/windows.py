"""Cutting data into monitoring windows, by time (``--window 1d``) or by row count (``--rows N``)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from driftloop.errors import DriftloopError


@dataclass(frozen=True)
class Window:
    """Rows ``frame`` of window ``index``, covering ``[start, end)`` (time windows) or rows ``[start, end)``
    (``by_rows``: a window cut by count without time stamps, its bounds written as nanoseconds after the epoch)."""

    index: int
    start: pd.Timestamp
    end: pd.Timestamp
    frame: pd.DataFrame
    by_rows: bool = False


def parse_window_length(text: str, option: str = "window") -> pd.Timedelta:
    """Parse ``--window`` (or another length ``option``): a fixed length such as ``1d``, ``7d``, ``12h``, ``1w``.

    >>> parse_window_length("1w")
    Timedelta('7 days 00:00:00')
    """
    normalised = text.strip().lower()
    if normalised.endswith("w") and normalised[:-1].isdigit():
        normalised = f"{int(normalised[:-1]) * 7}d"
    try:
        length = pd.Timedelta(normalised)
    except ValueError:
        length = pd.NaT
    if pd.isna(length) or length <= pd.Timedelta(0):
        raise DriftloopError(f"The {option!r} option must be a positive length such as 1d, 7d, 1w or 6h; got {text!r}.")
    return length


def parse_timestamps(frame: pd.DataFrame, column: str) -> pd.Series:
    """The timestamp column as UTC datetimes; a missing column or unparsable values are a clear error."""
    if column not in frame.columns:
        raise DriftloopError(
            f"The timestamp column {column!r} is not in the data; its columns are: {', '.join(map(str, frame.columns))}."
        )
    raw = frame[column]
    if isinstance(raw.dtype, pd.DatetimeTZDtype):
        parsed = raw.dt.tz_convert("UTC")
    else:
        parsed = pd.to_datetime(raw, utc=True, errors="coerce", format="mixed")
    bad = parsed.isna() & raw.notna()
    if bad.any():
        examples = ", ".join(repr(v) for v in raw[bad].head(3))
        raise DriftloopError(
            f"The timestamp column {column!r} has {int(bad.sum())} value(s) that are not dates or times "
            f"(e.g. {examples}); expected ISO 8601 such as 2011-10-01 or 2011-10-01T13:00:00Z."
        )
    if parsed.isna().any():
        raise DriftloopError(
            f"The timestamp column {column!r} has {int(parsed.isna().sum())} empty value(s); every row needs a time."
        )
    return parsed.dt.as_unit("ns")  # pandas 3 may infer microseconds; window arithmetic below is in nanoseconds


def time_windows(frame: pd.DataFrame, timestamps: pd.Series, length: pd.Timedelta) -> Iterator[Window]:
    """Windows of ``length`` aligned on the Unix epoch (so that re-runs cut the same windows), in time order.

    Periods without rows between the first and the last window are yielded as empty windows, not skipped.
    """
    if frame.empty:
        return
    length_ns = length.value
    codes = timestamps.dt.as_unit("ns").astype("int64").to_numpy() // length_ns  # pandas 3 may hold microseconds
    order = np.argsort(codes, kind="stable")
    sorted_codes = codes[order]
    first, last = int(sorted_codes[0]), int(sorted_codes[-1])
    bounds = np.searchsorted(sorted_codes, np.arange(first, last + 2))
    for position, code in enumerate(range(first, last + 1)):
        rows = order[bounds[position]: bounds[position + 1]]
        start = pd.Timestamp(code * length_ns, tz="UTC")
        yield Window(position, start, start + length, frame.iloc[rows])


def row_windows(frame: pd.DataFrame, rows: int, timestamps: pd.Series | None = None) -> Iterator[Window]:
    """Consecutive windows of ``rows`` rows (the last one may be shorter), in file order (or time order).

    Without timestamps, a window's start and end are its row offsets, written as nanoseconds after the epoch.
    """
    if rows <= 0:
        raise DriftloopError(f"The 'rows' option must be a positive row count; got {rows}.")
    if timestamps is not None:
        order = np.argsort(timestamps.to_numpy(), kind="stable")
        frame, timestamps = frame.iloc[order], timestamps.iloc[order]
    for index, offset in enumerate(range(0, len(frame), rows)):
        part = frame.iloc[offset: offset + rows]
        if timestamps is not None:
            times = timestamps.iloc[offset: offset + rows]
            start, end = times.iloc[0], times.iloc[-1] + pd.Timedelta(1, "ns")
        else:
            start = pd.Timestamp(offset, tz="UTC")
            end = pd.Timestamp(offset + len(part), tz="UTC")
        yield Window(index, start, end, part, by_rows=timestamps is None)

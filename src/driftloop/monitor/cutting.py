"""Cutting the monitor's input into windows: a table in memory, or a Parquet dataset read window by window.

A :class:`Cut` lists the windows before their rows are assessed (bounds, rows, labelled rows: what closing a window
needs) and reads their rows on demand, one window at a time (:meth:`Cut.read`). A table in memory is cut by
:mod:`driftloop.data.windows`; a Parquet file or folder is scanned with :mod:`driftloop.data.dataset` so that only
one window's needed columns are in memory at once (:func:`cut_dataset`); both give the same windows, rows and
figures for the same data.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import pandas as pd
import pyarrow.dataset as ds

from driftloop.data import dataset as parquet
from driftloop.data.dataset import WindowSpec
from driftloop.data.windows import Window, parse_timestamps, parse_window_length, row_windows, time_windows
from driftloop.errors import DriftloopError, NoRowsError

LABEL = "label"
PREDICTION = "prediction"


@dataclass(frozen=True)
class Cut:
    """This pass's windows, each with ``index`` = its ordinal since the epoch (time windows) or in the data (count
    windows); how they were cut; the watermark (latest time stamp, or row count without time stamps); ``reader``
    yields the rows of the windows asked for, in the order asked. ``unread_columns`` are the data's columns not read
    (a dataset read window by window reads only what the monitor uses)."""

    windows: list[WindowSpec]
    complete: list[bool]
    definition: str
    length: pd.Timedelta | None  # time windows
    by_rows: bool  # count windows without time stamps: ends are row offsets
    watermark: pd.Timestamp | None
    reader: Callable[[Sequence[WindowSpec]], Iterator[tuple[WindowSpec, pd.DataFrame]]]
    unread_columns: tuple[str, ...] = ()

    def read(self, windows: Sequence[WindowSpec]) -> Iterator[Window]:
        """The windows with their rows, one at a time (the previous one can be freed when the next is read)."""
        for spec, frame in self.reader(windows):
            yield Window(spec.index, spec.start, spec.end, frame, by_rows=spec.by_rows)


def _labelled(frame: pd.DataFrame) -> int | None:
    return int(frame[LABEL].notna().sum()) if LABEL in frame.columns else None


def _in_memory(windows: list[Window], **fields) -> Cut:
    """A cut of windows already in memory (their rows are looked up by the window's offset)."""
    specs, frames, offset = [], {}, 0
    for window in windows:
        specs.append(WindowSpec(window.index, window.start, window.end, len(window.frame), _labelled(window.frame),
                                offset, window.by_rows))
        frames[offset] = window.frame
        offset += len(window.frame) or 1  # an empty window gets a key of its own
    return Cut(specs, reader=lambda chosen: ((w, frames[w.first_row]) for w in chosen), **fields)


def timestamp_column(columns: Sequence[str], given: str | None) -> str | None:
    """The time column: the one given, else the inference log's own ``timestamp`` column when present."""
    if given is None and "timestamp" in columns:
        return "timestamp"
    return given


def cut_frame(frame: pd.DataFrame, time_column: str | None, window: str | None, rows: int | None) -> Cut:
    """Windows of a table in memory: ``rows`` rows each (in time order with ``time_column``), else ``window`` of
    ``time_column`` (default ``1d``; ``timestamp`` when the table has that column)."""
    if time_column is None and rows is None:
        time_column = timestamp_column(list(frame.columns), None)
    if rows is not None:
        stamps = parse_timestamps(frame, time_column) if time_column else None
        windows = list(row_windows(frame, rows, stamps))
        watermark = (stamps.max() if stamps is not None else pd.Timestamp(len(frame), tz="UTC")) if len(frame) else None
        order = f"time order of {time_column!r}" if stamps is not None else "file order"
        return _in_memory(windows, complete=[len(w.frame) == rows for w in windows],
                          definition=f"by count, {rows} rows in {order}", length=None, by_rows=stamps is None,
                          watermark=watermark)
    if time_column is None:
        raise DriftloopError("Give --timestamp-column (with --window) to cut windows by time, or --rows N.")
    stamps = parse_timestamps(frame, time_column)
    length = parse_window_length(window or "1d")
    windows = [Window(w.start.value // length.value, w.start, w.end, w.frame)
               for w in time_windows(frame, stamps, length)]
    watermark = stamps.max() if len(frame) else None
    return _in_memory(windows, complete=[watermark >= w.end for w in windows],
                      definition=f"by time, {length} of {time_column!r}", length=length, by_rows=False,
                      watermark=watermark)


def cut_dataset(
    data: ds.Dataset, features: Sequence[str], *, time_column: str | None, window: str | None, rows: int | None,
    target: str | None, notes: list[str],
) -> Cut | None:
    """Windows of a Parquet dataset, read one at a time with only the columns the monitor uses (the model's
    inputs, ``prediction``, the label or ``target``, the time column); ``None`` when its windows are not row ranges
    and cannot be read by a filter (count windows in time order over rows not stored in time order, or time
    windows over such rows whose time column is text), for the caller to read the data whole.

    Labels follow the in-memory rules of ``driftloop monitor``: ``target`` is read as the label; without it, a
    ``label`` column holding no value at all (a log that never received feedback) is not read, with a note."""
    names = list(data.schema.names)
    if data.count_rows() == 0:
        raise NoRowsError(f"The data has no rows (columns: {', '.join(names)}): nothing to monitor.")
    if time_column is None and rows is None:
        time_column = timestamp_column(names, None)
    if time_column is not None and time_column not in names:
        raise DriftloopError(f"The timestamp column {time_column!r} is not in the data; its columns are: "
                             f"{', '.join(names)}.")
    if target is not None and target not in names:
        raise DriftloopError(f"The target column {target!r} is not in the data; give --labels PATH for late labels.")
    label = target if target is not None else (LABEL if LABEL in names else None)
    if rows is not None:
        scan = parquet.scan_row_windows(data, rows, time_column, label)
        if not scan.in_time_order:
            return None
        complete = [w.rows == rows for w in scan.windows]
        order = f"time order of {time_column!r}" if time_column else "file order"
        definition, length = f"by count, {rows} rows in {order}", None
    else:
        if time_column is None:
            raise DriftloopError("Give --timestamp-column (with --window) to cut windows by time, or --rows N.")
        length = parse_window_length(window or "1d")
        scan = parquet.scan_time_windows(data, time_column, length, label)
        if not scan.in_time_order and not parquet.filterable(data, time_column):
            return None
        complete = [scan.watermark >= w.end for w in scan.windows]
        definition = f"by time, {length} of {time_column!r}"
    specs = scan.windows
    if target is None and label is not None and not any(w.labelled for w in specs):
        notes.append("the data holds no label at all: performance is not measured (send feedback, or give --labels)")
        label = None
        specs = [WindowSpec(w.index, w.start, w.end, w.rows, None, w.first_row, w.by_rows) for w in specs]
    wanted = {*features, PREDICTION, *([label] if label else []), *([time_column] if time_column else [])}
    if target is not None and target != LABEL:
        wanted.discard(LABEL)  # replaced by the target, as in memory
    columns = [c for c in names if c in wanted]

    def labelled(frames: Iterator[tuple[WindowSpec, pd.DataFrame]]) -> Iterator[tuple[WindowSpec, pd.DataFrame]]:
        for spec, frame in frames:
            yield spec, frame.rename(columns={label: LABEL}) if label is not None and label != LABEL else frame

    if scan.in_time_order:
        def reader(chosen):
            return labelled(parquet.read_row_ranges(data, columns, chosen))
    else:
        def reader(chosen):
            return labelled(parquet.read_time_filtered(data, columns, time_column, chosen))
    unread = tuple(c for c in names if c not in columns and c != target)
    return Cut(specs, complete, definition, length, time_column is None and rows is not None, scan.watermark,
               reader, unread)

"""Reading a Parquet dataset window by window (:mod:`driftloop.data.dataset`, :func:`driftloop.monitor.cutting.
cut_dataset`): the same windows, rows, row order and types as the in-memory cut of the same data, whatever the
files, row groups and row order; and bounded memory (Arrow's peak allocation stays near one window)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from driftloop.data.dataset import open_dataset
from driftloop.monitor.cutting import cut_dataset, cut_frame
from tests.conftest import REPO


def _frame(rows: int, seed: int, shuffled: bool) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    stamps = pd.Timestamp("2024-03-01", tz="UTC") + pd.to_timedelta(np.sort(rng.integers(0, 10 * 86_400, rows)), "s")
    frame = pd.DataFrame({
        "ts": stamps,
        "x": rng.normal(size=rows),
        "color": rng.choice(["red", "white", "rosé"], size=rows),
        "label": np.where(rng.random(rows) < 0.3, np.nan, rng.normal(size=rows)),
        "unused": rng.integers(0, 9, rows),
    })
    frame = frame.sample(frac=1.0, random_state=seed).reset_index(drop=True) if shuffled else frame
    frame.loc[0, "label"] = 1.0  # labels arrived (a label column without any value is not read: see cut_dataset)
    return frame


def _write(frame: pd.DataFrame, folder, rows_per_file: int, rows_per_group: int) -> None:
    ds.write_dataset(pa.Table.from_pandas(frame, preserve_index=False), folder, format="parquet",
                     max_rows_per_file=rows_per_file, max_rows_per_group=min(rows_per_group, rows_per_file),
                     min_rows_per_group=1, basename_template="part-{i}.parquet")


def _windows(cut):
    return [(w.index, w.start, w.end, w.frame.reset_index(drop=True)) for w in cut.read(cut.windows)]


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.integers(1, 700), seed=st.integers(0, 10**6), shuffled=st.booleans(),
       per_file=st.integers(1, 400), per_group=st.integers(1, 90), by_rows=st.one_of(st.none(), st.integers(1, 250)))
def test_dataset_windows_equal_in_memory_windows(tmp_path_factory, rows, seed, shuffled, per_file, per_group, by_rows):
    frame = _frame(rows, seed, shuffled)
    folder = tmp_path_factory.mktemp("data")
    _write(frame, folder, per_file, per_group)
    notes: list[str] = []
    streamed = cut_dataset(open_dataset(folder), ["x", "color"], time_column="ts", window="1d", rows=by_rows,
                           target=None, notes=notes)
    read = pd.read_parquet(folder)  # files in path order: part-10 before part-2
    whole = cut_frame(read, "ts", "1d", by_rows)
    if by_rows is not None and not read["ts"].is_monotonic_increasing:
        assert streamed is None  # count windows in time order are not row ranges: the caller reads the data whole
        return
    assert streamed is not None
    assert (streamed.definition, streamed.length, streamed.by_rows, streamed.watermark, streamed.complete) == \
           (whole.definition, whole.length, whole.by_rows, whole.watermark, whole.complete)
    assert [(w.index, w.start, w.end, w.rows, w.labelled) for w in streamed.windows] == \
           [(w.index, w.start, w.end, w.rows, w.labelled) for w in whole.windows]
    assert streamed.unread_columns == ("unused",)
    for (index, start, end, rows_read), (*expected, frame_whole) in zip(
            [(i, s, e, f) for i, s, e, f in _windows(streamed)], _windows(whole), strict=True):
        assert [index, start, end] == expected
        pd.testing.assert_frame_equal(rows_read, frame_whole.drop(columns=["unused"]))


def test_count_windows_in_time_order_over_shuffled_rows_are_not_row_ranges(tmp_path):
    _write(_frame(300, 1, shuffled=True), tmp_path, 100, 30)
    cut = cut_dataset(open_dataset(tmp_path), ["x"], time_column="ts", window=None, rows=50, target=None, notes=[])
    assert cut is None  # the caller reads the data whole


def test_a_missing_time_or_target_column_is_named(tmp_path):
    from driftloop.errors import DriftloopError

    _write(_frame(50, 2, shuffled=False), tmp_path, 100, 30)
    with pytest.raises(DriftloopError, match="The timestamp column 'when' is not in the data; its columns are: ts"):
        cut_dataset(open_dataset(tmp_path), ["x"], time_column="when", window="1d", rows=None, target=None, notes=[])
    with pytest.raises(DriftloopError, match="The target column 'y' is not in the data"):
        cut_dataset(open_dataset(tmp_path), ["x"], time_column="ts", window="1d", rows=None, target="y", notes=[])


@pytest.mark.parametrize("shuffled", [False, True], ids=["time-ordered", "shuffled"])
def test_reading_window_by_window_holds_about_one_window(tmp_path, shuffled):
    """3.2M rows x 8 columns of 8 bytes (205 MB) in 16 files, 64 windows of 50k rows: in a fresh process, Arrow's
    peak allocation while every window is read stays below three quarters of the two needed columns read whole
    (51 MB): one window, one file's needed columns and the read-ahead batches, whatever the number of files. (The
    peak depends on how far Arrow's reader threads get ahead: 15-22 MB on a quiet machine, 26 MB seen under load.)"""
    rows = 3_200_000
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({f"c{i}": rng.normal(size=rows) for i in range(6)})
    start = pd.Timestamp(1_700_000_000 // 50_000 * 50_000, unit="s")  # on a window boundary: 64 full windows
    frame.insert(0, "ts", start + pd.to_timedelta(np.arange(rows) * 1000, "ms"))
    frame["x"] = rng.normal(size=rows)
    if shuffled:
        frame = frame.sample(frac=1.0, random_state=0)
    ds.write_dataset(pa.Table.from_pandas(frame, preserve_index=False), tmp_path, format="parquet",
                     max_rows_per_file=200_000, max_rows_per_group=50_000, basename_template="p-{i}.parquet")
    script = textwrap.dedent(f"""
        import pyarrow as pa
        from driftloop.data.dataset import open_dataset
        from driftloop.monitor.cutting import cut_dataset
        cut = cut_dataset(open_dataset(r"{tmp_path}"), ["x"], time_column="ts", window="50000s", rows=None,
                          target=None, notes=[])
        sizes = [len(window.frame) for window in cut.read(cut.windows)]
        assert sum(sizes) == {rows} and len(sizes) == 64, sizes
        print(pa.default_memory_pool().max_memory())
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False,
                            env={"PYTHONPATH": str(REPO / "src"), "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
    peak = int(result.stdout.split()[-1])
    assert peak < rows * 16 * 3 / 4, peak

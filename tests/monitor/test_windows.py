import pandas as pd
import pytest

from driftloop.data.readers import read_table
from driftloop.data.windows import parse_timestamps, parse_window_length, row_windows, time_windows
from driftloop.errors import DriftloopError


def test_time_windows_cover_every_row_once_and_keep_empty_periods():
    stamps = pd.Series(pd.to_datetime(["2024-01-01 10:00", "2024-01-01 23:00", "2024-01-04 01:00"], utc=True))
    frame = pd.DataFrame({"x": [1, 2, 3]})
    windows = list(time_windows(frame, stamps.dt.as_unit("ns"), pd.Timedelta("1d")))
    assert [w.frame["x"].tolist() for w in windows] == [[1, 2], [], [], [3]]
    assert windows[0].start == pd.Timestamp("2024-01-01", tz="UTC")
    assert windows[-1].end == pd.Timestamp("2024-01-05", tz="UTC")
    assert [w.index for w in windows] == [0, 1, 2, 3]


def test_microsecond_timestamps_from_pandas_3_are_windowed_in_nanoseconds():
    frame = pd.DataFrame({"ts": ["2024-01-01T00:00:00", "2024-01-08T00:00:00"]})
    stamps = parse_timestamps(frame, "ts")
    windows = list(time_windows(frame, stamps, parse_window_length("1w")))
    assert windows[0].start.year == 2023  # aligned on the epoch (a Thursday), not on 1970 by a unit mix-up
    assert sum(len(w.frame) for w in windows) == 2


def test_row_windows_split_in_order_with_a_short_last_window():
    frame = pd.DataFrame({"x": range(10)})
    windows = list(row_windows(frame, 4))
    assert [len(w.frame) for w in windows] == [4, 4, 2]
    assert windows[1].start == pd.Timestamp(4, tz="UTC") and windows[1].end == pd.Timestamp(8, tz="UTC")


@pytest.mark.parametrize("text", ["0d", "-1d", "soon", ""])
def test_bad_window_lengths_are_refused(text):
    with pytest.raises(DriftloopError, match="'window' option must be a positive length"):
        parse_window_length(text)


def test_missing_and_unparsable_timestamps_name_the_column():
    frame = pd.DataFrame({"ts": ["2024-01-01", "yesterday", None]})
    with pytest.raises(DriftloopError, match="'when' is not in the data"):
        parse_timestamps(frame, "when")
    with pytest.raises(DriftloopError, match=r"column 'ts' has 1 value\(s\) that are not dates.*'yesterday'"):
        parse_timestamps(frame, "ts")


def test_read_table_refuses_missing_and_unknown_files(tmp_path):
    with pytest.raises(DriftloopError, match="does not exist"):
        read_table(tmp_path / "nope.csv")
    (tmp_path / "data.xlsx").write_text("x")
    with pytest.raises(DriftloopError, match="must be a .csv file"):
        read_table(tmp_path / "data.xlsx")
    (tmp_path / "semi.csv").write_text("a;b\n1;2\n")
    assert read_table(tmp_path / "semi.csv").columns.tolist() == ["a", "b"]

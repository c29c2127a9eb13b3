"""``driftloop monitor`` on a Parquet dataset read window by window (:mod:`driftloop.data.dataset`) gives the figures
it gives on the same rows read whole from CSV: time windows over rows stored in time order (one sequential pass) and
shuffled (a filter on the time column per window), count windows in file order, and count windows in time order
over shuffled rows (read whole, with a note). Real MLflow on SQLite, the real wine model, the real CLI."""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pyarrow.dataset as ds
import pytest
from mlflow import MlflowClient

from tests.conftest import copy_store
from tests.monitor.test_late_data import _monitor, _red, _runs, _series


@pytest.fixture
def wine_store(trained_wine_store, workdir):
    return copy_store(trained_wine_store, workdir)


def _write_parquet(frame, folder, rows_per_file: int = 500, rows_per_group: int = 128) -> None:
    """Several files with small row groups, so that windows straddle files and batches."""
    ds.write_dataset(pa.Table.from_pandas(frame, preserve_index=False), folder, format="parquet",
                     max_rows_per_file=rows_per_file, max_rows_per_group=rows_per_group,
                     min_rows_per_group=rows_per_group // 2, basename_template="part-{i}.parquet")


def _same_series(uri: str, first: str, second: str) -> None:
    client = MlflowClient(uri)
    (a, _), (b, _) = _runs(client, first), _runs(client, second)
    left, right = _series(client, a), _series(client, b)
    assert left.keys() == right.keys()
    for key in left:
        assert left[key].keys() == right[key].keys(), key
        for step, value in left[key].items():
            other = right[key][step]
            assert (math.isnan(value) and math.isnan(other)) or value == pytest.approx(other, rel=1e-12, abs=0), \
                (key, step, value, other)


def _data(shuffled: bool):
    red = _red()
    red["ts"] = np.array(red["ts"], dtype="datetime64[ns]")
    return red.sample(frac=1.0, random_state=3).reset_index(drop=True) if shuffled else red


@pytest.mark.parametrize("shuffled", [False, True], ids=["time-ordered", "shuffled"])
def test_time_windows_over_parquet_equal_csv(wine_store, workdir, shuffled):
    red = _data(shuffled)
    red.to_csv(workdir / "red.csv", index=False)
    _write_parquet(red, workdir / "red")
    for path, experiment in ((workdir / "red.csv", "csv"), (workdir / "red", "parquet")):
        result = _monitor(wine_store, "--data", str(path), "--timestamp-column", "ts", "--window", "7d",
                          "--target", "quality", "--experiment", experiment)
        assert result.exit_code in (0, 3), result.output
        assert "read whole" not in result.output
    _same_series(wine_store, "csv", "parquet")


def test_count_windows_over_parquet_equal_csv(wine_store, workdir):
    red = _data(shuffled=False).drop(columns=["ts"])
    red.to_csv(workdir / "red.csv", index=False)
    _write_parquet(red, workdir / "red", rows_per_file=300, rows_per_group=64)
    for path, experiment in ((workdir / "red.csv", "csv"), (workdir / "red", "parquet")):
        result = _monitor(wine_store, "--data", str(path), "--rows", "400", "--target", "quality",
                          "--experiment", experiment)
        assert result.exit_code in (0, 3), result.output
    _same_series(wine_store, "csv", "parquet")


def test_count_windows_in_time_order_over_shuffled_parquet_are_read_whole(wine_store, workdir):
    red = _data(shuffled=True)
    red.to_csv(workdir / "red.csv", index=False)
    _write_parquet(red, workdir / "red")
    outputs = []
    for path, experiment in ((workdir / "red.csv", "csv"), (workdir / "red", "parquet")):
        result = _monitor(wine_store, "--data", str(path), "--rows", "400", "--timestamp-column", "ts",
                          "--target", "quality", "--experiment", experiment)
        assert result.exit_code in (0, 3), result.output
        outputs.append(result.output)
    assert "read whole" in outputs[1]
    _same_series(wine_store, "csv", "parquet")

"""``monitor --engine spark --naive-lag 1d --naive-series station`` gives the numpy engine's seasonal naive
benchmark (``performance/naive_mae``, ``relative_mae``, ``naive_rows``): each row against the label of its station
one day earlier, from any window, rows without one left out; ambiguous labels are refused by both engines."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
from click.testing import CliRunner
from mlflow import MlflowClient
from sklearn.linear_model import LinearRegression

from driftloop.cli.main import cli
from tests.conftest import register_champion
from tests.monitor.test_late_data import _chart
from tests.spark.test_log_export import _cli
from tests.spark.test_spark_monitor import NUMPY_ONLY, assert_same_figures

FEATURES = ["temp (°C)", "hour"]


def _stations(workdir) -> tuple[str, pd.DataFrame]:
    """Hourly rows of two stations over 5 days (a daily cycle the naive forecast knows), labels with gaps."""
    rng = np.random.default_rng(9)
    hours = pd.date_range("2024-06-01", periods=24 * 5, freq="h", tz="UTC")
    frame = pd.concat([pd.DataFrame({"station": name, "ts": hours, "hour": hours.hour.astype("float64"),
                                     "temp (°C)": rng.normal(18, 4, len(hours))}) for name in ("north", "south")],
                      ignore_index=True)
    frame["y"] = 10 * np.sin(frame["hour"] / 24 * 2 * np.pi) + 0.3 * frame["temp (°C)"] + rng.normal(0, 1, len(frame))
    model = LinearRegression().fit(frame[FEATURES], frame["y"])
    uri = f"sqlite:///{workdir / 'mlflow.db'}"
    register_champion(uri, "st", model, frame[FEATURES])
    frame[FEATURES].to_csv(workdir / "reference.csv", index=False)
    _cli("profile", "--model", "st@champion", "--data", str(workdir / "reference.csv"), "--multivariate", "none",
         "--tracking-uri", uri)
    frame.loc[rng.random(len(frame)) < 0.15, "y"] = np.nan
    frame["ts"] = frame["ts"].dt.tz_localize(None).astype("datetime64[ns]")
    return uri, frame.sample(frac=1.0, random_state=2).reset_index(drop=True)  # rows not in time order


def _write(frame: pd.DataFrame, folder) -> str:
    ds.write_dataset(pa.Table.from_pandas(frame, preserve_index=False), folder, format="parquet",
                     max_rows_per_file=70, max_rows_per_group=70)
    return str(folder)


def test_seasonal_naive_benchmark_in_spark_equals_the_numpy_engines(spark, workdir):
    uri, frame = _stations(workdir)
    data = _write(frame, workdir / "data")
    for engine in ("numpy", "spark"):
        _cli("monitor", "--model", "st@champion", "--data", data, "--timestamp-column", "ts", "--window", "1d",
             "--target", "y", "--naive-lag", "1d", "--naive-series", "station", "--experiment", engine,
             "--engine", engine, "--tracking-uri", uri)
    client = MlflowClient(uri)
    expected, got = _chart(client, "numpy"), _chart(client, "spark")
    assert {k for k in expected if k not in got} <= {k for k in expected if k.startswith(NUMPY_ONLY)}
    assert set(got) <= set(expected)
    assert {"performance/naive_mae", "performance/relative_mae", "performance/naive_rows"} <= set(got)
    assert 0 not in got["performance/naive_mae"]  # the first day has no day before it
    assert got["performance/naive_rows"][0] == 0 and all(got["performance/naive_rows"][step] > 0 for step in (1, 2, 3))
    assert_same_figures(got, expected)


def test_ambiguous_labels_are_refused_by_both_engines(spark, workdir):
    uri, frame = _stations(workdir)
    data = _write(frame, workdir / "data")
    for engine in ("numpy", "spark"):  # without --naive-series, north and south share their time stamps
        result = CliRunner().invoke(cli, ["monitor", "--model", "st@champion", "--data", data, "--timestamp-column",
                                          "ts", "--window", "1d", "--target", "y", "--naive-lag", "1d", "--engine",
                                          engine, "--tracking-uri", uri])
        assert result.exit_code == 1 and "Traceback" not in result.output, result.output
        assert "The seasonal naive forecast needs one label per time stamp;" in result.output, result.output
        assert "Name the columns that tell the series apart (--naive-series)" in " ".join(result.output.split())

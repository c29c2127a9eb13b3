"""Count windows (``--rows N``) in the Spark engine (``local[2]``): the numpy engine's windows — the files in the
order pyarrow lists them (``part-10`` before ``part-2``), then each file's rows — with the same figures, steps and
timestamps, in file order and in time order (rows stored in time order or not, ties in file order)."""

from __future__ import annotations


import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pytest
from click.testing import CliRunner
from mlflow import MlflowClient
from sklearn.linear_model import LinearRegression
from sklearn.metrics import mean_absolute_error

from driftloop.cli.main import cli
from tests.conftest import register_champion
from tests.monitor.test_late_data import _runs, _series
from tests.spark.test_spark_monitor import assert_same_figures

COLUMNS = ["temp (°C)", "wind.speed", "rank`x", "a b"]
ROWS = 137


def _store(workdir, rng):
    frame = pd.DataFrame(rng.normal(size=(2600, len(COLUMNS))), columns=COLUMNS)
    frame["y"] = frame.sum(axis=1) + rng.normal(size=len(frame))
    model = LinearRegression().fit(frame[COLUMNS].iloc[:600], frame["y"].iloc[:600])
    uri = f"sqlite:///{workdir / 'mlflow.db'}"
    register_champion(uri, "counted", model, frame[COLUMNS])
    frame.iloc[:600].to_csv(workdir / "reference.csv", index=False)
    profiled = CliRunner().invoke(cli, ["profile", "--model", "counted@champion", "--data", "reference.csv",
                                        "--multivariate", "none", "--tracking-uri", uri])
    assert profiled.exit_code == 0, profiled.output
    production = frame.iloc[600:].reset_index(drop=True)
    production.loc[1200:, "wind.speed"] += 1.0  # drift late in the files' order
    production["ts"] = (pd.Timestamp("2024-01-01") + pd.to_timedelta(np.arange(len(production)) * 3, "min")
                        ).astype("datetime64[ns]")
    return uri, model, production


def _monitor(uri, folder, experiment, *args):
    for engine in ("numpy", "spark"):
        result = CliRunner().invoke(cli, ["monitor", "--model", "counted@champion", "--data", str(folder),
                                          "--rows", str(ROWS), "--target", "y", "--engine", engine,
                                          "--experiment", f"{experiment}-{engine}", "--tracking-uri", uri, *args])
        assert result.exit_code in (0, 3), result.output
    client = MlflowClient(uri)
    runs = [_runs(client, f"{experiment}-{engine}")[0] for engine in ("numpy", "spark")]
    expected, got = (_series(client, run) for run in runs)
    assert got.keys() == expected.keys()
    assert_same_figures(got, expected)
    for key in ("rows", "performance/mae"):  # the same steps and timestamps (window ends)
        times = [{p.step: p.timestamp for p in client.get_metric_history(run.info.run_id, key)} for run in runs]
        assert times[0] == times[1]
    return got


def test_count_windows_in_file_order_and_time_order_are_the_numpy_engines(spark, workdir):
    rng = np.random.default_rng(11)
    uri, model, production = _store(workdir, rng)
    folder = workdir / "production"
    ds.write_dataset(pa.Table.from_pandas(production, preserve_index=False), folder, format="parquet",
                     max_rows_per_file=160, max_rows_per_group=160, basename_template="part-{i}.parquet")
    files = sorted(str(p) for p in folder.glob("*.parquet"))
    assert files[1].endswith("part-1.parquet") and files[2].endswith("part-10.parquet")  # not the rows' time order
    ordered = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)  # the rows in pyarrow's order
    got = _monitor(uri, folder, "file-order")
    assert max(got["drift/features_drifted"].values()) >= 1
    for step in got["rows"]:
        rows = ordered.iloc[step * ROWS:(step + 1) * ROWS]
        assert got["rows"][step] == len(rows)
        mae = mean_absolute_error(rows["y"], model.predict(rows[COLUMNS]))
        assert got["performance/mae"][step] == pytest.approx(mae, rel=1e-9)
    in_time = workdir / "in-time"  # files named in time order, so that the rows are stored in time order
    in_time.mkdir()
    for i, start in enumerate(range(0, len(production), 160)):
        production.iloc[start:start + 160].to_parquet(in_time / f"part-{i:02d}.parquet", index=False)
    by_time = _monitor(uri, in_time, "time-order", "--timestamp-column", "ts")
    assert by_time["rows"] == got["rows"] and by_time["performance/mae"] != got["performance/mae"]


def test_count_windows_in_time_order_over_rows_stored_out_of_order_are_the_numpy_engines(spark, workdir):
    """The rows shuffled over the files, times repeated (ties kept in file order): windows of the rows sorted by
    time, as the numpy engine sorts them in memory."""
    rng = np.random.default_rng(12)
    uri, model, production = _store(workdir, rng)
    production["ts"] = production["ts"].dt.floor("2h")  # 40 rows share each time stamp
    shuffled = production.sample(frac=1.0, random_state=2).reset_index(drop=True)
    folder = workdir / "shuffled"
    ds.write_dataset(pa.Table.from_pandas(shuffled, preserve_index=False), folder, format="parquet",
                     max_rows_per_file=300, max_rows_per_group=100, basename_template="part-{i}.parquet")
    files = sorted(str(p) for p in folder.glob("*.parquet"))
    in_order = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
    in_order = in_order.iloc[np.argsort(in_order["ts"].to_numpy(), kind="stable")]
    got = _monitor(uri, folder, "shuffled", "--timestamp-column", "ts")
    for step in got["rows"]:
        rows = in_order.iloc[step * ROWS:(step + 1) * ROWS]
        mae = mean_absolute_error(rows["y"], model.predict(rows[COLUMNS]))
        assert got["performance/mae"][step] == pytest.approx(mae, rel=1e-9)

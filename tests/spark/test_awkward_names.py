"""Column names as users write them reach Spark as names, not as structure: a dot (Spark's field access), a
backtick (its quote), spaces, `(`, `%`, `°`, and the short names the engine once gave its own columns (`_w`, `_ns`,
`_count`, `_g0`: overwritten by them before) — the figures equal the numpy engine's."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from mlflow import MlflowClient
from sklearn.linear_model import LinearRegression

from driftloop.cli.main import cli
from driftloop.monitor.job import _spark_cause
from tests.conftest import register_champion
from tests.monitor.test_late_data import _runs, _series

COLUMNS = ["temp (°C)", "humidity %", "wind.speed", "rank`x", "a b", "_w", "_ns", "_count", "_g0", "v"]


def test_awkward_names_give_the_numpy_engines_figures(spark, workdir) -> None:
    rng = np.random.default_rng(5)
    frame = pd.DataFrame(rng.normal(size=(1500, len(COLUMNS))), columns=COLUMNS)
    frame.loc[1000:, "wind.speed"] += 1.5  # drift in the dotted column
    frame.loc[1000:, "rank`x"] -= 1.0  # and in the quoted one
    frame["y"] = frame.sum(axis=1) + rng.normal(size=len(frame))
    model = LinearRegression().fit(frame[COLUMNS].iloc[:500], frame["y"].iloc[:500])
    uri = f"sqlite:///{workdir / 'mlflow.db'}"
    register_champion(uri, "awkward", model, frame[COLUMNS])
    frame.iloc[:500].to_csv(workdir / "reference.csv", index=False)
    today = frame.iloc[500:].copy()
    today["ts"] = pd.date_range("2024-01-01", periods=len(today), freq="h").astype("datetime64[ns]")
    today.to_parquet(workdir / "today.parquet")
    runner = CliRunner()
    profiled = runner.invoke(cli, ["profile", "--model", "awkward@champion", "--data", str(workdir / "reference.csv"),
                                   "--target", "y", "--multivariate", "none", "--tracking-uri", uri])  # numpy only
    assert profiled.exit_code == 0, profiled.output
    for engine in ("numpy", "spark"):
        result = runner.invoke(cli, ["monitor", "--model", "awkward@champion", "--data", str(workdir / "today.parquet"),
                                     "--timestamp-column", "ts", "--window", "10d", "--target", "y", "--engine",
                                     engine, "--experiment", engine, "--tracking-uri", uri])
        assert result.exit_code in (0, 3), result.output
    client = MlflowClient(uri)
    expected, got = _series(client, _runs(client, "numpy")[0]), _series(client, _runs(client, "spark")[0])
    ks = [key for key in got if key.endswith("/ks")]
    assert len(ks) == len(COLUMNS) + 1  # every input and the prediction, under names that map back to them
    for key, points in got.items():
        for step, value in points.items():
            other = expected[key][step]
            assert (math.isnan(value) and math.isnan(other)) or value == pytest.approx(other, rel=1e-9, abs=1e-12), \
                (key, step)
    assert max(got["drift/features_drifted"].values()) == 2


def test_a_failed_python_worker_is_reported_by_its_own_error_line() -> None:
    message = ("An exception was thrown from the Python worker: Traceback (most recent call last):\n"
               '  File "x.py", line 3, in udf\n    raise ValueError("no")\n'
               "mlflow.exceptions.MlflowException: Failed to enforce schema of data\n   a  b\n0  1  2\n"
               "ValueError: could not convert string to float: 'n/a'\n")
    assert _spark_cause(RuntimeError(message)) == "ValueError: could not convert string to float: 'n/a'"
    assert _spark_cause(RuntimeError("\nJob aborted due to stage failure\nmore")) == "Job aborted due to stage failure"
    assert _spark_cause(RuntimeError("")) == "RuntimeError"

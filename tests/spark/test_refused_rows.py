"""A model that refuses some rows (a missing value a ``LinearRegression`` cannot take) or cannot score at all (an
input missing from the data) is handled by the Spark engine as by the numpy engine: the windows it refused have no
predictions and the model's error as a reason, the other windows are scored and measured (MLflow's ``spark_udf``
failed the whole Spark job). A reference the model refuses is a one-line error of ``profile --engine spark``."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
from click.testing import CliRunner
from mlflow import MlflowClient
from sklearn.linear_model import LinearRegression

from driftloop.cli.main import cli
from driftloop.tracking.monitoring import read_state
from tests.conftest import register_champion
from tests.monitor.test_late_data import _chart, _runs
from tests.spark.test_log_export import _cli
from tests.spark.test_spark_monitor import NUMPY_ONLY, assert_same_figures

FEATURES = ["temp (°C)", "wind.speed"]
SCORED = "the model could not score this window"


def _model(workdir) -> tuple[str, pd.DataFrame]:
    rng = np.random.default_rng(6)
    frame = pd.DataFrame(rng.normal(size=(2400, 2)), columns=FEATURES)
    frame["y"] = frame.sum(axis=1) + rng.normal(scale=0.3, size=len(frame))
    uri = f"sqlite:///{workdir / 'mlflow.db'}"
    register_champion(uri, "lr", LinearRegression().fit(frame[FEATURES].iloc[:800], frame["y"].iloc[:800]),
                      frame[FEATURES])
    frame.iloc[:800][FEATURES].to_csv(workdir / "reference.csv", index=False)
    _cli("profile", "--model", "lr@champion", "--data", str(workdir / "reference.csv"), "--multivariate", "none",
         "--tracking-uri", uri)
    production = frame.iloc[800:].reset_index(drop=True)
    production["ts"] = (pd.Timestamp("2024-01-01") + pd.to_timedelta(np.arange(len(production)) * 5, "min")
                        ).astype("datetime64[ns]")
    return uri, production


def _monitor_both(uri: str, data: str) -> dict[str, dict]:
    for engine in ("numpy", "spark"):
        _cli("monitor", "--model", "lr@champion", "--data", data, "--timestamp-column", "ts", "--window", "1d",
             "--target", "y", "--experiment", engine, "--engine", engine, "--tracking-uri", uri)
    client = MlflowClient(uri)
    expected, got = _chart(client, "numpy"), _chart(client, "spark")
    assert {k for k in expected if k not in got} <= {k for k in expected if k.startswith(NUMPY_ONLY)}
    assert set(got) <= set(expected)
    assert_same_figures(got, expected)
    return {engine: {index: window.reasons for index, window in
                     read_state(client, _runs(client, engine)[0].info.run_id).closed.items()}
            for engine in ("numpy", "spark")}


def test_windows_the_model_refuses_go_unscored_and_the_others_are_measured(spark, workdir):
    uri, production = _model(workdir)
    day = production["ts"].dt.floor("D")
    production.loc[production.index[day == day.unique()[1]][[7, 200]], "wind.speed"] = np.nan
    production.loc[production.index[day == day.unique()[3]][0], "temp (°C)"] = np.nan
    ds.write_dataset(pa.Table.from_pandas(production, preserve_index=False), workdir / "data",
                     format="parquet", max_rows_per_file=250, max_rows_per_group=100)  # batches span windows
    reasons = _monitor_both(uri, str(workdir / "data"))
    assert reasons["spark"] == reasons["numpy"]
    refused = {index for index, found in reasons["spark"].items() if any(r.startswith(SCORED) for r in found)}
    assert refused == {1, 3}
    assert any("Input X contains NaN" in r for r in reasons["spark"][1])
    got = _chart(MlflowClient(uri), "spark")
    assert set(got["performance/mae"]) == {0, 2, 4, 5}  # the refused windows have no performance
    assert got["coverage/predictions"][1] == 0.0 and got["coverage/predictions"][2] == 1.0


def test_an_input_missing_from_the_data_is_said_for_every_window(spark, workdir):
    uri, production = _model(workdir)
    production.drop(columns=["wind.speed"]).to_parquet(workdir / "data.parquet")
    reasons = _monitor_both(uri, str(workdir / "data.parquet"))
    assert reasons["spark"] == reasons["numpy"]
    assert all(f"{SCORED}: missing wind.speed" in found for found in reasons["spark"].values())


def test_a_reference_the_model_refuses_is_a_one_line_error(spark, workdir):
    uri, production = _model(workdir)
    production.loc[5, "temp (°C)"] = np.nan
    production[FEATURES].to_parquet(workdir / "reference.parquet")
    result = CliRunner().invoke(cli, ["profile", "--model", "lr@champion", "--data", str(workdir / "reference.parquet"),
                                      "--engine", "spark", "--tracking-uri", uri])
    assert result.exit_code != 0
    assert "ValueError: Input X contains NaN" in result.output and "Traceback" not in result.output, result.output

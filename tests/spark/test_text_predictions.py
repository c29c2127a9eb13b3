"""A data column named ``prediction`` that holds text, for a model whose outputs are numbers (a column of the
user's under driftloop's name): neither engine takes it for the model's predictions — no accuracy of 0 against the
labels, no estimate — each says so, and the windows' coverage of predictions is 0, so no window is ``ok``."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from click.testing import CliRunner
from sklearn.linear_model import LinearRegression

from driftloop.cli.main import cli
from tests.conftest import register_champion


def test_a_prediction_column_of_text_is_not_taken_for_the_models_outputs(spark, workdir) -> None:
    rng = np.random.default_rng(8)
    frame = pd.DataFrame({"x": rng.normal(size=900), "z": rng.normal(size=900)})
    frame["y"] = (frame["x"] + frame["z"] + rng.normal(size=900)).round()  # whole numbers: scores get an accuracy
    uri = f"sqlite:///{workdir / 'mlflow.db'}"
    register_champion(uri, "named", LinearRegression().fit(frame[["x", "z"]], frame["y"]), frame[["x", "z"]])
    frame.iloc[:500].to_csv(workdir / "reference.csv", index=False)
    today = frame.iloc[500:].reset_index(drop=True).assign(prediction="oops")
    today["ts"] = pd.Timestamp("2024-01-01") + pd.to_timedelta(np.arange(len(today)) * 10, "min")
    (workdir / "today").mkdir()
    today.to_parquet(workdir / "today" / "part-0.parquet", index=False)
    runner = CliRunner()
    profiled = runner.invoke(cli, ["profile", "--model", "named@champion", "--data", str(workdir / "reference.csv"),
                                   "--target", "y", "--tracking-uri", uri])
    assert profiled.exit_code == 0, profiled.output
    for engine in ("numpy", "spark"):
        result = runner.invoke(cli, ["monitor", "--model", "named@champion", "--data", str(workdir / "today"),
                                     "--timestamp-column", "ts", "--window", "1d", "--target", "y", "--format", "json",
                                     "--engine", engine, "--experiment", engine, "--tracking-uri", uri])
        assert result.exit_code in (0, 3), result.output
        windows = [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]
        assert len(windows) == 3
        for window in windows:
            assert not [k for k in window["metrics"] if k.startswith(("performance/", "estimated/"))], (engine, window)
            assert window["metrics"]["coverage/predictions"] == 0.0 and window["verdict"] != "ok", (engine, window)
            assert ("the data's 'prediction' column holds str values (such as 'oops'), the model outputs numbers: not "
                    "used as its predictions (no performance, no estimate); rename that column") in window["reasons"]

"""Column and model names as users write them (`temp (°C)`, `price ($)`, `km/h`, `o'brien`), through `driftloop
profile` and `driftloop monitor` on a real MLflow SQLite store."""

from __future__ import annotations

import json
import math
from pathlib import Path

import mlflow
import mlflow.sklearn
import numpy as np
import pandas as pd
from click.testing import CliRunner
from mlflow import MlflowClient
from mlflow.models import infer_signature
from mlflow.utils.validation import _validate_metric
from sklearn.linear_model import LinearRegression

from driftloop.cli.main import cli
from driftloop.tracking.metric_names import ARTIFACT, MetricNames, column_of
from tests.conftest import register_champion

COLUMNS = ["temp (°C)", "Temp (°C)", "price ($)", "rate %", "km/h", "ünïcode 名前", "share", "x" * 300, "fixed acidity"]
MODEL = "o'brien \"x\" 100%_a"  # both quotes: MLflow's filter syntax cannot write it exactly
DECOY = "o_brien _x_ 100__a"  # what the LIKE pattern written for MODEL also matches


def _register(workdir: Path) -> tuple[str, pd.DataFrame]:
    rng = np.random.default_rng(7)
    frame = pd.DataFrame(rng.normal(size=(1200, len(COLUMNS))), columns=COLUMNS)
    frame["y"] = frame.to_numpy().sum(axis=1)
    model = LinearRegression().fit(frame[COLUMNS].iloc[:600], frame["y"].iloc[:600])
    uri = f"sqlite:///{workdir / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    try:
        with mlflow.start_run():
            info = mlflow.sklearn.log_model(model, name="model", registered_model_name=MODEL,
                                            signature=infer_signature(frame[COLUMNS], model.predict(frame[COLUMNS])))
    finally:
        mlflow.set_tracking_uri(None)
    client = MlflowClient(uri)
    client.set_registered_model_alias(MODEL, "champion", "1")
    client.create_registered_model(DECOY)
    client.create_model_version(DECOY, source=info.model_uri, run_id=info.run_id)
    client.set_registered_model_alias(DECOY, "champion", "1")
    return uri, frame


def _run(*args: str):
    return CliRunner().invoke(cli, list(args))


def test_awkward_column_and_model_names_monitor_end_to_end(workdir: Path) -> None:
    uri, frame = _register(workdir)
    frame[COLUMNS].iloc[:600].to_csv(workdir / "reference.csv", index=False)
    production = frame.iloc[600:].copy()
    production["temp (°C)"] += 3.0  # drift in one awkward column
    production["ts"] = pd.date_range("2024-01-01", periods=len(production), freq="h").astype(str)
    production.to_csv(workdir / "production.csv", index=False)

    profiled = _run("profile", "--model", f"{MODEL}@champion", "--data", str(workdir / "reference.csv"),
                    "--multivariate", "pca,classifier", "--tracking-uri", uri)  # importances are column metrics
    assert profiled.exit_code == 0, profiled.output
    outputs = {}
    for name in (MODEL, DECOY):
        result = _run("monitor", "--model", f"{name}@champion", "--data", str(workdir / "production.csv"),
                      "--timestamp-column", "ts", "--window", "7d", "--target", "y", "--format", "json",
                      "--tracking-uri", uri)
        assert result.exit_code in (0, 3), result.output
        outputs[name] = [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]
    windows = outputs[MODEL]
    assert sum(w["rows"] for w in windows) == 600
    assert all(w["metrics"]["drift/temp (°C)/ks"] > 0.5 for w in windows)  # the JSON output keeps the names
    assert any("temp (°C)" in reason for w in windows for reason in w["reasons"])

    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("model-monitoring").experiment_id
    runs = {run.data.tags["driftloop.model_name"]: run for run in client.search_runs([experiment])
            if run.data.tags.get("driftloop.kind") == "monitoring"}
    assert set(runs) == {MODEL, DECOY}  # one run each: the decoy did not find the model's run
    assert {run.info.status for run in runs.values()} == {"FINISHED"}
    run_id = runs[MODEL].info.run_id
    (child,) = client.search_runs([experiment], f"tags.`mlflow.parentRunId` = '{run_id}'")  # the open windows
    logged: dict[str, list[tuple[int, float]]] = {}
    for each in (run_id, child.info.run_id):
        names = MetricNames.from_json(Path(client.download_artifacts(each, ARTIFACT, str(workdir))).read_text())
        for key in client.get_run(each).data.metrics:
            _validate_metric(key, 0.0, 0, 0)
            parts = key.split("/")
            original = f"{parts[0]}/{names.column(parts[1])}/{parts[2]}" if column_of(key) is not None else key
            logged.setdefault(original, []).extend((m.step, m.value) for m in client.get_metric_history(each, key))
    expected = {key for w in windows for key, value in w["metrics"].items() if value is not None and math.isfinite(value)}
    assert set(logged) == expected  # every figure of the JSON output is in MLflow, under a name that maps back
    for key in ("drift/temp (°C)/ks", "quality/ünïcode 名前/missing_rate", f"drift/{'x' * 300}/wasserstein"):
        assert sorted(logged[key]) == [(w["window"], w["metrics"][key]) for w in windows]
    report = Path(client.download_artifacts(run_id, "report.html", str(workdir))).read_text()
    assert "temp (°C)" in report  # the drifted column, under its own name


def test_inputs_named_like_the_monitors_own_columns_are_refused_by_name(workdir: Path) -> None:
    """A model input called `prediction` or `label` was taken for the model's output or the label: drift "found" in
    both and an MAE 17 times the true one. `profile` now refuses it, naming the columns (and `monitor` checks the same
    for profiles fitted before)."""
    rng = np.random.default_rng(3)
    inputs = ["label", "prediction", "x"]
    frame = pd.DataFrame(rng.normal(size=(400, 3)), columns=inputs)
    frame["y"] = frame.sum(axis=1)
    model = LinearRegression().fit(frame[inputs], frame["y"])
    uri = f"sqlite:///{workdir / 'mlflow.db'}"
    register_champion(uri, "stacked", model, frame[inputs])
    frame.to_csv(workdir / "data.csv", index=False)
    result = _run("profile", "--model", "stacked@champion", "--data", str(workdir / "data.csv"), "--target", "y",
                  "--tracking-uri", uri)
    assert result.exit_code == 1, result.output
    assert "input column(s) 'label' (the label), 'prediction' (the model's output)" in result.output
    assert "Log the model with the input renamed" in result.output and "Traceback" not in result.output

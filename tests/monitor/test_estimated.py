"""Estimated performance end to end: `driftloop profile --target` fits CBPE or DLE, `driftloop monitor` writes
estimated/<metric> with its band for every window to MLflow and to --format json, the report draws estimated and
realised together; what cannot be estimated is said."""

from __future__ import annotations

import json

import mlflow
import mlflow.sklearn
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from mlflow import MlflowClient
from mlflow.models import infer_signature
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.metrics import accuracy_score, f1_score, mean_absolute_error, roc_auc_score
from sklearn.svm import LinearSVC

from driftloop.cli.main import cli
from driftloop.estimate import ConfidenceEstimator
from driftloop.monitor.estimation import FittedEstimator, window_estimates
from tests.conftest import WINE_PROJECT

FEATURES = ["a", "b", "c"]


def _rows(rng: np.random.Generator, n: int, shift: float = 0.0) -> pd.DataFrame:
    x = rng.normal(size=(n, 3)) + np.array([shift, 0.0, 0.0])
    p = 1 / (1 + np.exp(-(1.5 * x[:, 0] - x[:, 1] + 0.5 * x[:, 2] * x[:, 0])))
    return pd.DataFrame(x, columns=FEATURES).assign(y=np.where(rng.uniform(size=n) < p, "yes", "no"))


def _register(uri: str, name: str, model, frame: pd.DataFrame) -> None:
    with mlflow.start_run():
        mlflow.sklearn.log_model(model, name="model", registered_model_name=name,
                                 signature=infer_signature(frame[FEATURES], model.predict(frame[FEATURES])))
    MlflowClient(uri).set_registered_model_alias(name, "champion", "1")


@pytest.fixture
def store(workdir):
    uri = f"sqlite:///{workdir / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    yield uri
    mlflow.set_tracking_uri(None)


def _invoke(*args: str) -> list[dict]:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code in (0, 3), result.output
    return [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]


def test_a_classifier_gets_estimated_performance_with_bands_next_to_the_realised(store, workdir):
    rng = np.random.default_rng(0)
    reference = _rows(rng, 3000)
    model = LogisticRegression().fit(reference[FEATURES], reference["y"])
    _register(store, "loans", model, reference)
    reference.to_csv(workdir / "reference.csv", index=False)
    result = CliRunner().invoke(cli, ["profile", "--model", "loans@champion", "--data", "reference.csv",
                                      "--target", "y", "--tracking-uri", store])
    assert result.exit_code == 0, result.output
    assert "Estimated performance (CBPE) fitted on 3000 labelled rows: scores" in result.output
    production = pd.concat([_rows(rng, 1000), _rows(rng, 1000, shift=1.5), _rows(rng, 1000, shift=-1.5)])
    production.to_csv(workdir / "production.csv", index=False)
    windows = _invoke("monitor", "--model", "loans@champion", "--data", "production.csv", "--rows", "1000",
                      "--target", "y", "--format", "json", "--tracking-uri", store)
    assert len(windows) == 3
    for window, (start, stop) in zip(windows, [(0, 1000), (1000, 2000), (2000, 3000)], strict=True):
        metrics = window["metrics"]
        rows = production.iloc[start:stop]
        truth = rows["y"] == "yes"
        realised = {"accuracy": accuracy_score(rows["y"], model.predict(rows[FEATURES])),
                    "f1": f1_score(truth, model.predict(rows[FEATURES]) == "yes"),
                    "roc_auc": roc_auc_score(truth, model.predict_proba(rows[FEATURES])[:, 1])}
        for name in ("accuracy", "precision", "recall", "f1", "roc_auc"):
            low, value, high = (metrics[f"estimated/{name}/lower"], metrics[f"estimated/{name}"],
                                metrics[f"estimated/{name}/upper"])
            assert 0.0 <= low < value < high <= 1.0, (name, low, value, high)
        for name, value in realised.items():   # the oracle: scikit-learn on the window's labels
            assert abs(metrics[f"estimated/{name}"] - value) < 0.05, (window["window"], name)
    client = MlflowClient(store)
    monitoring = client.search_runs([client.get_experiment_by_name("model-monitoring").experiment_id])[0]
    history = client.get_metric_history(monitoring.info.run_id, "estimated/accuracy/lower")
    assert sorted(m.step for m in history) == [w["window"] for w in windows]
    report = client.download_artifacts(monitoring.info.run_id, "report.html", str(workdir))
    html = open(report, encoding="utf-8").read()
    assert "Estimated performance" in html and "Accuracy, estimated and realised" in html


def test_a_regressor_gets_dle_before_any_label_arrives(store, workdir):
    red = pd.read_csv(WINE_PROJECT / "data" / "winequality-red.csv", sep=";")
    white = pd.read_csv(WINE_PROJECT / "data" / "winequality-white.csv", sep=";").iloc[:1500]
    features = [c for c in red.columns if c != "quality"]
    model = LinearRegression().fit(red[features], red["quality"])
    with mlflow.start_run():
        mlflow.sklearn.log_model(model, name="model", registered_model_name="wine",
                                 signature=infer_signature(red[features], model.predict(red[features])))
    MlflowClient(store).set_registered_model_alias("wine", "champion", "1")
    red.to_csv(workdir / "reference.csv", index=False)
    result = CliRunner().invoke(cli, ["profile", "--model", "wine@champion", "--data", "reference.csv",
                                      "--target", "quality", "--tracking-uri", store])
    assert result.exit_code == 0 and "Estimated performance (DLE) fitted on 1599 labelled rows" in result.output
    white[features].to_csv(workdir / "white.csv", index=False)   # no labels at all
    windows = _invoke("monitor", "--model", "wine@champion", "--data", "white.csv", "--rows", "500", "--format",
                      "json", "--tracking-uri", store)
    assert len(windows) == 3
    for window in windows:
        metrics = window["metrics"]
        assert "performance/mae" not in metrics
        assert metrics["estimated/mae/lower"] < metrics["estimated/mae"] < metrics["estimated/mae/upper"]
        assert metrics["estimated/rmse"] >= metrics["estimated/mae"]
    realised = mean_absolute_error(white["quality"], model.predict(white[features]))
    assert np.mean([w["metrics"]["estimated/mae"] for w in windows]) == pytest.approx(realised, rel=0.25)


def test_what_cannot_be_estimated_is_said(store, workdir):
    rng = np.random.default_rng(1)
    reference = _rows(rng, 1000)
    _register(store, "svc", LinearSVC().fit(reference[FEATURES], reference["y"]), reference)
    reference.to_csv(workdir / "reference.csv", index=False)
    result = CliRunner().invoke(cli, ["profile", "--model", "svc@champion", "--data", "reference.csv",
                                      "--target", "y", "--tracking-uri", store])
    assert result.exit_code == 0, result.output
    assert "No estimated performance: the model has no predict_proba" in result.output
    result = CliRunner().invoke(cli, ["profile", "--model", "svc@champion", "--data", "reference.csv",
                                      "--tracking-uri", store])
    assert "No estimated performance: the reference has no labels (give --target" in result.output
    reference.iloc[:400].to_csv(workdir / "production.csv", index=False)
    result = CliRunner().invoke(cli, ["monitor", "--model", "svc@champion", "--data", "production.csv",
                                      "--rows", "200", "--target", "y", "--tracking-uri", store])
    assert result.exit_code in (0, 3), result.output
    assert "note: no estimated performance: the reference profile holds no estimator" in result.output
    assert "Logged 2 window(s)" in result.output  # the rest of monitoring goes on


def test_scores_that_are_not_probabilities_are_a_data_quality_reason() -> None:
    rng = np.random.default_rng(2)
    scores = rng.uniform(size=2000)
    labels = (rng.uniform(size=2000) < scores).astype(int)
    fitted = FittedEstimator(ConfidenceEstimator(draws=2).fit(np.column_stack([1 - scores, scores]), labels),
                             ["no", "yes"], "")
    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0]})
    broken = lambda rows: (["no", "yes"], np.array([[0.5, 0.5], [np.nan, 0.2], [1.4, -0.4]]))  # noqa: E731
    metrics, reasons = window_estimates(fitted, frame, ["a"], pd.Series(["no", "yes", "no"]), broken)
    assert metrics == {}
    assert reasons == ["data quality: The class scores of the window must be probabilities in [0, 1]; got 1 NaN "
                       "value(s) and 2 outside [0, 1] (e.g. 1.4). A data-quality problem: no estimate is made from "
                       "them (they are never clipped)."]


def test_a_model_error_in_predict_proba_is_a_reason_not_a_crash() -> None:
    rng = np.random.default_rng(3)
    scores = rng.uniform(size=2000)
    labels = (rng.uniform(size=2000) < scores).astype(int)
    fitted = FittedEstimator(ConfidenceEstimator(draws=2).fit(np.column_stack([1 - scores, scores]), labels),
                             ["no", "yes"], "")

    def failing(rows):
        raise ValueError("Input contains NaN")

    metrics, reasons = window_estimates(fitted, pd.DataFrame({"a": [1.0]}), ["a"], pd.Series(["no"]), failing)
    assert metrics == {}
    assert reasons == ["estimated performance unavailable: predict_proba failed: ValueError: Input contains NaN"]

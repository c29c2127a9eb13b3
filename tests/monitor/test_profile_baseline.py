"""`driftloop profile --target`: a model trained elsewhere (no training metrics in its run) gets the baseline of
the performance alerts from its reference data."""

import json

import mlflow
import mlflow.sklearn
import pandas as pd
import pytest
from click.testing import CliRunner
from mlflow import MlflowClient
from mlflow.models import infer_signature
from sklearn.linear_model import LinearRegression
from sklearn.metrics import mean_absolute_error, mean_squared_error

from driftloop.cli.main import cli
from driftloop.tracking.store import use_tracking_uri
from tests.conftest import WINE_PROJECT


def _wine(color: str) -> pd.DataFrame:
    return pd.read_csv(WINE_PROJECT / "data" / f"winequality-{color}.csv", sep=";")


@pytest.fixture
def elsewhere(workdir):
    """A red-wine regressor logged and registered with no metric at all, as a model trained outside driftloop."""
    uri = f"sqlite:///{workdir / 'mlflow.db'}"
    red = _wine("red")
    features = [c for c in red.columns if c != "quality"]
    model = LinearRegression().fit(red[features], red["quality"])
    with use_tracking_uri(uri), mlflow.start_run() as run:
        mlflow.sklearn.log_model(model, name="model", registered_model_name="wine-elsewhere",
                                 signature=infer_signature(red[features], model.predict(red[features])))
    client = MlflowClient(uri)
    client.set_registered_model_alias("wine-elsewhere", "champion", "1")
    assert client.get_run(run.info.run_id).data.metrics == {}
    red.to_csv(workdir / "reference.csv", index=False)
    return uri, run.info.run_id, model.predict(red[features]), red["quality"]


def _monitor(uri, workdir):
    white = _wine("white").iloc[:2000]
    white.to_csv(workdir / "white.csv", index=False)
    result = CliRunner().invoke(cli, ["monitor", "--model", "wine-elsewhere@champion", "--data", "white.csv",
                                      "--rows", "500", "--target", "quality", "--format", "json",
                                      "--tracking-uri", uri])
    assert result.exit_code in (0, 3), result.output
    return [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]


def test_profile_with_labels_stores_the_baseline_and_performance_alerts_fire(elsewhere, workdir):
    uri, run_id, predicted, truth = elsewhere
    result = CliRunner().invoke(cli, ["profile", "--model", "wine-elsewhere@champion", "--data", "reference.csv",
                                      "--target", "quality", "--tracking-uri", uri])
    assert result.exit_code == 0, result.output
    assert "the baseline of the performance alerts: mae 0.5" in result.output
    logged = MlflowClient(uri).get_run(run_id).data.metrics
    assert logged["performance/mae"] == pytest.approx(mean_absolute_error(truth, predicted), rel=1e-12)
    assert logged["performance/rmse"] == pytest.approx(mean_squared_error(truth, predicted) ** 0.5, rel=1e-12)
    windows = _monitor(uri, workdir)
    judged = [reason for w in windows for reason in w["reasons"] if reason.startswith("performance degraded (mae)")]
    baseline = logged["performance/mae"]
    worse = [w["metrics"]["performance/mae"] > 1.25 * baseline for w in windows]
    expected = [i for i in range(1, len(windows)) if worse[i] and worse[i - 1]]
    assert expected, "the red-wine model should be worse on white wines"
    fired = [w["window"] for w in windows if any(r.startswith("performance degraded (mae)") for r in w["reasons"])]
    assert len(judged) == len(expected) and fired == [windows[i]["window"] for i in expected]
    assert f"x training {baseline:.4g}" in judged[0]


def test_without_labels_there_is_no_baseline(elsewhere, workdir):
    uri, run_id, _, _ = elsewhere
    result = CliRunner().invoke(cli, ["profile", "--model", "wine-elsewhere@champion", "--data", "reference.csv",
                                      "--tracking-uri", uri])
    assert result.exit_code == 0 and "baseline" not in result.output, result.output
    assert MlflowClient(uri).get_run(run_id).data.metrics == {}
    windows = _monitor(uri, workdir)
    assert not any(r.startswith("performance degraded") for w in windows for r in w["reasons"])

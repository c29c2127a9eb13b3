"""Multivariate drift in `driftloop profile` and `driftloop monitor`: fitted with the profile, saved in its folder,
judged per window in the window's Benjamini–Hochberg procedure, shown as reasons in the table and the JSON, logged
as MLflow metrics."""

import json
from pathlib import Path

import mlflow
import mlflow.sklearn
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from mlflow import MlflowClient
from mlflow.models import infer_signature
from scipy.stats import false_discovery_control
from sklearn.linear_model import LinearRegression

from driftloop.cli.main import cli
from driftloop.monitor.multivariate_drift import assess_multivariate
from driftloop.multivariate import MMDDetector, MultivariateDrift
from driftloop.profile import ReferenceProfile
from driftloop.tracking.store import use_tracking_uri


def correlated(rng: np.random.Generator, n: int, rho: float) -> pd.DataFrame:
    x = rng.normal(size=n)
    return pd.DataFrame({"x": x, "y": rho * x + np.sqrt(1 - rho * rho) * rng.normal(size=n),
                         "u": rng.normal(size=n)})


@pytest.fixture
def registered(workdir):
    """A regressor of u alone (so its predictions do not drift with the x-y correlation), registered with a
    signature; a reference file and production data whose last three 500-row windows flip the correlation."""
    uri = f"sqlite:///{workdir / 'mlflow.db'}"
    rng = np.random.default_rng(0)
    reference = correlated(rng, 4_000, 0.8)
    target = 2.0 * reference["u"] + 0.1 * rng.normal(size=len(reference))
    model = LinearRegression().fit(reference, target)
    with use_tracking_uri(uri), mlflow.start_run():
        mlflow.sklearn.log_model(model, name="model", registered_model_name="joint",
                                 signature=infer_signature(reference, model.predict(reference)))
    MlflowClient(uri).set_registered_model_alias("joint", "champion", "1")
    reference.to_csv(workdir / "reference.csv", index=False)
    production = pd.concat([correlated(rng, 1_500, 0.8), correlated(rng, 1_500, -0.8)], ignore_index=True)
    production.to_csv(workdir / "production.csv", index=False)
    return uri


def _cli(*args):
    return CliRunner().invoke(cli, list(args), env={"COLUMNS": "100"})


def test_profile_fits_the_detectors_and_monitor_reports_joint_drift(registered, workdir):
    uri = registered
    fitted = _cli("profile", "--model", "joint@champion", "--data", "reference.csv", "--multivariate",
                  "pca,mmd,classifier", "--tracking-uri", uri)
    assert fitted.exit_code == 0, fitted.output
    assert "Multivariate detectors: pca, mmd, classifier (over the 3 inputs)." in fitted.output
    result = _cli("monitor", "--model", "joint@champion", "--data", "production.csv", "--rows", "500", "--format",
                  "json", "--tracking-uri", uri)
    assert result.exit_code == 3, result.output  # the flipped windows raise an alert
    windows = [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]
    assert len(windows) == 6
    for window in windows[:3]:
        assert window["verdict"] == "ok", window["reasons"]
        assert window["metrics"]["multivariate/drifted"] == 0
    for window in windows[3:]:
        metrics, reasons = window["metrics"], window["reasons"]
        assert metrics["drift/share"] == 0  # no column drifted on its own
        assert metrics["multivariate/drifted"] == 3
        joined = "\n".join(reasons)
        for label in ("PCA reconstruction error", "MMD", "domain classifier"):
            assert f"multivariate drift: {label}: " in joined, reasons
        assert "columns carrying it: " in joined
        assert metrics["drift/x/classifier_importance"] > max(metrics["drift/u/classifier_importance"], 0.0)
        assert metrics["multivariate/pca/reconstruction_error"] > metrics["multivariate/pca/upper_threshold"]
    assert [w["verdict"] for w in windows[3:]] == ["warn", "alert", "alert"]
    client = MlflowClient(uri)
    (run,) = client.search_runs([client.get_experiment_by_name("model-monitoring").experiment_id],
                                filter_string="tags.`driftloop.kind` = 'monitoring'")
    history = client.get_metric_history(run.info.run_id, "multivariate/classifier/auc")
    assert [m.step for m in sorted(history, key=lambda m: m.step)] == list(range(6))
    report = Path(client.download_artifacts(run.info.run_id, "report.html", str(workdir))).read_text()
    assert "multivariate drift: PCA reconstruction error: mean " in report
    table = _cli("monitor", "--model", "joint@champion", "--data", "production.csv", "--rows", "500",
                 "--experiment", "again", "--tracking-uri", uri)
    assert "multivariate drift: domain classifier: AUC" in table.output


def test_refitting_without_detectors_replaces_them_and_a_bad_name_is_one_line(registered):
    uri = registered
    assert _cli("profile", "--model", "joint/1", "--data", "reference.csv", "--tracking-uri", uri).exit_code == 0
    assert _cli("profile", "--model", "joint/1", "--data", "reference.csv", "--multivariate", "none",
                "--tracking-uri", uri).exit_code == 0
    result = _cli("monitor", "--model", "joint@champion", "--data", "production.csv", "--rows", "500", "--format",
                  "json", "--tracking-uri", uri)
    windows = [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]
    assert windows and not any(key.startswith("multivariate/") for w in windows for key in w["metrics"])
    bad = _cli("profile", "--model", "joint/1", "--data", "reference.csv", "--multivariate", "pca,lstm",
               "--tracking-uri", uri)
    assert bad.exit_code == 1
    assert bad.output.strip().splitlines()[-1].endswith(
        "The --multivariate option must be distinct names among pca, mmd, classifier, or 'none'; got 'pca,lstm'.")


def test_multivariate_p_values_join_the_univariate_tests_in_one_benjamini_hochberg_procedure():
    rng = np.random.default_rng(1)
    reference = correlated(rng, 3_000, 0.8)
    window = correlated(rng, 400, -0.8).assign(x=lambda f: f["x"] + 0.2)  # a small shift as well
    drift = ReferenceProfile(numeric_statistics=("ks", "psi")).fit(reference).compare(window)
    detectors = MultivariateDrift(detectors=("pca", "mmd"), mmd=MMDDetector(max_rows=300)).fit(reference)
    alpha = 0.001
    metrics, reasons = assess_multivariate(detectors, window, drift, alpha)
    tests = drift[drift["statistic"] == "ks"]
    pooled = np.r_[tests["p_value"].to_numpy(), metrics["multivariate/pca/p_value"],
                   metrics["multivariate/mmd/p_value"]]
    rejected = false_discovery_control(pooled) <= alpha  # scipy's BH-adjusted p-values as the oracle
    assert tests["drifted"].tolist() == rejected[:3].tolist()
    assert [metrics["multivariate/pca/drifted"], metrics["multivariate/mmd/drifted"]] == rejected[3:].tolist()
    assert tests["threshold"].nunique() == 1
    assert len(reasons) == int(rejected[3:].sum())

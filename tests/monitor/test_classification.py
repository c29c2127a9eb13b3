"""Monitoring a classifier: accuracy, f1, ROC AUC and log loss, checked against scikit-learn on the same rows."""

import json

import mlflow
import mlflow.sklearn
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from mlflow import MlflowClient
from mlflow.models import infer_signature
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score, log_loss, roc_auc_score

from driftloop.cli.main import cli
from tests.conftest import WINE_PROJECT


def test_a_wine_colour_classifier_gets_probability_metrics(workdir):
    red = pd.read_csv(WINE_PROJECT / "data" / "winequality-red.csv", sep=";").assign(colour="red")
    white = pd.read_csv(WINE_PROJECT / "data" / "winequality-white.csv", sep=";").assign(colour="white")
    data = pd.concat([red, white]).sample(frac=1.0, random_state=1).reset_index(drop=True)
    features = data[["volatile acidity", "total sulfur dioxide", "chlorides"]]
    uri = f"sqlite:///{workdir / 'mlflow.db'}"
    model = LogisticRegression(max_iter=1000).fit(features.iloc[:3000], data["colour"].iloc[:3000])
    mlflow.set_tracking_uri(uri)
    try:
        with mlflow.start_run():
            mlflow.sklearn.log_model(model, name="model", registered_model_name="colour",
                                     signature=infer_signature(features, model.predict(features)))
    finally:
        mlflow.set_tracking_uri(None)
    MlflowClient(uri).set_registered_model_alias("colour", "champion", "1")
    reference = features.iloc[:3000]
    reference.to_csv(workdir / "reference.csv", index=False)
    assert CliRunner().invoke(cli, ["profile", "--model", "colour@champion", "--data", str(workdir / "reference.csv"),
                                    "--tracking-uri", uri]).exit_code == 0
    production = data.iloc[3000:4000]
    production[[*features.columns, "colour"]].to_csv(workdir / "production.csv", index=False)
    result = CliRunner().invoke(cli, ["monitor", "--model", "colour@champion", "--data", str(workdir / "production.csv"),
                                      "--rows", "1000", "--target", "colour", "--format", "json",
                                      "--tracking-uri", uri])
    assert result.exit_code in (0, 3), result.output
    (window,) = [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]
    metrics = window["metrics"]
    x, y = production[features.columns], production["colour"]
    proba = model.predict_proba(x)
    assert metrics["performance/accuracy"] == pytest.approx(accuracy_score(y, model.predict(x)), rel=1e-12)
    assert metrics["performance/f1"] == pytest.approx(f1_score(y, model.predict(x), average="macro"), rel=1e-12)
    assert metrics["performance/roc_auc"] == pytest.approx(roc_auc_score(y == "white", proba[:, 1]), rel=1e-12)
    assert metrics["performance/log_loss"] == pytest.approx(log_loss(y, proba, labels=model.classes_), rel=1e-12)
    assert np.isfinite(metrics["drift/prediction/chi2"])  # the predicted class is profiled as a category

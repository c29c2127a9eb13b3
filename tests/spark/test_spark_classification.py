"""Classification performance in the Spark engine (``local[2]``): accuracy and macro F1 per window from the counts
of (label, predicted class) pairs, equal to the numpy engine's and to scikit-learn's on the same rows."""

from __future__ import annotations

import mlflow
import mlflow.sklearn
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pytest
from click.testing import CliRunner
from mlflow import MlflowClient
from mlflow.models import infer_signature
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score

from driftloop.cli.main import cli
from tests.conftest import WINE_PROJECT
from tests.monitor.test_late_data import _runs, _series

FEATURES = ["volatile acidity", "total sulfur dioxide", "chlorides"]


def test_spark_engine_measures_a_classifier_as_the_numpy_engine_does(spark, workdir):
    red = pd.read_csv(WINE_PROJECT / "data" / "winequality-red.csv", sep=";").assign(colour="red")
    white = pd.read_csv(WINE_PROJECT / "data" / "winequality-white.csv", sep=";").assign(colour="white")
    data = pd.concat([red, white]).sample(frac=1.0, random_state=1).reset_index(drop=True)
    model = LogisticRegression(max_iter=1000).fit(data[FEATURES].iloc[:3000], data["colour"].iloc[:3000])
    uri = f"sqlite:///{workdir / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    try:
        with mlflow.start_run():
            mlflow.sklearn.log_model(model, name="model", registered_model_name="colour",
                                     signature=infer_signature(data[FEATURES], model.predict(data[FEATURES])))
    finally:
        mlflow.set_tracking_uri(None)
    MlflowClient(uri).set_registered_model_alias("colour", "champion", "1")
    data[FEATURES].iloc[:3000].to_csv(workdir / "reference.csv", index=False)
    profiled = CliRunner().invoke(cli, ["profile", "--model", "colour@champion", "--data", "reference.csv",
                                        "--multivariate", "none", "--tracking-uri", uri])
    assert profiled.exit_code == 0, profiled.output
    production = data.iloc[3000:4200][[*FEATURES, "colour"]].reset_index(drop=True)
    production["prediction"] = model.predict(production[FEATURES])
    production.loc[::7, "colour"] = None  # rows without a label are not measured
    production["ts"] = (pd.Timestamp("2024-01-01") + pd.to_timedelta(np.arange(len(production)) * 7, "min")
                        ).astype("datetime64[ns]")
    ds.write_dataset(pa.Table.from_pandas(production, preserve_index=False), workdir / "production",
                     format="parquet", max_rows_per_file=300, max_rows_per_group=300)
    for engine in ("numpy", "spark"):
        result = CliRunner().invoke(cli, ["monitor", "--model", "colour@champion", "--data", "production",
                                          "--timestamp-column", "ts", "--window", "1d", "--target", "colour",
                                          "--experiment", engine, "--engine", engine, "--tracking-uri", uri])
        assert result.exit_code in (0, 3), result.output
    client = MlflowClient(uri)
    (numpy_run, _), (spark_run, _) = _runs(client, "numpy"), _runs(client, "spark")
    expected, got = _series(client, numpy_run), _series(client, spark_run)
    days = production.assign(day=production["ts"].dt.floor("D")).groupby("day")
    assert got["performance/f1"].keys() == expected["performance/f1"].keys() and len(got["performance/f1"]) >= 4
    for step, (_, rows) in enumerate(days):
        labelled = rows[rows["colour"].notna()]
        for key, score in (("performance/accuracy", accuracy_score(labelled["colour"], labelled["prediction"])),
                           ("performance/f1", f1_score(labelled["colour"], labelled["prediction"], average="macro"))):
            if step not in expected[key]:  # the last window is open: its figures are provisional
                continue
            assert got[key][step] == pytest.approx(expected[key][step], rel=1e-12), (key, step)
            assert got[key][step] == pytest.approx(score, rel=1e-12), (key, step)
    assert "performance/roc_auc" in expected and "performance/roc_auc" not in got  # class probabilities: numpy only

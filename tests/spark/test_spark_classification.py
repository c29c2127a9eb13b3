"""Classification performance in the Spark engine (``local[2]``): accuracy and macro F1 per window from the counts
of (label, predicted class) pairs, ROC AUC and log loss from the model's class probabilities (binary, and
one-vs-rest macro over three classes), equal to the numpy engine's and to scikit-learn's on the same rows; a window
whose rows the model refuses gets no probability figure in either engine."""

from __future__ import annotations

import math

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
from sklearn.metrics import accuracy_score, f1_score, log_loss, roc_auc_score
from sklearn.neighbors import RadiusNeighborsClassifier

from driftloop.cli.main import cli
from driftloop.tracking.monitoring import read_state
from tests.conftest import WINE_PROJECT, register_champion
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
    refused = 1000  # a missing input the model refuses: no class probabilities for its window, in either engine
    production.loc[refused, FEATURES[0]] = np.nan
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
    assert got["performance/roc_auc"].keys() == expected["performance/roc_auc"].keys()
    for step, (_, rows) in enumerate(days):
        labelled = rows[rows["colour"].notna()]
        figures = [("performance/accuracy", accuracy_score(labelled["colour"], labelled["prediction"])),
                   ("performance/f1", f1_score(labelled["colour"], labelled["prediction"], average="macro"))]
        if refused in rows.index:
            assert step in expected["performance/accuracy"] and step not in expected["performance/roc_auc"]
        else:
            probabilities = model.predict_proba(labelled[FEATURES])
            figures += [("performance/roc_auc", roc_auc_score(labelled["colour"], probabilities[:, 1])),
                        ("performance/log_loss", log_loss(labelled["colour"], probabilities))]
        for key, score in figures:
            if step not in expected[key]:  # the last window is open: its figures are provisional
                continue
            assert got[key][step] == pytest.approx(expected[key][step], rel=1e-9), (key, step)
            assert got[key][step] == pytest.approx(score, rel=1e-9), (key, step)


COLUMNS = ["temp (°C)", "wind.speed", "rank`x"]


def _monitor_daily_with_both_engines(workdir, uri: str, name: str, production: pd.DataFrame) -> tuple:
    """Profile ``name@champion`` on ``reference.csv``, write ``production`` as Parquet files of 250 rows, monitor it
    in daily windows of ``ts`` with target ``y`` by both engines (experiments ``numpy`` and ``spark``); the client
    and both runs' series (numpy's, Spark's)."""
    ds.write_dataset(pa.Table.from_pandas(production, preserve_index=False), workdir / "production",
                     format="parquet", max_rows_per_file=250, max_rows_per_group=250)
    profiled = CliRunner().invoke(cli, ["profile", "--model", f"{name}@champion", "--data", "reference.csv",
                                        "--multivariate", "none", "--tracking-uri", uri])
    assert profiled.exit_code == 0, profiled.output
    for engine in ("numpy", "spark"):
        result = CliRunner().invoke(cli, ["monitor", "--model", f"{name}@champion", "--data", "production",
                                          "--timestamp-column", "ts", "--window", "1d", "--target", "y",
                                          "--experiment", engine, "--engine", engine, "--tracking-uri", uri])
        assert result.exit_code in (0, 3), result.output
    client = MlflowClient(uri)
    return client, _series(client, _runs(client, "numpy")[0]), _series(client, _runs(client, "spark")[0])


def test_three_classes_scored_in_spark_give_the_numpy_engines_roc_auc_and_log_loss(spark, workdir):
    """Classes 0, 1, 2 (integers) predicted by the model in Spark, under awkward column names; one day lacks
    class 2 among its labels (one-vs-rest ROC AUC undefined: NaN in scikit-learn), one holds a label the model does
    not know (no figure); tied scores (a rounded input) counted half."""
    rng = np.random.default_rng(3)
    frame = pd.DataFrame(rng.normal(size=(2400, 3)), columns=COLUMNS)
    frame["wind.speed"] = frame["wind.speed"].round(0)  # few distinct values: ties among the scores
    frame["y"] = np.digitize(frame.sum(axis=1) + rng.normal(scale=1.0, size=len(frame)), [-1.0, 1.0])
    model = LogisticRegression(max_iter=1000).fit(frame[COLUMNS].iloc[:800], frame["y"].iloc[:800])
    uri = f"sqlite:///{workdir / 'mlflow.db'}"
    register_champion(uri, "three", model, frame[COLUMNS])
    frame.iloc[:800][COLUMNS].to_csv(workdir / "reference.csv", index=False)
    production = frame.iloc[800:].reset_index(drop=True)
    production["ts"] = (pd.Timestamp("2024-01-01") + pd.to_timedelta(np.arange(len(production)) * 5, "min")
                        ).astype("datetime64[ns]")
    day = production["ts"].dt.floor("D")
    production.loc[(day == day.unique()[1]) & (production["y"] == 2), "y"] = 1  # no class 2 that day
    production.loc[production.index[day == day.unique()[2]][3], "y"] = 7  # a class the model does not know
    production["y"] = production["y"].astype("float64")
    production.loc[::9, "y"] = np.nan
    client, expected, got = _monitor_daily_with_both_engines(workdir, uri, "three", production)
    assert got.keys() == expected.keys()
    # NaN (the days without class 2, with an unknown class) is not written to MLflow
    assert got["performance/roc_auc"].keys() == expected["performance/roc_auc"].keys() == {0, 3, 4}
    assert got["performance/log_loss"].keys() == expected["performance/log_loss"].keys() == {0, 1, 3, 4}
    for step, (_, rows) in enumerate(production.groupby(day)):
        labelled = rows[rows["y"].notna()]
        if step not in got["performance/accuracy"]:  # the open window, provisional
            continue
        for key in ("performance/roc_auc", "performance/log_loss", "performance/accuracy", "performance/f1"):
            if step in expected[key]:
                assert got[key][step] == pytest.approx(expected[key][step], rel=1e-9), (key, step)
        probabilities = model.predict_proba(labelled[COLUMNS])
        if step == 1:  # scikit-learn: undefined for class 2, so the macro mean is NaN
            assert math.isnan(roc_auc_score(labelled["y"], probabilities, multi_class="ovr", labels=[0, 1, 2]))
            assert got["performance/log_loss"][step] == pytest.approx(
                log_loss(labelled["y"], probabilities, labels=[0, 1, 2]), rel=1e-9)
        if step in (1, 2):
            continue
        auc = roc_auc_score(labelled["y"], probabilities, multi_class="ovr", average="macro", labels=[0, 1, 2])
        assert got["performance/roc_auc"][step] == pytest.approx(auc, rel=1e-9)
        assert got["performance/log_loss"][step] == pytest.approx(log_loss(labelled["y"], probabilities), rel=1e-9)


def test_probabilities_that_are_not_probabilities_give_a_reason_in_both_engines(spark, workdir):
    """scikit-learn's RadiusNeighborsClassifier with an outlier label gives an outlier row the probabilities
    (0, 0, 0): scikit-learn's multiclass ``roc_auc_score`` refuses them (the numpy engine stopped with a traceback)
    and log loss of such a row means nothing. Both engines say so for the windows holding such a row, and measure
    the other windows as scikit-learn does."""
    rng = np.random.default_rng(5)
    frame = pd.DataFrame(rng.normal(size=(2400, 2)), columns=COLUMNS[:2])
    frame["y"] = np.digitize(frame.sum(axis=1) + rng.normal(scale=0.5, size=len(frame)), [-0.7, 0.7])
    model = RadiusNeighborsClassifier(radius=2.0, outlier_label=-1).fit(frame[COLUMNS[:2]].iloc[:800],
                                                                       frame["y"].iloc[:800])
    uri = f"sqlite:///{workdir / 'mlflow.db'}"
    register_champion(uri, "radius", model, frame[COLUMNS[:2]], skops_trusted_types=[
        "sklearn.metrics._dist_metrics.EuclideanDistance64", "sklearn.neighbors._kd_tree.KDTree"])
    frame.iloc[:800][COLUMNS[:2]].to_csv(workdir / "reference.csv", index=False)
    production = frame.iloc[800:].reset_index(drop=True)
    production["ts"] = (pd.Timestamp("2024-01-01") + pd.to_timedelta(np.arange(len(production)) * 5, "min")
                        ).astype("datetime64[ns]")
    day = production["ts"].dt.floor("D")
    outliers = [production.index[day == day.unique()[i]][10] for i in (1, 3)]
    production.loc[outliers, "temp (°C)"] = 40.0  # no neighbour within the radius
    production["y"] = production["y"].astype("float64")
    production.loc[::9, "y"] = np.nan
    client, expected, got = _monitor_daily_with_both_engines(workdir, uri, "radius", production)
    assert got["performance/roc_auc"].keys() == expected["performance/roc_auc"].keys() == {0, 2, 4}
    assert got["performance/log_loss"].keys() == expected["performance/log_loss"].keys() == {0, 2, 4}
    reasons = {engine: {index: [r for r in window.reasons if r.startswith("class probabilities")]
                        for index, window in read_state(client, _runs(client, engine)[0].info.run_id).closed.items()}
               for engine in ("numpy", "spark")}
    assert reasons["spark"] == reasons["numpy"]
    for step in (1, 3):
        (reason,) = reasons["numpy"][step]
        assert "1 of " in reason and "(row sums from 0 to 1)" in reason and "no ROC AUC or log loss" in reason
    for step, (_, rows) in enumerate(production.groupby(day)):
        labelled = rows[rows["y"].notna()]
        if step in (1, 3) or step not in got["performance/roc_auc"]:
            continue
        probabilities = model.predict_proba(labelled[COLUMNS[:2]])
        auc = roc_auc_score(labelled["y"], probabilities, multi_class="ovr", average="macro", labels=[0, 1, 2])
        assert got["performance/roc_auc"][step] == pytest.approx(auc, rel=1e-9)
        assert expected["performance/roc_auc"][step] == pytest.approx(auc, rel=1e-9)
        assert got["performance/log_loss"][step] == pytest.approx(log_loss(labelled["y"], probabilities), rel=1e-9)

"""Estimated performance in the Spark engine (``local[2]``): a regressor (DLE), a binary and a three-class classifier
(CBPE) profiled with ``driftloop profile --target``, then monitored by both engines in daily windows, some without
labels: every ``estimated/`` figure of the numpy engine to 1e-9, and the same reasons (whole) and verdicts. A
window of one row, a window the model refuses, a window whose ``predict_proba`` fails (scikit-learn's message is
longer than 500 characters) and a window with a prediction that is not a number get the same reasons in both."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pytest
from click.testing import CliRunner
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.naive_bayes import GaussianNB

from driftloop.cli.main import cli
from driftloop.spark.monitor import NOT_COMPUTED
from tests.conftest import register_champion

FEATURES = ["a", "b", "c"]


def _rows(rng: np.random.Generator, n: int) -> pd.DataFrame:
    x = rng.normal(size=(n, 3))
    frame = pd.DataFrame(x, columns=FEATURES)
    frame["b"] = frame["b"].round(1)  # ties among the scores
    return frame


def _both_engines(workdir, uri: str, name: str, reference: pd.DataFrame, production: pd.DataFrame) -> tuple:
    """Profile ``name@champion`` on ``reference`` (target ``y``), write ``production`` as Parquet files of 300 rows,
    monitor it in daily windows of ``ts`` with target ``y`` by both engines; the profile's output and each engine's
    windows as JSON ({window: object}) and its output."""
    reference.to_csv(workdir / "reference.csv", index=False)
    profiled = CliRunner().invoke(cli, ["profile", "--model", f"{name}@champion", "--data", "reference.csv",
                                        "--target", "y", "--multivariate", "none", "--tracking-uri", uri])
    assert profiled.exit_code == 0, profiled.output
    ds.write_dataset(pa.Table.from_pandas(production, preserve_index=False), workdir / "production",
                     format="parquet", max_rows_per_file=300, max_rows_per_group=300)
    windows, outputs = {}, {}
    for engine in ("numpy", "spark"):
        result = CliRunner().invoke(cli, ["monitor", "--model", f"{name}@champion", "--data", "production",
                                          "--timestamp-column", "ts", "--window", "1d", "--target", "y",
                                          "--experiment", engine, "--engine", engine, "--format", "json",
                                          "--tracking-uri", uri])
        assert result.exit_code in (0, 3), result.output
        outputs[engine] = result.output
        lines = [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]
        windows[engine] = {w["window"]: w for w in lines}
    return profiled.output, windows["numpy"], windows["spark"], outputs


def _assert_same_estimates(expected: dict, got: dict) -> None:
    """Every window has the same ``estimated/`` figures (to 1e-9; None for NaN), reasons and verdict."""
    assert got.keys() == expected.keys()
    for index, window in expected.items():
        ours = got[index]
        assert ours["reasons"] == window["reasons"], index
        assert ours["verdict"] == window["verdict"], index
        keys = {k for k in window["metrics"] if k.startswith("estimated/")}
        assert keys == {k for k in ours["metrics"] if k.startswith("estimated/")}, index
        for key in keys:
            value, other = ours["metrics"][key], window["metrics"][key]
            assert (value is None and other is None) or value == pytest.approx(other, rel=1e-9, abs=1e-12), \
                (index, key, value, other)


def _daily(production: pd.DataFrame) -> pd.DataFrame:
    """``production`` (901 rows) with ``ts``: a row every 8 minutes, 180 rows a day, and the last row alone on the
    sixth day (a window of one row)."""
    production["ts"] = (pd.Timestamp("2024-01-01") + pd.to_timedelta(np.arange(len(production)) * 8, "min")
                        ).astype("datetime64[ns]")
    return production


def test_dle_in_spark_gives_the_numpy_engines_estimates(spark, workdir):
    rng = np.random.default_rng(0)
    frame = _rows(rng, 3000)
    frame["y"] = 2.0 * frame["a"] - frame["b"] + rng.normal(size=len(frame)) * (0.3 + np.abs(frame["a"]))
    model = LinearRegression().fit(frame[FEATURES].iloc[:2000], frame["y"].iloc[:2000])
    uri = f"sqlite:///{workdir / 'mlflow.db'}"
    register_champion(uri, "loss", model, frame[FEATURES])
    production = _daily(frame.iloc[2000:2901].reset_index(drop=True))
    production["a"] += 0.5  # covariate shift: DLE follows it
    production["prediction"] = model.predict(production[FEATURES])
    production.loc[250, "prediction"] = np.nan  # a prediction that is not a number: a data-quality reason
    production.loc[400:, "y"] = np.nan  # the last days without labels
    profiled, expected, got, outputs = _both_engines(workdir, uri, "loss", frame.iloc[:2000], production)
    assert "Estimated performance (DLE) fitted on 2000 labelled rows" in profiled
    _assert_same_estimates(expected, got)
    assert [expected[i]["rows"] for i in sorted(expected)] == [180, 180, 180, 180, 180, 1]
    assert "estimated/mae" not in expected[1]["metrics"]
    assert ("data quality: The predictions of the window must be finite numbers; got 1 "
                                          "NaN or infinite value(s). A data-quality problem: no estimate is made "
                                          "from them.") in expected[1]["reasons"]
    for index in (0, 2, 3, 4, 5):
        metrics = expected[index]["metrics"]
        assert metrics["estimated/mae/lower"] <= metrics["estimated/mae"] <= metrics["estimated/mae/upper"]
    assert "performance/mae" not in expected[3]["metrics"]  # estimated, not measured
    assert " ".join(NOT_COMPUTED.split()) in " ".join(outputs["spark"].split())
    assert "estimated performance" not in NOT_COMPUTED.split(";")[-1]


def test_cbpe_in_spark_gives_the_numpy_engines_estimates_of_a_binary_classifier(spark, workdir):
    """Gaussian naive Bayes: overconfident, so CBPE recalibrates its scores (isotonic knots applied in Spark's
    workers). The data holds no predictions: the model scores it, and refuses the window with a missing input."""
    rng = np.random.default_rng(1)
    frame = _rows(rng, 3000)
    p = 1 / (1 + np.exp(-(1.5 * frame["a"] - frame["b"] + 0.8 * frame["a"] * frame["c"])))
    frame["y"] = np.where(rng.uniform(size=len(frame)) < p, "yes", "no")
    model = GaussianNB().fit(frame[FEATURES].iloc[:2000], frame["y"].iloc[:2000])
    uri = f"sqlite:///{workdir / 'mlflow.db'}"
    register_champion(uri, "loans", model, frame[FEATURES])
    production = _daily(frame.iloc[2000:2901].reset_index(drop=True))
    production.loc[450, "c"] = np.nan  # the model refuses its window: no prediction, no estimate, in both
    production.loc[500:, "y"] = None
    profiled, expected, got, _ = _both_engines(workdir, uri, "loans", frame.iloc[:2000], production)
    assert "scores recalibrated by isotonic regression" in profiled
    _assert_same_estimates(expected, got)
    assert "estimated/accuracy" not in expected[2]["metrics"]
    assert any(r.startswith("the model could not score this window") for r in expected[2]["reasons"])
    for index in (0, 1, 3, 4):
        metrics = expected[index]["metrics"]
        for name in ("accuracy", "precision", "recall", "f1", "roc_auc"):
            assert metrics[f"estimated/{name}/lower"] <= metrics[f"estimated/{name}"] <= \
                metrics[f"estimated/{name}/upper"]
    assert expected[5]["rows"] == 1 and expected[5]["metrics"]["estimated/roc_auc"] is None  # one row: no pair


def test_cbpe_in_spark_gives_the_numpy_engines_estimates_of_three_classes(spark, workdir):
    """Three classes, predictions given in the data; one window's ``predict_proba`` fails on a missing input (the
    reason holds scikit-learn's whole message)."""
    rng = np.random.default_rng(2)
    frame = _rows(rng, 3000)
    frame["y"] = np.digitize(frame.sum(axis=1) + rng.normal(scale=1.0, size=len(frame)), [-1.0, 1.0])
    model = LogisticRegression(max_iter=1000).fit(frame[FEATURES].iloc[:2000], frame["y"].iloc[:2000])
    uri = f"sqlite:///{workdir / 'mlflow.db'}"
    register_champion(uri, "three", model, frame[FEATURES])
    production = _daily(frame.iloc[2000:2901].reset_index(drop=True))
    production["prediction"] = model.predict(production[FEATURES])
    production.loc[600, "b"] = np.nan  # predict_proba fails on the window, which has predictions
    production["y"] = production["y"].astype("float64")
    production.loc[:399, "y"] = np.nan  # the first days without labels
    profiled, expected, got, _ = _both_engines(workdir, uri, "three", frame.iloc[:2000], production)
    assert "Estimated performance (CBPE) fitted on 2000 labelled rows" in profiled
    _assert_same_estimates(expected, got)
    (failed,) = [r for r in expected[3]["reasons"] if r.startswith("estimated performance unavailable")]
    assert failed.startswith("estimated performance unavailable: predict_proba failed: ValueError: Input X contains "
                             "NaN") and len(failed) > 500
    for index in (0, 1, 2, 4, 5):
        metrics = expected[index]["metrics"]
        assert not math.isnan(metrics["estimated/accuracy"])
    assert expected[5]["rows"] == 1

"""Labels that arrive in another type than the model's outputs: read as the model's type when nothing is lost,
reported as wrong-type labels otherwise — never silently compared as unequal, never silently dropped."""

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from mlflow import MlflowClient
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.metrics import accuracy_score, f1_score, mean_absolute_error, roc_auc_score

from driftloop.cli.main import cli
from driftloop.monitor.performance import align_labels
from tests.conftest import register_champion

ROWS = 600


def _monitor(workdir, uri: str, name: str, production: pd.DataFrame, experiment: str) -> dict:
    path = workdir / f"{experiment}.csv"
    production.to_csv(path, index=False)
    result = CliRunner().invoke(cli, ["monitor", "--model", f"{name}@champion", "--data", str(path), "--rows",
                                      str(len(production)), "--target", "y", "--format", "json",
                                      "--tracking-uri", uri, "--experiment", experiment])
    assert result.exit_code in (0, 3), result.output
    (window,) = [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]
    return window


def _profiled(workdir, name: str, model, x: pd.DataFrame) -> str:
    """Register ``model`` (fitted on the first ``ROWS`` rows of ``x``) as ``name@champion`` in a store in
    ``workdir`` and attach its reference profile of those rows; the store's URI."""
    uri = f"sqlite:///{workdir / 'mlflow.db'}"
    register_champion(uri, name, model, x)
    x.iloc[:ROWS].to_csv(workdir / "reference.csv", index=False)
    assert CliRunner().invoke(cli, ["profile", "--model", f"{name}@champion", "--data", str(workdir / "reference.csv"),
                                    "--tracking-uri", uri]).exit_code == 0
    return uri


@pytest.fixture(scope="module")
def synthetic():
    rng = np.random.default_rng(7)
    x = pd.DataFrame({"a": rng.normal(size=2 * ROWS), "b": rng.normal(size=2 * ROWS)})
    return x, (x["a"] + 0.5 * x["b"] + rng.normal(scale=0.8, size=2 * ROWS) > 0).astype(int)


def test_integer_classes_with_missing_labels_are_compared_as_numbers(workdir, synthetic):
    """A CSV column of 0/1 labels with gaps reads as 1.0/0.0/NaN: compared as text, 1.0 never equals 1."""
    x, y = synthetic
    model = LogisticRegression().fit(x.iloc[:ROWS], y.iloc[:ROWS])
    uri = _profiled(workdir, "ints", model, x)
    production = x.iloc[ROWS:].assign(y=y.iloc[ROWS:].astype("float64"))
    production.loc[production.index[::10], "y"] = np.nan
    window = _monitor(workdir, uri, "ints", production, "floats")
    labelled = production["y"].notna()
    xs, ys = production.loc[labelled, ["a", "b"]], production.loc[labelled, "y"].astype(int)
    metrics = window["metrics"]
    assert metrics["performance/labelled_rows"] == labelled.sum()
    assert metrics["performance/accuracy"] == pytest.approx(accuracy_score(ys, model.predict(xs)), rel=1e-12)
    assert metrics["performance/f1"] == pytest.approx(f1_score(ys, model.predict(xs), average="macro"), rel=1e-12)
    assert metrics["performance/roc_auc"] == pytest.approx(roc_auc_score(ys, model.predict_proba(xs)[:, 1]))

    # the same labels written as text, one of them not a class at all
    text = production.assign(y=production["y"].map(lambda v: None if np.isnan(v) else f"{int(v)}"))
    text.loc[text.index[1], "y"] = "yes"
    window = _monitor(workdir, uri, "ints", text, "text")
    metrics, reasons = window["metrics"], " ".join(window["reasons"])
    usable = labelled.copy()
    usable.iloc[1] = False
    xs, ys = production.loc[usable, ["a", "b"]], production.loc[usable, "y"].astype(int)
    assert metrics["performance/labelled_rows"] == usable.sum()
    assert metrics["performance/accuracy"] == pytest.approx(accuracy_score(ys, model.predict(xs)), rel=1e-12)
    assert metrics["quality/label_type_errors"] == pytest.approx(1 / len(production))
    assert "label" in reasons and "'yes'" in reasons
    assert window["verdict"] != "ok"  # a label of the wrong type is a broken feedback pipeline: at least warn


def test_regression_labels_stored_as_text(workdir):
    rng = np.random.default_rng(3)
    x = pd.DataFrame({"a": rng.normal(size=2 * ROWS)})
    y = 3 * x["a"] + rng.normal(size=2 * ROWS)
    model = LinearRegression().fit(x.iloc[:ROWS], y.iloc[:ROWS])
    uri = _profiled(workdir, "reg", model, x)
    production = x.iloc[ROWS:].assign(y=[f" {v!r} " for v in y.iloc[ROWS:]])
    production.loc[production.index[4], "y"] = "1,5"
    window = _monitor(workdir, uri, "reg", production, "text")
    keep = np.ones(ROWS, dtype=bool)
    keep[4] = False
    metrics = window["metrics"]
    expected = mean_absolute_error(y.iloc[ROWS:][keep], model.predict(x.iloc[ROWS:][keep]))
    assert metrics["performance/mae"] == pytest.approx(expected, rel=1e-12)
    assert metrics["performance/labelled_rows"] == ROWS - 1
    assert metrics["quality/label_type_errors"] == pytest.approx(1 / ROWS)
    assert "'1,5'" in " ".join(window["reasons"])


@pytest.mark.parametrize(("labels", "predictions", "expected", "wrong"), [
    ([1.0, 0.0, None], [1, 0, 1], [1.0, 0.0, None], 0),
    (["1", " 0", "x"], [1, 0, 1], [1.0, 0.0, None], 1),
    ([1, 0, 2], ["1", "0", "1"], ["1", "0", "2"], 0),
    ([1.0, 0.5, None], ["1", "0", "1"], ["1", "0.5", None], 0),
    (["a", "b", None], ["a", "a", "b"], ["a", "b", None], 0),
    (["2.5", "abc", "3"], [2.0, 2.5, 3.5], [2.5, None, 3.0], 1),
])
def test_align_labels(labels, predictions, expected, wrong):
    aligned = align_labels(pd.Series(labels, dtype=object), pd.Series(predictions))
    assert [None if pd.isna(v) else v for v in aligned.values] == expected
    assert aligned.wrong_type == wrong


def test_profile_measures_the_baseline_on_labels_read_as_the_model_outputs(workdir, synthetic):
    """`profile --target` on 0/1 labels with gaps (1.0/0.0/NaN in the CSV) measures the true accuracy, and refuses
    labels that are not numbers with a message naming the column and an example."""
    x, y = synthetic
    uri = f"sqlite:///{workdir / 'mlflow.db'}"
    model = LogisticRegression().fit(x.iloc[:ROWS], y.iloc[:ROWS])
    register_champion(uri, "baseline", model, x)
    reference = x.iloc[:ROWS].assign(y=y.iloc[:ROWS].astype("float64"))
    reference.loc[reference.index[::7], "y"] = np.nan
    reference.to_csv(workdir / "reference.csv", index=False)
    result = CliRunner().invoke(cli, ["profile", "--model", "baseline@champion", "--data",
                                      str(workdir / "reference.csv"), "--target", "y", "--tracking-uri", uri])
    assert result.exit_code == 0, result.output
    labelled = reference["y"].notna()
    expected = accuracy_score(reference.loc[labelled, "y"].astype(int), model.predict(x.iloc[:ROWS][labelled]))
    run_id = MlflowClient(uri).get_model_version("baseline", "1").run_id
    assert MlflowClient(uri).get_run(run_id).data.metrics["performance/accuracy"] == pytest.approx(expected)

    reference["y"] = reference["y"].astype(object)
    reference.loc[reference.index[3], "y"] = "yes"
    reference.to_csv(workdir / "reference.csv", index=False)
    result = CliRunner().invoke(cli, ["profile", "--model", "baseline@champion", "--data",
                                      str(workdir / "reference.csv"), "--target", "y", "--tracking-uri", uri])
    assert result.exit_code != 0 and "'y'" in result.output and "'yes'" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("engine", ["numpy", "spark"])
def test_the_task_option_scores_whole_number_predictions_as_a_regression(workdir, engine):
    """A count model whose outputs are whole numbers (int64 predictions in the data) is a regressor: the monitor
    takes it for a classifier unless told, and ``--task regression`` must tell both engines (the numpy engine
    ignored the option)."""
    if engine == "spark":
        from driftloop.spark.session import spark_available

        if spark_available() is not None:
            pytest.skip(spark_available())
    rng = np.random.default_rng(11)
    x = pd.DataFrame({"a": rng.normal(size=2 * ROWS), "b": rng.normal(size=2 * ROWS)})
    y = np.round(np.exp(1 + 0.4 * x["a"]) + rng.normal(scale=0.5, size=2 * ROWS)).clip(0)
    model = LinearRegression().fit(x.iloc[:ROWS], y.iloc[:ROWS])
    uri = _profiled(workdir, "counts", model, x)
    production = x.iloc[ROWS:].assign(prediction=np.round(model.predict(x.iloc[ROWS:])).astype("int64"),
                                      y=y.iloc[ROWS:].to_numpy(), ts=pd.Timestamp("2024-01-01 00:00"))
    path = workdir / "production.parquet"
    production.to_parquet(path, index=False)
    result = CliRunner().invoke(cli, ["monitor", "--model", "counts@champion", "--data", str(path), "--engine", engine,
                                      "--timestamp-column", "ts", "--window", "1d", "--target", "y",
                                      "--task", "regression", "--format", "json", "--tracking-uri", uri])
    assert result.exit_code in (0, 3), result.output
    (window,) = [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]
    metrics = window["metrics"]
    assert "performance/f1" not in metrics
    assert metrics["performance/mae"] == pytest.approx(
        mean_absolute_error(production["y"], production["prediction"]), rel=1e-12)

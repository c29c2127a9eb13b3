"""Numbers stored as text in the Spark engine (``local[2]``): a model input and the label written as text
(``"12.5"``, ``" 3 "``, ``"n/a"``, ``"1,5"``) are read as the numpy engine reads them — the same drift, the same
``type_errors`` and ``coerced_from_text`` per column, the same ``label_type_errors``, the model scoring the numbers —
under awkward column names, over several files."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pytest
from click.testing import CliRunner
from mlflow import MlflowClient
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LinearRegression
from sklearn.pipeline import make_pipeline
from sklearn.metrics import mean_absolute_error

from driftloop.cli.main import cli
from tests.conftest import register_champion
from tests.monitor.test_late_data import _runs, _series
from tests.spark.test_spark_monitor import assert_same_figures

INPUTS = ["humidity %", "wind.speed", "rank`x"]
NUMPY_ONLY = ()  # what the Spark engine does not compute (its notes say so): nothing
NOT_NUMBERS = ["n/a", "1,5", "12abc", "inf", "9007199254740993"]  # text that is not a number, as the numpy engine reads


def _as_text(values: pd.Series, rng: np.random.Generator) -> pd.Series:
    """Numbers written as text as exports write them (repr, padded with spaces, fixed digits), a few missing and a
    few that are not numbers."""
    text = pd.Series([repr(v) if i % 3 else f"  {v:.6f} " for i, v in enumerate(values)], dtype=object)
    text[rng.random(len(text)) < 0.03] = None
    wrong = rng.random(len(text)) < 0.04
    text[wrong] = rng.choice(NOT_NUMBERS, int(wrong.sum()))
    return text


def test_numbers_stored_as_text_give_the_numpy_engines_figures(spark, workdir) -> None:
    rng = np.random.default_rng(17)
    frame = pd.DataFrame(rng.normal(size=(1600, len(INPUTS))), columns=INPUTS)
    frame.loc[1000:, "humidity %"] += 1.0  # drift in the column stored as text
    frame["y"] = frame.sum(axis=1) + rng.normal(size=len(frame))
    model = make_pipeline(SimpleImputer(), LinearRegression()).fit(  # scores rows with NaN
        frame[INPUTS].iloc[:600], frame["y"].iloc[:600])
    uri = f"sqlite:///{workdir / 'mlflow.db'}"
    register_champion(uri, "texty", model, frame[INPUTS], skops_trusted_types=["numpy.dtype"])  # the imputer's
    frame.iloc[:600].to_csv(workdir / "reference.csv", index=False)
    today = frame.iloc[600:].reset_index(drop=True)
    numbers = today.copy()
    today["humidity %"] = _as_text(today["humidity %"], rng)
    today["y"] = _as_text(today["y"], rng).replace({"inf": "yes"})
    today["ts"] = pd.date_range("2024-01-01", periods=len(today), freq="h").astype("datetime64[ns]")
    ds.write_dataset(pa.Table.from_pandas(today, preserve_index=False), workdir / "today", format="parquet",
                     max_rows_per_file=170, max_rows_per_group=170)
    runner = CliRunner()
    profiled = runner.invoke(cli, ["profile", "--model", "texty@champion", "--data", str(workdir / "reference.csv"),
                                   "--multivariate", "none", "--tracking-uri", uri])
    assert profiled.exit_code == 0, profiled.output
    for engine in ("numpy", "spark"):
        result = runner.invoke(cli, ["monitor", "--model", "texty@champion", "--data", str(workdir / "today"),
                                     "--timestamp-column", "ts", "--window", "7d", "--target", "y", "--engine",
                                     engine, "--experiment", engine, "--tracking-uri", uri])
        assert result.exit_code in (0, 3), result.output
    client = MlflowClient(uri)
    expected, got = _series(client, _runs(client, "numpy")[0]), _series(client, _runs(client, "spark")[0])
    assert {k for k in expected if k not in got if not k.startswith(NUMPY_ONLY)} == set()
    assert set(got) <= set(expected)
    assert_same_figures(got, expected)
    # the figures themselves, from the rows: what is not a number, and the model's error on the numbers
    weeks = today.assign(week=(today["ts"] - pd.Timestamp(0)) // pd.Timedelta("7D"))
    for step, (_, rows) in enumerate(weeks.groupby("week")):
        if step not in got["rows"]:  # the open window: provisional, in the child run
            continue
        text = rows["humidity %"]  # its metrics are named "humidity" in MLflow (tracking.metric_names)
        wrong = text.notna() & pd.to_numeric(text.str.strip(), errors="coerce").isna()
        wrong |= text.isin(["inf", "9007199254740993"])  # Python reads them; they are not lossless numerals
        assert got["quality/humidity/type_errors"][step] == pytest.approx(wrong.mean(), rel=1e-12)
        assert got["quality/humidity/missing_rate"][step] == pytest.approx(text.isna().mean(), rel=1e-12)
        labels = rows["y"]
        wrong_labels = labels.notna() & pd.to_numeric(labels.str.strip(), errors="coerce").isna()
        wrong_labels |= labels.isin(["9007199254740993"])
        assert got["quality/label_type_errors"][step] == pytest.approx(wrong_labels.mean(), rel=1e-12)
        inputs = numbers.loc[rows.index, INPUTS].copy()
        inputs["humidity %"] = pd.to_numeric(text.str.strip(), errors="coerce").where(~wrong)  # as written (digits)
        usable = labels.notna() & ~wrong_labels
        mae = mean_absolute_error(pd.to_numeric(labels[usable].str.strip()), model.predict(inputs[usable]))
        assert got["performance/mae"][step] == pytest.approx(mae, rel=1e-9)
    assert max(got["quality/label_type_errors"].values()) > 0 and max(got["quality/humidity/type_errors"].values()) > 0


def test_the_first_value_that_is_not_a_number_is_named_in_the_numpy_engines_file_order(spark, workdir) -> None:
    """Two files of one window, ``a b.parquet`` and ``a!b.parquet``: pyarrow reads ``a b`` first (a space sorts
    before ``!``), Spark's URIs would put ``a%20b`` after ``a!b``; each engine names the window's first value that is
    not a number, the one in ``a b``, as is its first label that is not a number."""
    rng = np.random.default_rng(5)
    frame = pd.DataFrame(rng.normal(size=(400, 2)), columns=["x", "z"])
    frame["y"] = frame["x"] - frame["z"] + rng.normal(size=len(frame))
    uri = f"sqlite:///{workdir / 'mlflow.db'}"
    model = make_pipeline(SimpleImputer(), LinearRegression()).fit(frame[["x", "z"]], frame["y"])  # scores NaN
    register_champion(uri, "ordered", model, frame[["x", "z"]], skops_trusted_types=["numpy.dtype"])
    frame.iloc[:200].to_csv(workdir / "reference.csv", index=False)
    folder = workdir / "today"
    folder.mkdir()
    for name, wrong in (("a!b", "second"), ("a b", "first")):  # written in the other order
        part = frame.iloc[200:300].astype(str).reset_index(drop=True)
        part.loc[[40, 60], "x"] = [f"{wrong} x", "later"]
        part.loc[[50, 70], "y"] = [f"{wrong} y", "later"]
        part["ts"] = pd.Timestamp("2024-01-01") + pd.to_timedelta(np.arange(len(part)), "min")
        part.to_parquet(folder / f"{name}.parquet", index=False)
    runner = CliRunner()
    profiled = runner.invoke(cli, ["profile", "--model", "ordered@champion", "--data", str(workdir / "reference.csv"),
                                   "--multivariate", "none", "--tracking-uri", uri])
    assert profiled.exit_code == 0, profiled.output
    reasons = {}
    for engine in ("numpy", "spark"):
        result = runner.invoke(cli, ["monitor", "--model", "ordered@champion", "--data", str(folder),
                                     "--timestamp-column", "ts", "--window", "1d", "--target", "y", "--format", "json",
                                     "--engine", engine, "--experiment", engine, "--tracking-uri", uri])
        assert result.exit_code in (0, 3), result.output
        (window,) = [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]
        reasons[engine] = [r for r in window["reasons"] if "not numbers" in r or "not of the model's" in r]
    assert reasons["spark"] == reasons["numpy"], window["reasons"]
    assert any("'first x'" in r for r in reasons["numpy"]), window["reasons"]
    assert any("'first y'" in r for r in reasons["numpy"]), window["reasons"]

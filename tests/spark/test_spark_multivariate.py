"""The multivariate detectors in the Spark engine (:mod:`driftloop.spark.multivariate`) give the numpy engine's
figures: PCA's mean error from every row, the domain classifier's and MMD's subsamples the same rows in the same
order (the numpy engine's row order within a window), so every ``multivariate/`` metric agrees to 1e-9 and the
reasons are the same. Real MLflow on SQLite, a real scikit-learn pipeline, the real CLI; and the module on its own
with subsamples smaller than the windows, for time windows (rows in file order over files not in time order) and
count windows."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from mlflow import MlflowClient
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

from driftloop.multivariate import DomainClassifier, MMDDetector, MultivariateDrift
from driftloop.spark.multivariate import multivariate_results
from driftloop.spark.row_order import FILE, POSITION, ROW
from driftloop.tracking.monitoring import read_state
from tests.conftest import register_champion
from tests.monitor.test_late_data import _chart, _runs
from tests.spark.test_log_export import _cli
from tests.spark.test_spark_monitor import NUMPY_ONLY, assert_same_figures

FEATURES = ["x", "y z", "colour"]
DAY = pd.Timedelta("1d")
START = pd.Timestamp("2024-03-01")


def _rows(rng: np.random.Generator, n: int, slope: float) -> pd.DataFrame:
    """``x`` and ``y z`` correlated by ``slope`` (same marginals whatever its sign), a colour; missing cells."""
    x = rng.normal(size=n)
    frame = pd.DataFrame({"x": x, "y z": slope * x + np.sqrt(1 - slope**2) * rng.normal(size=n),
                          "colour": rng.choice(["red", "green", "blue"], size=n, p=[0.5, 0.3, 0.2])})
    frame.loc[rng.random(n) < 0.05, "y z"] = np.nan
    frame.loc[rng.random(n) < 0.05, "colour"] = None
    return frame


def _model(workdir) -> str:
    """``mv@champion``, a pipeline over two numbers and a colour, profiled with the three detectors."""
    rng = np.random.default_rng(11)
    reference = _rows(rng, 3000, 0.8)
    target = reference["x"] + reference["y z"].fillna(0) + rng.normal(scale=0.2, size=len(reference))
    pipeline = make_pipeline(ColumnTransformer([
        ("numbers", SimpleImputer(), ["x", "y z"]),
        ("colour", make_pipeline(SimpleImputer(strategy="constant", fill_value="none"),
                                 OneHotEncoder(handle_unknown="ignore")), ["colour"])]), Ridge())
    uri = f"sqlite:///{workdir / 'mlflow.db'}"
    register_champion(uri, "mv", pipeline.fit(reference, target), reference, skops_trusted_types=["numpy.dtype"])
    reference.to_parquet(workdir / "reference.parquet")
    _cli("profile", "--model", "mv@champion", "--data", str(workdir / "reference.parquet"), "--multivariate",
         "pca,mmd,classifier", "--tracking-uri", uri)
    return uri


def _production(rng: np.random.Generator) -> pd.DataFrame:
    """Five days: two like the reference, one with the correlation flipped, one of 12 rows (fewer than every
    detector's minimum), one whose colours are all missing; in two files, neither in time order."""
    days = [_rows(rng, 600, 0.8), _rows(rng, 500, 0.8), _rows(rng, 600, -0.8), _rows(rng, 12, 0.8),
            _rows(rng, 300, 0.8).assign(colour=None)]
    for number, day in enumerate(days):
        day["ts"] = (START + number * DAY + pd.to_timedelta(rng.uniform(0, 86_000, len(day)), unit="s")
                     ).astype("datetime64[ns]")
    return pd.concat(days, ignore_index=True).sample(frac=1.0, random_state=3).reset_index(drop=True)


def _write(frame: pd.DataFrame, folder) -> None:
    folder.mkdir()
    half = len(frame) // 2
    for name, part in (("part-b.parquet", frame.iloc[:half]), ("part-a.parquet", frame.iloc[half:])):
        pq.write_table(pa.Table.from_pandas(part, preserve_index=False), folder / name, row_group_size=200)


def test_both_engines_give_the_same_multivariate_figures_and_reasons(spark, workdir):
    uri = _model(workdir)
    _write(_production(np.random.default_rng(12)), workdir / "production")
    for engine in ("numpy", "spark"):
        _cli("monitor", "--model", "mv@champion", "--data", str(workdir / "production"), "--timestamp-column", "ts",
             "--window", "1d", "--experiment", engine, "--engine", engine, "--tracking-uri", uri)
    client = MlflowClient(uri)
    expected, got = _chart(client, "numpy"), _chart(client, "spark")
    assert {k for k in expected if k not in got} <= {k for k in expected if k.startswith(NUMPY_ONLY)}
    assert set(got) <= set(expected)
    assert_same_figures(got, expected)
    for name in ("pca/reconstruction_error", "pca/p_value", "pca/upper_threshold", "mmd/mmd2", "mmd/p_value",
                 "classifier/auc", "classifier/p_value"):
        assert len(got[f"multivariate/{name}"]) == 3, name  # the three days large enough, with colours
    assert any(k.endswith("/classifier_importance") for k in got)
    states = {engine: read_state(client, _runs(client, engine)[0].info.run_id) for engine in ("numpy", "spark")}
    reasons = {engine: {index: window.reasons for index, window in [*state.closed.items(), *state.open.items()]}
               for engine, state in states.items()}  # the last day is still open (its end is after the last row)
    assert reasons["spark"] == reasons["numpy"]
    flipped, tiny, colourless = (reasons["spark"][step] for step in sorted(reasons["spark"])[2:])
    for label in ("PCA reconstruction error", "MMD", "domain classifier"):
        assert any(r.startswith(f"multivariate drift: {label}: ") for r in flipped), (label, flipped)
        assert f"multivariate {label} not computed: the window has 12 row(s)" in " ".join(tiny)
        assert f"multivariate {label} not computed: column(s) without a single value in the window: 'colour'" \
            in colourless
    quiet = [reasons["spark"][step] for step in sorted(reasons["spark"])[:2]]
    assert not any(r.startswith("multivariate drift") for day in quiet for r in day)
    assert got["multivariate/drifted"] == {step: value for step, value in expected["multivariate/drifted"].items()}


# ------------------------------------------------------------------ the module, with subsamples smaller than windows
SMALL = {"classifier": DomainClassifier(max_rows=150, max_iter=10), "mmd": MMDDetector(max_rows=100,
                                                                                     n_permutations=40)}
WINDOW, READ, LOG = "_driftloop_window", "_driftloop_read", "_driftloop_log_ns"


def _spark_rows(spark, frame: pd.DataFrame):
    return spark.createDataFrame(frame.astype({"colour": object}).replace({np.nan: None}))


def _assert_same(got, expected) -> None:
    assert [r.detector for r in got] == [r.detector for r in expected]
    for mine, theirs in zip(got, expected, strict=True):
        assert (mine.reason, mine.columns, mine.importances) == (theirs.reason, theirs.columns, theirs.importances)
        assert mine.statistics.keys() == theirs.statistics.keys()
        for key, value in mine.statistics.items():
            assert value == pytest.approx(theirs.statistics[key], rel=1e-12), key
        assert (math.isnan(mine.p_value) and math.isnan(theirs.p_value)) \
            or mine.p_value == pytest.approx(theirs.p_value, rel=1e-9, abs=1e-300)


@pytest.mark.parametrize(("chosen", "order"), [(("pca", "mmd", "classifier"), "files"),
                                               (("mmd", "classifier"), "files"),
                                               (("pca", "mmd", "classifier"), "reading order column"),
                                               (("mmd", "classifier"), "export")])
def test_subsamples_of_time_windows_are_the_numpy_engines(spark, chosen, order):
    from pyspark.sql import functions as F

    rng = np.random.default_rng(21)
    detectors = MultivariateDrift(detectors=chosen, **SMALL).fit(_rows(rng, 2000, 0.8))
    frame = pd.concat([_rows(rng, 400, 0.8).assign(**{WINDOW: 7}), _rows(rng, 260, -0.8).assign(**{WINDOW: 9}),
                       _rows(rng, 15, 0.8).assign(**{WINDOW: 10})], ignore_index=True)
    # three files (named so that their URIs sort otherwise than their paths), their rows interleaving the windows
    frame = frame.iloc[rng.permutation(len(frame))].reset_index(drop=True)
    frame[FILE] = [f"file:///data/{name}/part.parquet" for name in np.array(["c", "a!b", "a%20b"])[
        np.arange(len(frame)) % 3]]
    frame[ROW] = frame.groupby(FILE).cumcount()
    # the paths' order: '/data/a b' before '/data/a!b' (a space before '!'), which the URIs' text reverses
    paths = {"file:///data/a%20b/part.parquet": 0, "file:///data/a!b/part.parquet": 1, "file:///data/c/part.parquet": 2}
    frame[LOG] = rng.integers(0, 50, size=len(frame))  # an export's log time: ties, broken by file order
    keys = ["_rank", ROW] if order != "export" else [LOG, "_rank", ROW]
    in_order = frame.assign(_rank=frame[FILE].map(paths)).sort_values(keys, kind="stable")
    rows = {code: int((frame[WINDOW] == code).sum()) for code in (7, 9, 10)}
    data = _spark_rows(spark, frame if order == "export" else frame.drop(columns=[LOG]))
    if order == "reading order column":  # as the monitor's reader makes it: the files' ranks, then their rows
        ranks = spark.createDataFrame(list(paths.items()), f"{FILE} string, _rank long")
        data = data.join(F.broadcast(ranks), FILE).withColumn(READ, F.struct("_rank", ROW)).drop("_rank", FILE)
    got = multivariate_results(data, detectors, rows, window=WINDOW, first_rows=dict.fromkeys(rows),
                               reading_order=READ, log_time=LOG)
    for code in rows:
        window = in_order[in_order[WINDOW] == code][FEATURES].reset_index(drop=True)
        _assert_same(got[code], detectors.compare(window))
    assert got[10][0].reason.startswith("the window has 15 row(s)")


def test_subsamples_of_count_windows_are_the_numpy_engines(spark):
    rng = np.random.default_rng(22)
    detectors = MultivariateDrift(detectors=("pca", "mmd", "classifier"), **SMALL).fit(_rows(rng, 2000, 0.8))
    frame = pd.concat([_rows(rng, 300, 0.8), _rows(rng, 300, -0.8), _rows(rng, 120, 0.8)], ignore_index=True)
    frame[POSITION] = np.arange(len(frame))
    frame[WINDOW] = frame[POSITION] // 300
    shuffled = frame.sample(frac=1.0, random_state=1)  # Spark's rows in any order: their positions order them
    rows = {0: 300, 1: 300, 2: 120}
    got = multivariate_results(_spark_rows(spark, shuffled), detectors, rows, window=WINDOW,
                               first_rows={0: 0, 1: 300, 2: 600})
    for code in rows:
        _assert_same(got[code], detectors.compare(frame[frame[WINDOW] == code][FEATURES].reset_index(drop=True)))
    assert got[1][0].p_value < 1e-6 and not any(r.reason for r in got[2])

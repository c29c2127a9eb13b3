"""``driftloop monitor --engine spark`` in ``local[2]``: the figures of the numpy engine on the same Parquet data
(to 1e-9, p-values too), the same steps and timestamps in MLflow, and a Spark job that fails halfway writes nothing.
Real MLflow on SQLite, the real wine model, the real CLI."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pytest
from mlflow import MlflowClient

from driftloop.spark.monitor import MAX_VALUES_CONF, NOT_COMPUTED
from driftloop.tracking.monitoring import read_state
from tests.conftest import copy_store
from tests.monitor.test_late_data import _chart, _monitor, _red, _runs, _series

#: Figures of the numpy engine that the Spark engine does not compute (NOT_COMPUTED says so in the notes).
NUMPY_ONLY = ()


def assert_same_figures(got: dict[str, dict[int, float]], expected: dict[str, dict[int, float]]) -> None:
    """Every series of ``got`` ({metric: {step: value}}) holds the steps of the same series in ``expected`` with
    the same values to 1e-9 (NaN where it is NaN)."""
    for key, points in got.items():
        assert points.keys() == expected[key].keys(), key
        for step, value in points.items():
            other = expected[key][step]
            assert (math.isnan(value) and math.isnan(other)) or value == pytest.approx(other, rel=1e-9, abs=1e-12), \
                (key, step, value, other)

@pytest.fixture
def wine_store(trained_wine_store, workdir):
    return copy_store(trained_wine_store, workdir)


def _parquet(workdir, frame):
    folder = workdir / "red"
    ds.write_dataset(pa.Table.from_pandas(frame, preserve_index=False), folder, format="parquet",
                     max_rows_per_file=400, max_rows_per_group=100, basename_template="part-{i}.parquet")
    return folder


def _red_frame():
    red = _red()
    red["ts"] = np.array(red["ts"], dtype="datetime64[ns]")
    return red


@pytest.mark.parametrize("max_values", [None, "100"], ids=["windows-gathered", "windows-by-global-sort"])
def test_spark_engine_gives_the_numpy_engines_figures(spark, wine_store, workdir, max_values):
    folder = _parquet(workdir, _red_frame())
    outputs = {}
    if max_values is not None:  # every window larger than a task: the numeric drift from the global sort
        spark.conf.set(MAX_VALUES_CONF, max_values)
    try:
        for engine in ("numpy", "spark"):
            result = _monitor(wine_store, "--data", str(folder), "--timestamp-column", "ts", "--window", "7d",
                              "--target", "quality", "--experiment", engine, "--engine", engine)
            assert result.exit_code in (0, 3), result.output
            outputs[engine] = result.output
    finally:
        spark.conf.unset(MAX_VALUES_CONF)
    assert (f"exceed {MAX_VALUES_CONF}" in " ".join(outputs["spark"].split())) == (max_values is not None)
    assert " ".join(NOT_COMPUTED.split()) in " ".join(outputs["spark"].split())  # what it leaves out, said
    client = MlflowClient(wine_store)
    (numpy_run, _), (spark_run, _) = _runs(client, "numpy"), _runs(client, "spark")
    expected, got = _series(client, numpy_run), _series(client, spark_run)
    assert all(k.startswith(NUMPY_ONLY) for k in expected if k not in got)
    assert "quality/label_type_errors" in got
    assert set(got) <= set(expected)
    assert any(k.endswith("/ks_p_value") for k in got) and "performance/r2" in got and "drift/share" in got
    assert_same_figures(got, expected)
    for key in ("rows", "drift/share", "performance/mae"):  # the same timestamps (window ends) as well
        times = {p.step: p.timestamp for p in client.get_metric_history(numpy_run.info.run_id, key)}
        assert {p.step: p.timestamp for p in client.get_metric_history(spark_run.info.run_id, key)} == times
    # the report's charts: the same columns, bins and shares in every window
    charts = {engine: {index: [(d.column, d.labels, d.statistic) for d in window.distributions]
                       for index, window in read_state(client, run.info.run_id).closed.items()}
              for engine, run in (("numpy", numpy_run), ("spark", spark_run))}
    assert charts["spark"] == charts["numpy"] and any(charts["numpy"].values())
    shares = {engine: [share for window in read_state(client, run.info.run_id).closed.values()
                       for d in window.distributions for share in (*d.reference_share, *d.window_share, d.value)]
              for engine, run in (("numpy", numpy_run), ("spark", spark_run))}
    assert shares["spark"] == pytest.approx(shares["numpy"], rel=1e-9, abs=1e-12)


def test_a_spark_job_failing_halfway_writes_no_window(spark, wine_store, workdir):
    folder = _parquet(workdir, _red_frame())
    damaged = folder / "part-2.parquet"
    intact = damaged.read_bytes()
    damaged.write_bytes(intact[: len(intact) // 2] + intact[-8:])  # footer kept, column chunks cut: fails when read
    args = ("--data", str(folder), "--timestamp-column", "ts", "--window", "7d", "--target", "quality",
            "--engine", "spark")
    failed = _monitor(wine_store, *args)
    assert failed.exit_code == 1, failed.output
    assert "The Spark job failed, nothing was written to MLflow" in failed.output
    assert "Traceback" not in failed.output
    client = MlflowClient(wine_store)
    experiment = client.get_experiment_by_name("model-monitoring")
    runs = client.search_runs([experiment.experiment_id]) if experiment else []
    assert all(not run.data.metrics for run in runs)  # no window, not even a partial one
    damaged.write_bytes(intact)
    again = _monitor(wine_store, *args)
    assert again.exit_code in (0, 3), again.output
    assert sorted(_chart(client)["rows"]) == [0, 1, 2, 3, 4]  # four closed windows, the last one open


def test_categorical_counts_of_every_column_in_one_aggregate_match_the_numpy_comparison(spark, tmp_path):
    """Two categorical columns (one with values the reference never saw, and missing values) and a numeric one:
    the Spark engine's drift rows and ``unseen`` quality per window equal :meth:`ReferenceProfile.compare` of the
    window's rows."""
    from driftloop.monitor.engine import MonitorInputs
    from driftloop.profile import ReferenceProfile
    from driftloop.spark.monitor import assess_windows_spark, read_windows

    rng = np.random.default_rng(5)
    reference = pd.DataFrame({"x": rng.normal(size=600), "colour": rng.choice(["red", "white"], 600),
                              "size": rng.choice([1, 2, 3], 600)})
    profile = ReferenceProfile(categorical_columns=["size"]).fit(reference)
    rows = 900
    data = pd.DataFrame({"x": rng.normal(0.2, 1.0, rows), "colour": rng.choice(["red", "white", "rose", None], rows),
                         "size": rng.choice([1, 2, 3, 4], rows),
                         "ts": pd.Timestamp("2024-01-01") + pd.to_timedelta(np.sort(rng.uniform(0, 3, rows)), "D")})
    data["ts"] = data["ts"].astype("datetime64[ns]")
    folder = tmp_path / "windows"
    ds.write_dataset(pa.Table.from_pandas(data, preserve_index=False), folder, format="parquet",
                     max_rows_per_file=250, max_rows_per_group=250)
    features = ["x", "colour", "size"]
    frame, cut = read_windows(spark, str(folder), features, time_column="ts", window="1d", rows=None, target=None,
                              notes=[])
    inputs = MonitorInputs(profile, features, None)
    results = assess_windows_spark(frame, cut.windows, inputs, task=None, partitions=2, notes=[])
    assert len(results) == 3
    for result in results:
        rows_in = data[(data["ts"] >= result.start.tz_localize(None)) & (data["ts"] < result.end.tz_localize(None))]
        expected = profile.compare(rows_in[features])
        pd.testing.assert_frame_equal(result.drift.reset_index(drop=True), expected, rtol=1e-9)
        unseen = (~rows_in["colour"].isin(["red", "white"]) & rows_in["colour"].notna()).mean()
        assert result.metrics["quality/colour/unseen"] == pytest.approx(unseen)
        assert result.metrics["quality/size/unseen"] == pytest.approx((rows_in["size"] == 4).mean())
        assert result.metrics["quality/colour/missing_rate"] == pytest.approx(rows_in["colour"].isna().mean())

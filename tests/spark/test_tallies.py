"""The cells' tallies of numeric columns (missing, infinite, outside the reference's range,
:mod:`driftloop.spark.tallies`): counted by the numeric drift's packing workers when each (window, column) fits a
task, so that no window aggregate reads the numeric columns again, and by the window aggregate for the global
sort's plan; both give the numpy engine's quality figures and drift rows."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pytest

from driftloop.spark.ecdf import ColumnReference, numeric_summaries_and_tallies
from driftloop.spark.monitor import MAX_VALUES_CONF
from driftloop.spark.tallies import Tallies


def test_packing_workers_tally_every_group_over_many_batches(spark):
    """Groups spread over Arrow batches of 4 rows and 3 partitions; a group without finite values (no summary)
    still has its tallies; a column without a range counts nothing outside."""
    cells = {0: [1.0, None, float("nan"), 5.0, -3.0, float("inf"), 0.5, 2.0, 2.5],
             1: [None, float("nan"), float("-inf"), None, float("inf"), None]}
    rows = [(w, a, 7.0) for w, values in cells.items() for a in values]
    frame = spark.createDataFrame(rows, "w long, a double, b double").repartition(3)
    previous = spark.conf.get("spark.sql.execution.arrow.maxRecordsPerBatch")
    spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", "4")
    try:
        references = [ColumnReference(np.array([0.0, 1.0, 2.0]), np.array([1.0]), None)] * 2
        summaries, tallies = numeric_summaries_and_tallies(frame, references, [(0.0, 2.0), None], partitions=2)
    finally:
        spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", previous)
    assert tallies == {(0, 0): Tallies(missing=2, infinite=1, outside=3), (1, 0): Tallies(4, 2, 0),
                       (0, 1): Tallies(0, 0, 0), (1, 1): Tallies(0, 0, 0)}
    assert set(summaries) == {(0, 0), (0, 1), (1, 1)}  # window 1 of column a holds no finite value
    assert summaries[(0, 0)].gaps.n_window == 6


def _data(rng) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A reference and three daily windows: ``x`` with missing, NaN, infinite and out-of-range values (all missing
    in the last window), ``n`` whole numbers beyond the reference's range, ``colour`` categorical."""
    reference = pd.DataFrame({"x": rng.normal(size=600), "n": rng.integers(0, 10, 600),
                              "colour": rng.choice(["red", "white"], 600)})
    rows = 900
    x = rng.normal(0.3, 1.5, rows)
    x[rng.random(rows) < 0.1] = np.nan
    x[rng.random(rows) < 0.05] = np.inf
    x[rng.random(rows) < 0.05] = -np.inf
    days = np.repeat([0, 1, 2], rows // 3)
    x[days == 2] = np.nan
    data = pd.DataFrame({"x": x, "n": rng.integers(-3, 14, rows), "colour": rng.choice(["red", "white", None], rows),
                         "ts": pd.Timestamp("2024-01-01") + pd.to_timedelta(days + rng.uniform(0, 1, rows), "D")})
    data["ts"] = data["ts"].astype("datetime64[ns]")
    return reference, data


@pytest.mark.parametrize("max_values", [None, "100"], ids=["windows-gathered", "windows-by-global-sort"])
def test_tallies_give_the_numpy_engines_quality_and_drift_and_numbers_are_aggregated_once(spark, tmp_path,
                                                                                           monkeypatch, max_values):
    from pyspark.sql import GroupedData

    from driftloop.monitor.engine import MonitorInputs
    from driftloop.monitor.quality import quality_metrics
    from driftloop.profile import ReferenceProfile
    from driftloop.spark.monitor import assess_windows_spark, read_windows

    reference, data = _data(np.random.default_rng(11))
    profile = ReferenceProfile().fit(reference)
    folder = tmp_path / "windows"
    ds.write_dataset(pa.Table.from_pandas(data.sample(frac=1.0, random_state=2), preserve_index=False), folder,
                     format="parquet", max_rows_per_file=200, max_rows_per_group=100)
    features = ["x", "n", "colour"]
    aggregated: list[str] = []  # every Spark aggregate expression of the pass
    original = GroupedData.agg
    monkeypatch.setattr(GroupedData, "agg", lambda self, *exprs: (aggregated.extend(map(str, exprs)),
                                                                  original(self, *exprs))[1])
    if max_values is not None:
        spark.conf.set(MAX_VALUES_CONF, max_values)
    try:
        frame, cut = read_windows(spark, str(folder), features, time_column="ts", window="1d", rows=None,
                                  target=None, notes=[])
        inputs = MonitorInputs(profile, features, None)
        results = assess_windows_spark(frame, cut.windows, inputs, task=None, partitions=2, notes=[])
    finally:
        spark.conf.unset(MAX_VALUES_CONF)
    assert len(results) == 3
    for result in results:
        rows_in = data[(data["ts"] >= result.start.tz_localize(None)) & (data["ts"] < result.end.tz_localize(None))]
        expected, _ = quality_metrics(rows_in, features, list(inputs.reference_ranges),
                                      inputs.reference_ranges, inputs.reference_categories)
        assert {k: v for k, v in result.metrics.items() if k.startswith("quality/")} == pytest.approx(expected)
        pd.testing.assert_frame_equal(result.drift.reset_index(drop=True), profile.compare(rows_in[features]),
                                      rtol=1e-9)
    assert results[0].metrics["quality/x/out_of_range"] > 0 and results[0].metrics["quality/n/out_of_range"] > 0
    assert results[2].metrics["quality/x/missing_rate"] == 1.0
    # the numeric columns reach an aggregate only where no packing worker tallies them: the global sort's plan
    numbers_aggregated = any(re.search(r"(?<![\w`])(x|n)(?![\w`])", expression) for expression in aggregated)
    assert numbers_aggregated == (max_values is not None), aggregated

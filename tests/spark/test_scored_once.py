"""Data without predictions is scored by the model once per pass in the Spark engine, though the window facts and
each aggregate of the assessment read the rows again: the scored frame is cached for the assessment and released
after it. The model counts its rows in an accumulator."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds

from driftloop.monitor.engine import MonitorInputs
from driftloop.monitor.job import MonitorOptions, _spark_assess
from driftloop.profile import ReferenceProfile
from driftloop.spark.monitor import read_windows
from driftloop.spark.scoring import model_scorer


def test_rows_without_predictions_are_scored_once_and_the_cache_released(spark, tmp_path):
    rng = np.random.default_rng(11)
    reference = pd.DataFrame({"x": rng.normal(size=400), "colour": rng.choice(["red", "white"], 400)})
    reference["prediction"] = 2.0 * reference["x"]
    profile = ReferenceProfile().fit(reference)
    rows = 600
    data = pd.DataFrame({"x": rng.normal(0.3, 1.0, rows), "colour": rng.choice(["red", "white"], rows),
                         "label": rng.normal(size=rows),
                         "ts": pd.Timestamp("2024-01-01") + pd.to_timedelta(np.sort(rng.uniform(0, 3, rows)), "D")})
    data["ts"] = data["ts"].astype("datetime64[ns]")
    folder = tmp_path / "unscored"
    ds.write_dataset(pa.Table.from_pandas(data, preserve_index=False), folder, format="parquet",
                     max_rows_per_file=200, max_rows_per_group=100)
    scored = spark.sparkContext.accumulator(0)

    def model(inputs):
        scored.add(len(inputs))
        return (2.0 * inputs["x"]).to_numpy()

    features = ["x", "colour"]
    frame, cut = read_windows(spark, str(folder), features, time_column="ts", window="1d", rows=None, target=None,
                              notes=[], score=lambda: model_scorer(model, features, "double"))
    assert frame.is_cached
    results = _spark_assess(frame, cut.windows, MonitorInputs(profile, features, None), MonitorOptions(), [])
    assert [r.rows for r in results] == [w.rows for w in cut.windows] and sum(r.rows for r in results) == rows
    assert all(r.drift.loc[r.drift["column"] == "prediction", "value"].notna().all() for r in results)  # scored
    assert scored.value == rows  # once per row, not once per job
    assert not frame.is_cached

"""The Spark engine's numeric summaries (:mod:`driftloop.spark.ecdf`) equal the one-machine figures
(:func:`driftloop.stats.ecdf_gaps`, :func:`driftloop.profile.bins.bin_counts`, the departures, the KS p-value) and
scipy's, whatever the partitioning: ties within and across windows, values equal to the reference's, missing and
infinite cells, a constant reference with round-off, and each window's values spread over many files, partitions,
Arrow batches and packed pieces."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from scipy import stats as scipy_stats

from driftloop import stats
from driftloop.profile.bins import bin_counts, quantile_edges
from driftloop.errors import DriftloopError
from driftloop.spark.ecdf import PIECE, ColumnReference, numeric_summaries
from driftloop.spark.ecdf_sorted import numeric_summaries_sorted
from driftloop.spark.monitor import DEFAULT_MAX_VALUES_PER_TASK, MAX_VALUES_CONF, _numeric_plan
from driftloop.stats.constant import snap_sorted


def _windows(rng) -> tuple[dict[int, np.ndarray], pd.DataFrame]:
    """References of three columns (rounded normal: ties; exponential; held at 0.3) and four windows of rows in
    wide form: column sizes differ (missing cells), with NaN and infinities, and window 3 larger than a piece."""
    references = {0: np.sort(np.round(rng.normal(size=600), 1)), 1: np.sort(rng.exponential(size=300)),
                  2: np.full(200, 0.3)}
    frames = []
    for w, size in enumerate([300, 340, 380, PIECE + 4000]):
        x0 = np.round(rng.normal(0.2 * w, 1.0, size=size), 1)
        x1 = rng.exponential(1.0 + w, size=size)
        x1[rng.random(size) < 0.2] = np.nan  # missing
        x1[:3] = [np.inf, -np.inf, np.nan]
        x2 = np.where(rng.random(size) < 0.1 * w, 0.5, 0.1 * 3)  # 0.30000000000000004: snapped to 0.3
        frames.append(pd.DataFrame({"w": w, "x0": x0, "x1": x1, "x2": x2}))
    return references, pd.concat(frames, ignore_index=True)


PLANS = {"gathered": numeric_summaries, "global sort": numeric_summaries_sorted}


@pytest.mark.parametrize("plan", PLANS)
def test_numeric_summaries_in_spark_equal_numpy_and_scipy_over_many_files_and_batches(spark, tmp_path, plan):
    """Each window's rows shuffled over 9 Parquet files (every file holds rows of every window), read in Arrow
    batches of 500 rows: a plan that summarised a group per file, partition, batch or piece would differ. Both
    plans: a window's values gathered in one task, and the global sort for windows too large for one."""
    rng = np.random.default_rng(7)
    references, data = _windows(rng)
    data = data.sample(frac=1.0, random_state=3).reset_index(drop=True)
    folder = tmp_path / "wide"
    folder.mkdir()
    for i, part in enumerate(np.array_split(np.arange(len(data)), 9)):
        pq.write_table(pa.Table.from_pandas(data.iloc[part], preserve_index=False), folder / f"part-{i}.parquet",
                       row_group_size=700)
    edges = {c: quantile_edges(r, 10) for c, r in references.items()}
    previous = spark.conf.get("spark.sql.execution.arrow.maxRecordsPerBatch")
    spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", "500")
    try:
        frame = spark.read.parquet(str(folder)).select("w", "x0", "x1", "x2").repartition(5)
        got = PLANS[plan](frame, [ColumnReference(references[c], edges[c], 0.3 if c == 2 else None)
                                  for c in range(3)], partitions=3)
    finally:
        spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", previous)
    assert set(got) == {(w, c) for w in range(4) for c in range(3)}
    for (w, c), summary in got.items():
        values = data.loc[data["w"] == w, f"x{c}"].to_numpy()
        window = np.sort(values[np.isfinite(values)])
        reference = references[c]
        departures = snap_sorted(window, 0.3) if c == 2 else 0
        expected = stats.ecdf_gaps(reference, window)
        if plan == "gathered":
            assert summary.gaps == expected, (w, c)  # bit for bit, the area too
        else:  # the area summed over the sort's partitions: the additions in another order
            assert summary.gaps._replace(area=expected.area) == expected, (w, c)
            assert summary.gaps.area == pytest.approx(expected.area, rel=1e-12)
        assert summary.bins.tolist() == bin_counts(window, edges[c]).tolist()
        assert summary.departures == departures
        ks = stats.ks_2samp_sorted(reference, window, gaps=summary.gaps)
        oracle = scipy_stats.ks_2samp(reference, window)
        assert ks.statistic == pytest.approx(oracle.statistic, abs=1e-12)
        assert ks.p_value == pytest.approx(oracle.pvalue, rel=1e-9)
        assert summary.gaps.area == pytest.approx(scipy_stats.wasserstein_distance(reference, window), rel=1e-9)
    assert got[(3, 2)].departures > 0 and got[(0, 2)].departures == 0  # the round-off 0.1 * 3 is not a departure


@pytest.mark.parametrize("plan", PLANS)
def test_a_group_without_finite_values_has_no_summary(spark, plan):
    frame = spark.createDataFrame([(0, 1.0, None), (0, 2.0, float("nan")), (1, float("inf"), 3.0)],
                                  "w long, a double, b double")
    references = [ColumnReference(np.array([1.0, 2.0]), np.array([1.0, 2.0]), None)] * 2
    got = PLANS[plan](frame, references, partitions=2)
    assert set(got) == {(0, 0), (1, 1)}
    assert got[(0, 0)].gaps == stats.ecdf_gaps([1.0, 2.0], [1.0, 2.0])


def test_windows_larger_than_a_task_take_the_global_sort_and_say_so(spark):
    from driftloop.data.dataset import WindowSpec

    windows = [WindowSpec(i, None, None, rows, None) for i, rows in enumerate([500, DEFAULT_MAX_VALUES_PER_TASK])]
    notes: list[str] = []
    assert _numeric_plan(spark, windows, notes) is numeric_summaries and not notes
    spark.conf.set(MAX_VALUES_CONF, "499")
    try:
        assert _numeric_plan(spark, windows, notes) is numeric_summaries_sorted
        assert notes == [f"windows of up to {DEFAULT_MAX_VALUES_PER_TASK:,} rows exceed {MAX_VALUES_CONF} (499 values "
                         "a task): numeric drift from the global sort, exact but slower (raise the setting if the "
                         "Python workers have the memory: 16 bytes a value)"]
        spark.conf.set(MAX_VALUES_CONF, "lots")
        with pytest.raises(DriftloopError, match=f"{MAX_VALUES_CONF} must be a positive number of values; got 'lots'"):
            _numeric_plan(spark, windows, notes)
    finally:
        spark.conf.unset(MAX_VALUES_CONF)

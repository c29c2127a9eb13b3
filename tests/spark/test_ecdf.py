"""The Spark engine's numeric summaries from a global sort (:mod:`driftloop.spark.ecdf`) equal the one-machine walk
(:func:`driftloop.stats.ecdf_gaps`, :func:`driftloop.profile.bins.bin_counts`, the KS p-value) whatever the
partitioning: ties within and across windows, values equal to the reference's, groups split over partitions."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as scipy_stats

from driftloop import stats
from driftloop.profile.bins import bin_counts, quantile_edges
from driftloop.spark.ecdf import ColumnReference, numeric_summaries, segment_walk, weighted_bin_counts
from driftloop.stats.constant import roundoff_tolerance, snap_sorted


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_segments_merge_to_the_one_machine_walk(seed):
    """Cut a window's sorted distinct values into random segments: the merged segments give ecdf_gaps exactly."""
    rng = np.random.default_rng(seed)
    reference = np.sort(np.round(rng.normal(size=400), 1))
    window = np.sort(np.round(rng.normal(0.3, 1.2, size=250), 1))
    values, counts = np.unique(window, return_counts=True)
    cuts = np.sort(rng.choice(np.arange(1, len(values)), size=4, replace=False))
    bounds = [0, *cuts, len(values)]
    parts = []
    offset = 0
    for start, stop in zip(bounds[:-1], bounds[1:], strict=True):
        following = values[stop] if stop < len(values) else None
        parts.append(segment_walk(values[start:stop], counts[start:stop], reference, len(window), offset, following,
                                  start == 0))
        offset += int(counts[start:stop].sum())
    expected = stats.ecdf_gaps(reference, window)
    assert max(p[0] for p in parts) == expected.scaled_max_gap
    assert sum(p[2] for p in parts) == pytest.approx(expected.area, rel=1e-12)
    edges = quantile_edges(reference, 10)
    assert weighted_bin_counts(values, counts, edges).tolist() == bin_counts(window, edges).tolist()


def test_numeric_summaries_in_spark_equal_numpy(spark):
    rng = np.random.default_rng(7)
    references = {0: np.sort(np.round(rng.normal(size=600), 1)), 1: np.sort(rng.exponential(size=300)),
                  2: np.full(200, 0.3)}
    edges = {c: quantile_edges(r, 10) for c, r in references.items()}
    rows, windows = [], {}
    for w in range(4):
        samples = {0: np.round(rng.normal(0.2 * w, 1.0, size=200 + 40 * w), 1),
                   1: rng.exponential(1.0 + w, size=150),
                   2: np.where(rng.random(100) < 0.1 * w, 0.5, 0.1 * 3)}
        for c, sample in samples.items():
            windows[(w, c)] = np.sort(sample)
            tolerance = roundoff_tolerance(0.3)  # the engine snaps a constant column's values in Spark likewise
            snapped = np.where((sample >= 0.3 - tolerance) & (sample <= 0.3 + tolerance), 0.3, sample) \
                if c == 2 else sample
            rows += [(w, c, float(x)) for x in snapped]
    frame = spark.createDataFrame(rows, "w long, c int, v double")
    got = numeric_summaries(frame, {c: ColumnReference(r, edges[c], 0.3 if c == 2 else None)
                                    for c, r in references.items()}, partitions=5)
    assert set(got) == set(windows)
    for (w, c), window in windows.items():
        reference = references[c]
        departures = snap_sorted(window, 0.3) if c == 2 else 0
        expected = stats.ecdf_gaps(reference, window)
        summary = got[(w, c)]
        assert (summary.gaps.n_reference, summary.gaps.n_window, summary.gaps.scaled_max_gap) == \
               (expected.n_reference, expected.n_window, expected.scaled_max_gap), (w, c)
        assert summary.gaps.area == pytest.approx(expected.area, rel=1e-12, abs=1e-15)
        assert summary.bins.tolist() == bin_counts(window, edges[c]).tolist()
        assert summary.departures == departures
        ks = stats.ks_2samp_sorted(reference, window, gaps=summary.gaps)
        oracle = scipy_stats.ks_2samp(reference, window)
        assert ks.statistic == pytest.approx(oracle.statistic, abs=1e-12)
        assert ks.p_value == pytest.approx(oracle.pvalue, rel=1e-9)
        assert summary.gaps.area == pytest.approx(scipy_stats.wasserstein_distance(reference, window), rel=1e-9)

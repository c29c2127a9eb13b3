"""KS, Wasserstein-1, the binned counts and the departures of numeric columns in Spark for windows too large for one
task (:mod:`driftloop.spark.ecdf` gathers a (window, column) group in one Python task): exact, from one global sort.

Input: the wide frame of :func:`driftloop.spark.ecdf.numeric_summaries` (the window code, then the numeric columns).
Its finite values become long rows ``(w, c, v)`` (a value within round-off of a constant reference snapped to it,
as :func:`driftloop.stats.constant.snap_sorted` snaps); they are range-partitioned and counted per distinct value
(:func:`driftloop.spark.ranges.sorted_runs`), and each partition walks its *segments*:

- per partition (``mapInArrow``) each segment walks its window values merged with the slice of the reference
  (broadcast, sorted) that it owns, ``[first value, next start)`` (from ``-inf`` for a group's first segment, to
  ``+inf`` for its last), starting from the running counts ``i = #reference < first value`` and ``j = offset``. At
  every pooled distinct value ``z`` it has ``i = n F(z)`` and ``j = m G(z)``, as the one-machine walk
  (:func:`driftloop.stats.ecdf_gaps`) has, so the segment's largest scaled gap ``max |(m/g) i - (n/g) j|`` and its
  share of the area ``sum |F - G| (z_{k+1} - z_k)`` (the last step reaching to the next start) are those of the
  one-machine walk over the same points. Bin counts over the reference's edges are counted alike.

The driver merges the segments: the largest gap is the maximum (an integer: KS is exact), the area the sum (only the
order of the floating-point additions differs: Wasserstein-1 agrees to about 1e-15 relative), bin counts and
departures the sums. A task holds one partition of the sorted distinct values, whatever the window's size; the price
is a shuffle of one row per value (several times slower than the gathered plan, ``BENCHMARKS.md``).

References: D. E. Knuth, *The Art of Computer Programming*, vol. 3, section 5.2.4 (merging sorted runs); M. Zaharia
et al., "Resilient distributed datasets", NSDI 2012 (range partitioning, ``mapPartitions``).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from driftloop.spark.cells import finite, quoted
from driftloop.spark.ecdf import ColumnReference, NumericSummary
from driftloop.spark.ranges import check_same_runs, sorted_runs
from driftloop.stats import ECDFGaps
from driftloop.stats.constant import roundoff_tolerance

PARTIAL_SCHEMA = "w long, c int, p int, first double, k long, h long, largest double, area double, " \
                 "departures long, bins array<long>"


def weighted_bin_counts(values: NDArray[np.float64], counts: NDArray[np.int64],
                        edges: NDArray[np.float64]) -> NDArray[np.int64]:
    """:func:`driftloop.profile.bins.bin_counts` of sorted distinct ``values`` each repeated ``counts`` times.

    >>> weighted_bin_counts(np.array([-5.0, 0.0, 1.5, 2.0, 9.0]), np.array([1, 1, 2, 1, 3]), np.array([0.0, 1.0, 2.0]))
    array([1, 1, 3, 3])
    """
    if len(edges) == 1:
        inner = np.array([np.searchsorted(values, edges[0], side="left"),
                          np.searchsorted(values, edges[0], side="right")])
    else:
        inner = np.empty(len(edges), dtype=np.int64)
        inner[:-1] = np.searchsorted(values, edges[:-1], side="left")
        inner[-1] = np.searchsorted(values, edges[-1], side="right")
    running = np.concatenate([[0], np.cumsum(counts)])
    return np.diff(np.concatenate([[0], running[inner], [running[-1]]])).astype(np.int64)


def segment_walk(values: NDArray[np.float64], counts: NDArray[np.int64], reference: NDArray[np.float64], m: int,
                 offset: int, next_start: float | None, first: bool) -> tuple[int, float, float]:
    """The largest scaled gap, the largest float gap and the area of one segment (see the module docstring).

    >>> ref = np.array([0.0, 1.0, 1.0, 2.0, 2.0, 3.0])
    >>> whole = segment_walk(np.array([0.0, 3.0]), np.array([3, 1]), ref, 4, 0, None, True)
    >>> left = segment_walk(np.array([0.0]), np.array([3]), ref, 4, 0, 3.0, True)
    >>> right = segment_walk(np.array([3.0]), np.array([1]), ref, 4, 3, None, False)
    >>> whole[0], max(left[0], right[0]), whole[2], left[2] + right[2]  # as ecdf_gaps: 7 and 0.91666...
    (7, 7, 0.9166666666666667, 0.9166666666666667)
    """
    n = len(reference)
    low = 0 if first else int(np.searchsorted(reference, values[0], side="left"))
    high = n if next_start is None else int(np.searchsorted(reference, next_start, side="left"))
    points = np.union1d(reference[low:high], values)
    i = np.searchsorted(reference, points, side="right").astype(np.int64)
    running = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    j = offset + running[np.searchsorted(values, points, side="right")]
    g = math.gcd(n, m)
    if n * m < 2**62:
        scaled = int(np.abs(i * (m // g) - j * (n // g)).max())
    else:  # pragma: no cover - samples of more than 2**31 values: recovered from the float gap, as ecdf_gaps does
        scaled = 0
    gap = np.abs(i / n - j / m)
    area = float(np.sum(gap[:-1] * np.diff(points)))
    if next_start is not None:
        area += float(gap[-1] * (next_start - points[-1]))
    return scaled, float(gap.max()), area


def _walker(shared):
    """The ``mapInArrow`` function over one partition of the sorted values (``shared``: the broadcast segments,
    group sizes and references)."""

    def walk(batches):
        import pyarrow as pa

        segments, totals, references = shared.value
        batches = list(batches)  # the partition's segments, sorted: one partition is one range of the sort
        if not batches:
            return
        table = pa.Table.from_batches(batches)
        w, c, p = (table.column(name).to_numpy() for name in ("w", "c", "p"))
        v, k = table.column("v").to_numpy(), table.column("k").to_numpy()
        starts = np.flatnonzero(np.r_[True, (w[1:] != w[:-1]) | (c[1:] != c[:-1])])
        ends = np.r_[starts[1:], len(w)]
        rows: dict[str, list[Any]] = defaultdict(list)
        for start, end in zip(starts, ends, strict=True):
            key = (int(p[start]), int(w[start]), int(c[start]))
            offset, next_start, first = segments[key]
            reference = references[key[2]]
            values, counts = v[start:end], k[start:end]
            scaled, largest, area = segment_walk(values, counts, reference.values, totals[key[1:]], offset,
                                                 next_start, first)
            departures = int(counts[values != reference.constant].sum()) if reference.constant is not None else 0
            for name, value in (("w", key[1]), ("c", key[2]), ("p", key[0]), ("first", float(values[0])),
                                ("k", int(counts.sum())), ("h", scaled), ("largest", largest), ("area", area),
                                ("departures", departures),
                                ("bins", weighted_bin_counts(values, counts, reference.edges).tolist())):
                rows[name].append(value)
        schema = pa.schema([("w", pa.int64()), ("c", pa.int32()), ("p", pa.int32()), ("first", pa.float64()),
                            ("k", pa.int64()), ("h", pa.int64()), ("largest", pa.float64()), ("area", pa.float64()),
                            ("departures", pa.int64()), ("bins", pa.list_(pa.int64()))])
        yield pa.RecordBatch.from_pydict(dict(rows), schema=schema)

    return walk


def _long(frame, references: Sequence[ColumnReference]):
    """The finite values of the wide ``frame`` as long rows ``(w, c, v)``, snapped to a constant reference."""
    from pyspark.sql import functions as F

    window, *columns = frame.columns
    pieces = []
    for c, name in enumerate(columns):
        cell = quoted(name).cast("double")
        held = references[c].constant
        if held is not None:  # as the numpy engine snaps (stats.constant.snap_sorted)
            tolerance = roundoff_tolerance(held)
            cell = F.when((cell >= held - tolerance) & (cell <= held + tolerance), F.lit(held)).otherwise(cell)
        pieces.append(F.struct(F.lit(c).alias("c"), cell.alias("v")))
    value = F.col("_v.v")
    return (frame.select(quoted(window).alias("w"), F.explode(F.array(*pieces)).alias("_v"))
            .select("w", F.col("_v.c").alias("c"), value.alias("v"))
            .where(finite(value)))


def numeric_summaries_sorted(frame, references: Sequence[ColumnReference], partitions: int
                             ) -> dict[tuple[int, int], NumericSummary]:
    """:func:`driftloop.spark.ecdf.numeric_summaries` of the same wide ``frame`` by the global sort (see the module
    docstring): the same figures, for windows whose values of a column do not fit in one task."""
    long = _long(frame, references)
    with sorted_runs(long, partitions) as runs:
        shared = long.sparkSession.sparkContext.broadcast((runs.segments, runs.totals, list(references)))
        try:
            partials = runs.ordered.mapInArrow(_walker(shared), PARTIAL_SCHEMA).collect()
        finally:
            shared.unpersist()
    check_same_runs(runs, partials)
    merged: dict[tuple[int, int], list] = defaultdict(list)
    for row in sorted(partials, key=lambda r: (r.w, r.c, r.p)):
        merged[(row.w, row.c)].append(row)
    result = {}
    for (w, c), rows in merged.items():
        n, m = len(references[c].values), runs.totals[(w, c)]
        h = max(r.h for r in rows)
        if n * m >= 2**62:  # pragma: no cover - as ecdf_gaps
            h = round(max(r.largest for r in rows) * (n // math.gcd(n, m)) * m)
        area = sum(r.area for r in rows)  # in partition order: value order
        bins = np.sum([np.asarray(r.bins, dtype=np.int64) for r in rows], axis=0)
        result[(w, c)] = NumericSummary(ECDFGaps(n, m, int(h), float(area)), bins,
                                        int(sum(r.departures for r in rows)))
    return result

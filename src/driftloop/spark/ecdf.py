"""KS, Wasserstein-1 and the binned counts of numeric columns in Spark, exact, from one global sort.

Input: the finite values of every (window, column) group in long form ``(w, c, v)``. They are range-partitioned
by ``(w, c, v)`` (one shuffle), their distinct values counted and sorted within each partition, and kept while two
passes read them:

1. per partition and group: the first value and the number of window values (a small aggregate, collected);
   the driver turns them into each segment's *offset* (window values of its group in earlier partitions), the
   *next start* (first value of its group in the next partition holding it) and the group's size ``m``;
2. per partition (``mapInArrow``): each segment walks its window values merged with the slice of the reference
   (broadcast, sorted) that it owns, ``[first value, next start)`` (from ``-inf`` for a group's first segment, to
   ``+inf`` for its last), starting from the running counts ``i = #reference < first value`` and ``j = offset``.
   At every pooled distinct value ``z`` it has ``i = n F(z)`` and ``j = m G(z)``, as the one-machine walk
   (:func:`driftloop.stats.ecdf_gaps`) has, so the segment's largest scaled gap ``max |(m/g) i - (n/g) j|`` and
   its share of the area ``sum |F - G| (z_{k+1} - z_k)`` (the last step reaching to the next start) are those of
   the one-machine walk over the same points. Bin counts over the reference's edges are counted alike.

The driver merges the segments: the largest gap is the maximum (an integer: KS is exact), the area the sum (only
the order of the floating-point additions differs: Wasserstein-1 agrees to about 1e-15 relative), bin counts and
departures from a constant reference the sums. Rows never reach the driver: it receives one small row per segment.

References: D. E. Knuth, *The Art of Computer Programming*, vol. 3, section 5.2.4 (merging sorted runs); M. Zaharia
et al., "Resilient distributed datasets", NSDI 2012 (range partitioning, ``mapPartitions``).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from driftloop.errors import DriftloopError
from driftloop.stats import ECDFGaps


class ColumnReference(NamedTuple):
    """What the walk needs of a numeric reference column: its sorted values (or quantile summary, as the profile
    keeps them), the bin edges, and the constant it holds (``None`` unless the reference is constant)."""

    values: NDArray[np.float64]
    edges: NDArray[np.float64]
    constant: float | None


class NumericSummary(NamedTuple):
    """One (window, column) group: the gaps of :func:`driftloop.stats.ecdf_gaps`, the bin counts and the
    departures from a constant reference."""

    gaps: ECDFGaps
    bins: NDArray[np.int64]
    departures: int


PARTIAL_SCHEMA = "w long, c int, p int, first double, k long, h long, largest double, area double, " \
                 "departures long, bins array<long>"


class SortedRuns(NamedTuple):
    """The values of every (``w``, ``c``) group sorted across partitions: ``ordered`` (columns ``w, c, v, k, p``:
    each distinct value once with its count ``k``, partition ``p``; cached), ``heads`` (per partition and group its
    first value and count), ``segments`` (``(p, w, c)`` -> offset, next start, whether it is the group's first
    segment) and ``totals`` (values per group)."""

    ordered: Any
    heads: list
    segments: dict[tuple[int, int, int], tuple[int, float | None, bool]]
    totals: dict[tuple[int, int], int]


@contextmanager
def sorted_runs(long, partitions: int) -> Iterator[SortedRuns]:
    """The global sort of ``long`` (columns ``w, c, v``) into ``partitions`` ranges, cached while the block runs
    (see the module docstring: one shuffle, then one small aggregate collected). Neither ``w`` nor ``c`` may be a
    constant: Spark drops a constant grouping key, and the count then needs a hash exchange that breaks the ranges
    (checked: an error rather than wrong figures)."""
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    # one shuffle: the range partitioning also clusters equal values, so the count needs no exchange of its own
    ordered = (long.repartitionByRange(partitions, "w", "c", "v")
               .groupBy("w", "c", "v").agg(F.count(F.lit(1)).alias("k"))
               .sortWithinPartitions("w", "c", "v")
               .withColumn("p", F.spark_partition_id()).persist(StorageLevel.MEMORY_AND_DISK))
    try:
        heads = ordered.groupBy("p", "w", "c").agg(F.min("v").alias("first"), F.max("v").alias("last"),
                                                    F.sum("k").alias("k")).collect()
        by_group: dict[tuple[int, int], list[tuple[int, float, int, float]]] = defaultdict(list)
        for row in heads:
            by_group[(row.w, row.c)].append((row.p, row.first, row.k, row["last"]))
        segments: dict[tuple[int, int, int], tuple[int, float | None, bool]] = {}
        totals: dict[tuple[int, int], int] = {}
        for (w, c), parts in by_group.items():
            parts.sort()
            if any(before[3] >= after[1] for before, after in zip(parts, parts[1:])):
                raise DriftloopError("The Spark engine's global sort did not give ranges (Spark planned another "
                                     "exchange between the range partitioning and the count): report this.")
            offset = 0
            for position, (p, _first, k, _last) in enumerate(parts):
                following = parts[position + 1][1] if position + 1 < len(parts) else None
                segments[(p, w, c)] = (offset, following, position == 0)
                offset += k
            totals[(w, c)] = offset
        yield SortedRuns(ordered, heads, segments, totals)
    finally:
        ordered.unpersist()


def check_same_runs(runs: SortedRuns, partials: list) -> None:
    """Refuse results whose partitions (first value and count per segment) differ from the ``heads`` of the first
    pass: an executor lost its cached blocks and recomputed them differently."""
    expected = {(row.p, row.w, row.c): (row.first, row.k) for row in runs.heads}
    if {(r.p, r.w, r.c): (r.first, r.k) for r in partials} != expected:
        raise DriftloopError("The Spark engine's two passes over the sorted values saw different partitions "
                             "(an executor lost its cached blocks and recomputed them): run the command again.")


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
    """The ``mapInArrow`` function of pass 2 over one partition (``shared``: the broadcast segments and
    references)."""

    def walk(batches):
        import pyarrow as pa

        segments, totals, references = shared.value
        batches = list(batches)  # the partition's segments, sorted: one partition is one range of the sort
        if not batches:
            return
        table = pa.Table.from_batches(batches)
        w = table.column("w").to_numpy()
        c = table.column("c").to_numpy()
        p = table.column("p").to_numpy()
        v = table.column("v").to_numpy()
        k = table.column("k").to_numpy()
        starts = np.flatnonzero(np.r_[True, (w[1:] != w[:-1]) | (c[1:] != c[:-1])])
        ends = np.r_[starts[1:], len(w)]
        rows: dict[str, list[Any]] = defaultdict(list)
        for start, end in zip(starts, ends, strict=True):
            key = (int(p[start]), int(w[start]), int(c[start]))
            offset, next_start, first = segments[key]
            reference = references[key[2]]
            values, counts = v[start:end], k[start:end]
            m = totals[key[1:]]
            scaled, largest, area = segment_walk(values, counts, reference.values, m, offset, next_start, first)
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


def numeric_summaries(long, references: dict[int, ColumnReference], partitions: int
                      ) -> dict[tuple[int, int], NumericSummary]:
    """Exact gaps, bin counts and departures of every (window ``w``, column ``c``) group of the finite values
    ``v`` of the Spark DataFrame ``long`` (constant columns already snapped to their constant), against
    ``references[c]``; ``partitions`` ranges of the global sort."""
    with sorted_runs(long, partitions) as runs:
        shared = long.sparkSession.sparkContext.broadcast((runs.segments, runs.totals, references))
        try:
            partials = runs.ordered.mapInArrow(_walker(shared), PARTIAL_SCHEMA).collect()
        finally:
            shared.unpersist()
    check_same_runs(runs, partials)
    totals = runs.totals
    merged: dict[tuple[int, int], list] = defaultdict(list)
    for row in sorted(partials, key=lambda r: (r.w, r.c, r.p)):
        merged[(row.w, row.c)].append(row)
    result = {}
    for (w, c), rows in merged.items():
        n, m = len(references[c].values), totals[(w, c)]
        h = max(r.h for r in rows)
        if n * m >= 2**62:  # pragma: no cover - as ecdf_gaps
            h = round(max(r.largest for r in rows) * (n // math.gcd(n, m)) * m)
        area = sum(r.area for r in rows)  # in partition order: value order
        bins = np.sum([np.asarray(r.bins, dtype=np.int64) for r in rows], axis=0)
        result[(w, c)] = NumericSummary(ECDFGaps(n, m, int(h), float(area)), bins,
                                        int(sum(r.departures for r in rows)))
    return result

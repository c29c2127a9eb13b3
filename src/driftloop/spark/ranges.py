"""The global sort of the Spark profile: every column's finite values sorted across partitions by one range
shuffle, each distinct value once with its count, and each partition's offsets within its column.

Input: long rows ``(w, c, v)`` (the profile uses one group per column). They are range-partitioned by ``(w, c, v)``
(one shuffle), their distinct values counted and sorted within each partition, and kept (cached) while the caller
reads them; per partition and group the first value and the number of values (a small aggregate, collected) give
the driver each *segment*'s offset (values of its group in earlier partitions), its *next start* (first value of its
group in the next partition holding it) and the group's size. The profile needs this because its kept ranks are
global ranks of a column that need not fit on one worker (a monitor's window does: :mod:`driftloop.spark.ecdf`).

References: D. E. Knuth, *The Art of Computer Programming*, vol. 3, section 5.2.4 (merging sorted runs); M. Zaharia
et al., "Resilient distributed datasets", NSDI 2012 (range partitioning, ``mapPartitions``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple

from driftloop.errors import DriftloopError


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

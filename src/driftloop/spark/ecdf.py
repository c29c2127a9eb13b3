"""KS, Wasserstein-1, the binned counts and the departures of numeric columns in Spark, exact: each (window,
column) group's values gathered by one hash shuffle and summarised in one Python task by the numpy engine's own
functions.

Input: a DataFrame whose first column is the window code and whose other columns are the numeric columns (doubles,
constant columns not yet snapped), in the order of their references. Two steps, one shuffle:

1. map, no shuffle (``mapInArrow`` over the wide rows: no row per value): each Arrow batch's finite values of every
   (window, column) are packed as raw float64 bytes, in pieces of at most :data:`PIECE` values — one row
   ``(w, c, piece)`` per piece, so Spark moves 8 bytes per value and a few rows per batch; the group's first row
   of the batch also carries the cells' tallies (missing, infinite, outside the reference's range:
   :mod:`driftloop.spark.tallies`), which the window aggregate would otherwise count in a second scan;
2. one hash shuffle by ``(w, c)`` into ``partitions`` tasks (``groupBy("w", "c").applyInArrow``): the task that
   receives a group concatenates its pieces (in any order), sorts them, snaps the values within round-off of a
   constant reference to it (:func:`driftloop.stats.constant.snap_sorted`, counting the departures), counts the bins
   over the reference's edges (:func:`driftloop.profile.bins.bin_counts`) and walks both CDFs
   (:func:`driftloop.stats.ecdf_gaps`) — the calls the numpy engine makes on the same sorted values
   (:meth:`ReferenceProfile._summarise <driftloop.profile.ReferenceProfile>`), so every figure is the numpy
   engine's, bit for bit (the sort of a multiset does not depend on the order its pieces arrive in).

The driver receives one small row per group (sizes, the integer largest gap, the area, the bin counts, the
departures, the tallies summed); rows never reach it.

Memory: a reduce task holds one (window, column) group's finite values about twice (the received pieces and the
sorted copy): 16 bytes per value, 16 MB for a window of a million rows, 1.6 GB for 100 million. A window whose
values of one column do not fit in one Python worker's memory needs shorter windows (or the numpy engine out of
core). A map task holds one Arrow batch (``spark.sql.execution.arrow.maxRecordsPerBatch`` rows).

References: J. Dean and S. Ghemawat, "MapReduce: simplified data processing on large clusters", OSDI 2004 (a map,
a shuffle by key, a reduce per key); D. E. Knuth, *The Art of Computer Programming*, vol. 3, section 5.2 (sorting).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

from driftloop.spark.tallies import TALLIES_SCHEMA, Tallies, finite_and_tallies
from driftloop.stats import ECDFGaps

#: Values per packed piece (64 KB): the rows Spark sends a reduce task in one Arrow batch (at most
#: ``spark.sql.execution.arrow.maxRecordsPerBatch``, 10,000 by default: 655 MB) stay below Arrow's 2 GB per binary
#: column.
PIECE = 8192

PIECES_SCHEMA = f"w long, c int, piece binary, {TALLIES_SCHEMA}"
SUMMARY_SCHEMA = f"w long, c int, n long, m long, h long, area double, departures long, bins array<long>, " \
                 f"{TALLIES_SCHEMA}"


class ColumnReference(NamedTuple):
    """What a numeric column's window summary needs of its reference: its sorted values (or quantile summary, as
    the profile keeps them), the bin edges, and the constant it holds (``None`` unless the reference is
    constant)."""

    values: NDArray[np.float64]
    edges: NDArray[np.float64]
    constant: float | None


class NumericSummary(NamedTuple):
    """One (window, column) group: the gaps of :func:`driftloop.stats.ecdf_gaps`, the bin counts and the
    departures from a constant reference."""

    gaps: ECDFGaps
    bins: NDArray[np.int64]
    departures: int


def summarise_values(values: NDArray[np.float64], reference: ColumnReference) -> NumericSummary:
    """The summary of one group's finite ``values`` (any order; sorted here, in place) against ``reference``, by the
    numpy engine's functions in its order: sort, snap to a constant reference, bin counts, CDF gaps.

    >>> ref = ColumnReference(np.array([0.0, 1.0, 1.0, 2.0, 2.0, 3.0]), np.array([1.0, 2.0]), None)
    >>> summary = summarise_values(np.array([3.0, 0.0, 0.0, 0.0]), ref)
    >>> summary.gaps.scaled_max_gap, summary.gaps.area, summary.bins.tolist()
    (7, 0.9166666666666667, [3, 0, 1])
    """
    from driftloop.profile.bins import bin_counts
    from driftloop.stats import ecdf_gaps
    from driftloop.stats.constant import snap_sorted

    values.sort()
    departures = snap_sorted(values, reference.constant) if reference.constant is not None else 0
    return NumericSummary(ecdf_gaps(reference.values, values, check=False), bin_counts(values, reference.edges),
                          departures)


def _packer(bounds: Sequence[tuple[float, float] | None]):
    """Step 1 (``mapInArrow``): each batch's finite values per (window, column), packed in pieces of
    :data:`PIECE` values, and the cells' :class:`~driftloop.spark.tallies.Tallies` against ``bounds[c]`` on the
    group's first row of the batch (an empty piece where the batch holds no finite value of the group)."""

    def pack(batches: Iterator) -> Iterator:
        import pyarrow as pa

        schema = pa.schema([("w", pa.int64()), ("c", pa.int32()), ("piece", pa.binary()),
                            *[(kind, pa.int64()) for kind in Tallies._fields]])
        for batch in batches:
            codes = batch.column(0).to_numpy()
            windows = np.unique(codes)
            out: dict[str, list] = {name: [] for name in schema.names}
            for c in range(1, batch.num_columns):
                column = batch.column(c).to_numpy(zero_copy_only=False).astype(np.float64, copy=False)  # null: NaN
                for code in windows:
                    values, tallies = finite_and_tallies(column if len(windows) == 1 else column[codes == code],
                                                         bounds[c - 1])
                    for start in range(0, max(len(values), 1), PIECE):
                        out["w"].append(int(code))
                        out["c"].append(c - 1)
                        out["piece"].append(values[start:start + PIECE].tobytes())
                        for kind, count in zip(Tallies._fields, tallies if start == 0 else (0, 0, 0), strict=True):
                            out[kind].append(count)
            yield pa.RecordBatch.from_pydict(out, schema=schema)

    return pack


def _gathered(pieces) -> NDArray[np.float64]:
    """The float64 values of a binary column of packed pieces (no nulls), in one new array."""
    parts = []
    for chunk in pieces.chunks:
        if len(chunk) == 0 or chunk.buffers()[2] is None:  # no piece, or only empty ones (no finite value)
            continue
        offsets = np.frombuffer(chunk.buffers()[1], dtype=np.int32)[chunk.offset:chunk.offset + len(chunk) + 1]
        data = np.frombuffer(chunk.buffers()[2], dtype=np.uint8)[offsets[0]:offsets[-1]]
        parts.append(data.view(np.float64))
    return np.concatenate(parts) if parts else np.empty(0, dtype=np.float64)


def _summariser(shared):
    """Step 2 (``applyInArrow``): one group's summary and its cells' tallies, summed (``shared``: the broadcast
    references). A group without finite values has no summary: ``m`` is 0."""

    def summarise(table):
        import pyarrow as pa
        import pyarrow.compute as pc

        references = shared.value
        w, c = table.column("w")[0].as_py(), table.column("c")[0].as_py()
        tallies = {kind: pa.array([pc.sum(table.column(kind)).as_py()], pa.int64()) for kind in Tallies._fields}
        values = _gathered(table.column("piece"))
        reference = references[c]
        if len(values) == 0:
            return pa.table({"w": pa.array([w], pa.int64()), "c": pa.array([c], pa.int32()),
                             "n": pa.array([len(reference.values)], pa.int64()), "m": pa.array([0], pa.int64()),
                             "h": pa.array([0], pa.int64()), "area": pa.array([float("nan")]),
                             "departures": pa.array([0], pa.int64()), "bins": pa.array([[]], pa.list_(pa.int64())),
                             **tallies})
        summary = summarise_values(values, reference)
        gaps = summary.gaps
        return pa.table({"w": pa.array([w], pa.int64()), "c": pa.array([c], pa.int32()),
                         "n": pa.array([gaps.n_reference], pa.int64()), "m": pa.array([gaps.n_window], pa.int64()),
                         "h": pa.array([gaps.scaled_max_gap], pa.int64()), "area": pa.array([gaps.area]),
                         "departures": pa.array([summary.departures], pa.int64()),
                         "bins": pa.array([summary.bins.tolist()], pa.list_(pa.int64())), **tallies})

    return summarise


def numeric_summaries_and_tallies(frame, references: Sequence[ColumnReference],
                                  bounds: Sequence[tuple[float, float] | None], partitions: int
                                  ) -> tuple[dict[tuple[int, int], NumericSummary], dict[tuple[int, int], Tallies]]:
    """Exact gaps, bin counts and departures of every (window ``w``, column ``c``) group that has finite values,
    and the :class:`~driftloop.spark.tallies.Tallies` of every group's cells against ``bounds[c]`` (the
    reference's range, or ``None``), both keyed ``(w, c)``: ``frame``'s first column is the window code, its column
    ``1 + c`` holds the doubles compared with ``references[c]``; ``partitions`` tasks share the groups (see the
    module docstring)."""
    shared = frame.sparkSession.sparkContext.broadcast(list(references))
    try:
        pieces = frame.mapInArrow(_packer(list(bounds)), PIECES_SCHEMA)
        rows = (pieces.repartition(partitions, "w", "c").groupBy("w", "c")
                .applyInArrow(_summariser(shared), SUMMARY_SCHEMA).collect())
    finally:
        shared.unpersist()
    summaries = {(row.w, row.c): NumericSummary(ECDFGaps(row.n, row.m, row.h, row.area),
                                                np.asarray(row.bins, dtype=np.int64), row.departures)
                 for row in rows if row.m > 0}
    return summaries, {(row.w, row.c): Tallies(row.missing, row.infinite, row.outside) for row in rows}


def numeric_summaries(frame, references: Sequence[ColumnReference], partitions: int
                      ) -> dict[tuple[int, int], NumericSummary]:
    """The summaries of :func:`numeric_summaries_and_tallies` (no reference range: the tallies are not wanted)."""
    return numeric_summaries_and_tallies(frame, references, [None] * len(references), partitions)[0]

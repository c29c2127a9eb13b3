r"""The reference profile in Spark: :meth:`ReferenceProfile.fit <driftloop.profile.ReferenceProfile.fit>`'s
profile (same folder format, same numbers) of a Parquet dataset, from per-partition summaries; rows never reach the
driver, only what the profile itself stores.

What each part is made of:

1. rows, missing and non-finite values, minimum, maximum, mean and standard deviation of every column: one
   aggregate (Spark's ``stddev_pop`` merges per-partition central moments: T. F. Chan, G. H. Golub and R. J.
   LeVeque, "Updating formulae and a pairwise algorithm for computing sample variances", 1979);
2. numeric columns: the finite values sorted globally (:func:`driftloop.spark.ranges.sorted_runs`: one range
   shuffle, each distinct value once with its count, per-partition offsets), then each partition returns, run-length
   encoded, the values at the ranks the profile keeps — every rank up to ``max_exact_size`` values, else the
   ranks of the quantile summary (:func:`driftloop.profile.quantiles.summary_ranks`) and of the bin edges
   (:func:`driftloop.profile.bins.quantile_ranks`) — with the first and last rank of each value (the bin counts
   over the full column are rank differences) and its share of the summary's error bounds: at every distinct value
   :math:`z` of a segment, :math:`n F(z)` is the segment's offset plus its running count and :math:`m \hat F(z)`
   the number of kept ranks below :math:`n F(z)`, so :math:`\sup |F - \hat F|` is the largest segment maximum and
   :math:`\int |F - \hat F|` the sum of the segments' areas, as :func:`~driftloop.profile.quantiles.ks_gap` and
   :func:`~driftloop.profile.quantiles.wasserstein_gap` compute them on one machine;
3. categorical columns: one ``groupBy`` per column, counting each value and finding its first row (the numpy
   profile orders ties of frequency by first appearance);
4. calibration rows (the finite values in row order, thinned by an even stride,
   :func:`~driftloop.profile.columns.strided`): the rows' order is the files' paths in order, then each file's row
   index (``_metadata``), the order in which pyarrow — so the numpy engine — reads a folder. Finite values are
   counted per block of :data:`BLOCK_ROWS` rows of a file (an aggregate), the driver places the kept positions in
   their blocks, and one shuffle by block brings each block's rows in order to the partition that picks them.

Exactness. Counts, minimum, maximum, bin edges and counts, the kept values, the category tables and the
calibration rows are exact: equal to the numpy profile's. So are the nulls, computed on the driver from the
calibration rows by the numpy code (:meth:`ReferenceProfile.fit_columns
<driftloop.profile.ReferenceProfile.fit_columns>`). Below ``max_exact_size`` finite values the mean and standard
deviation come from the same sorted values and are bit-identical; above it they are Spark's sums, within a relative
1e-12 of numpy's (only the order of floating-point additions differs), as are the summary's error bounds.
What the driver collects is bounded by what the profile stores: per numeric column at most ``max_exact_size`` values
(run-length encoded), per column at most ``thresholds.max_rows`` calibration rows, and the category tables.

The files are taken in the order of their paths as pyarrow lists them, as the numpy engine reads them
(:func:`driftloop.spark.row_order.with_file_ranks`: Spark's ``file:`` URIs escape a space or ``%`` and sort
otherwise).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np
from numpy.typing import NDArray

from driftloop.errors import DriftloopError
from driftloop.profile import ReferenceProfile
from driftloop.profile.bins import bin_counts, quantile_edges, quantile_ranks
from driftloop.profile.columns import CategoricalColumn, NumericColumn, strided_positions
from driftloop.profile.quantiles import summary_ranks
from driftloop.spark.cells import finite, present, quoted
from driftloop.spark.ranges import check_same_runs, sorted_runs
from driftloop.spark.row_order import FILE, ROW, with_file_places, with_file_ranks
from driftloop.spark.session import read_parquet
from driftloop.stats.constant import constant_value

#: Rows of a file per block of the calibration's finite counts: the driver receives one small row per block.
BLOCK_ROWS = 1 << 16

SELECTED_SCHEMA = ("w long, c int, p int, first double, k long, values array<double>, counts array<long>, "
                   "starts array<long>, ends array<long>, ks double, area double")
PICKED_SCHEMA = "c int, position long, value double"


def read_reference(spark, data_path: str):
    """The Parquet file or folder ``data_path`` as a Spark DataFrame with each row's file and row index."""
    return with_file_places(read_parquet(spark, data_path))


def fit_profile_spark(frame, profile: ReferenceProfile, *, partitions: int) -> ReferenceProfile:
    """Fit ``profile`` (unfitted: its parameters are used) on the Spark DataFrame ``frame`` of
    :func:`read_reference` (see the module docstring); return it, fitted."""
    from pyspark import StorageLevel
    from pyspark.sql.types import NumericType

    policy = profile.check_params()
    names = [c for c in frame.columns if c not in (FILE, ROW)]
    wanted = names if profile.columns is None else list(profile.columns)
    missing = [c for c in wanted if c not in names]
    if missing:
        raise DriftloopError(f"The reference lacks the column(s) {', '.join(map(repr, missing))} to profile; its "
                             f"columns are: {', '.join(names)}.")
    if not wanted:
        raise DriftloopError("The reference has no column to profile.")
    forced = set(profile.categorical_columns)
    kinds = {f.name: f.dataType for f in frame.schema.fields}
    numeric = [c for c in wanted if c not in forced and isinstance(kinds[c], NumericType)]
    categorical = [c for c in wanted if c not in numeric]
    data = with_file_ranks(frame.select(*[quoted(c) for c in dict.fromkeys([*wanted, FILE, ROW])]))
    data = data.persist(StorageLevel.MEMORY_AND_DISK)  # read by four jobs (and a model's predictions made once)
    try:
        fitted = _fit(data, profile, policy, numeric, categorical, partitions)
    finally:
        data.unpersist()
    return profile.fit_columns([fitted[name] for name in wanted], fitted.pop(ROW))


def _number(name: str):
    return quoted(name).cast("double")


def _fit(data, profile: ReferenceProfile, policy, numeric: list[str], categorical: list[str],
         partitions: int) -> dict[str, Any]:
    """The fitted columns by name, and the number of rows (under :data:`ROW`)."""
    from pyspark.sql import functions as F

    # 1. counts and moments
    aggregates = [F.count(F.lit(1)).alias("rows")]
    for i, name in enumerate(numeric):
        x = _number(name)
        kept = F.when(finite(x), x)
        aggregates += [F.count(kept).alias(f"n{i}"), F.count(F.when(x.isin(float("inf"), float("-inf")), 1))
                       .alias(f"inf{i}"), F.min(kept).alias(f"min{i}"), F.max(kept).alias(f"max{i}"),
                       F.avg(kept).alias(f"mean{i}"), F.stddev_pop(kept).alias(f"std{i}")]
    for i, name in enumerate(categorical):
        aggregates.append(F.count(F.when(present(data, name), 1)).alias(f"present{i}"))
    totals = data.agg(*aggregates).first()
    rows = int(totals.rows)
    if rows == 0:
        raise DriftloopError("The reference data has no rows: there is nothing to profile.")
    for i, name in enumerate(numeric):
        if totals[f"n{i}"] == 0:
            raise DriftloopError(f"Column {name!r} of the reference must have finite values; got none ({rows} rows, "
                                 f"all missing or infinite). Leave it out of the profile.")
    for i, name in enumerate(categorical):
        if totals[f"present{i}"] == 0:
            raise DriftloopError(f"Column {name!r} of the reference must have non-missing values; got none ({rows} "
                                 f"rows). Leave it out of the profile.")
    held = {i: constant_value(totals[f"min{i}"], totals[f"max{i}"]) for i in range(len(numeric))}

    # 2. sorted values of the varying numeric columns, 3. category tables
    varying = [i for i in range(len(numeric)) if held[i] is None]
    selected = _select_ranks(data, numeric, varying, totals, profile, partitions) if varying else {}
    tables = {name: _category_table(data, name) for name in categorical}

    # 4. calibration rows
    codes = {name: {value: code for code, value in enumerate(tables[name][0])} for name in categorical}
    calibration = _calibration_rows(data, numeric, categorical, codes, policy.max_rows, partitions)

    fitted: dict[str, Any] = {ROW: rows}
    for i, name in enumerate(numeric):
        n = int(totals[f"n{i}"])
        counts = dict(n=n, n_missing=rows - n - int(totals[f"inf{i}"]), n_nonfinite=int(totals[f"inf{i}"]))
        if held[i] is not None:
            fitted[name] = _constant_column(name, held[i], n, profile.max_exact_size, counts, calibration[name])
        else:
            fitted[name] = _numeric_column(name, selected[i], totals, i, profile, counts, calibration[name])
    for name in categorical:
        categories, category_counts = tables[name]
        n = int(category_counts.sum())
        fitted[name] = CategoricalColumn(name=name, n=n, n_missing=rows - n, categories=categories,
                                         counts=np.append(category_counts, 0).astype(np.int64),
                                         calibration=calibration[name].astype(np.int64))
    return fitted


def _kept_size(n: int, max_exact_size: int | None) -> int:
    return n if max_exact_size is None or n <= max_exact_size else max_exact_size


def _constant_column(name: str, value: float, n: int, max_exact_size: int | None, counts: dict[str, int],
                     calibration: NDArray[np.float64]) -> NumericColumn:
    """A column held at one value up to round-off, stored exactly at it (:func:`driftloop.profile.columns
    .fit_numeric`): its sorted values are ``n`` copies of it, computed without a sort."""
    kept = _kept_size(n, max_exact_size)
    ordered = np.full(kept, value)
    mean, std = (float(ordered.mean()), float(ordered.std())) if kept == n else (value, 0.0)
    edges = np.array([value])
    return NumericColumn(name=name, **counts, minimum=value, maximum=value, mean=mean, std=std, edges=edges,
                         counts=np.array([0, n, 0], dtype=np.int64), values=ordered, exact=kept == n, ks_error=0.0,
                         wasserstein_error=0.0, calibration=np.full(len(calibration), value))


def _numeric_column(name: str, selected: dict[str, Any], totals, i: int, profile: ReferenceProfile,
                    counts: dict[str, int], calibration: NDArray[np.float64]) -> NumericColumn:
    n = counts["n"]
    chosen = np.repeat(selected["values"], selected["counts"])  # the values at the wanted ranks, in rank order
    if selected["all"]:
        ordered = chosen
        edges = quantile_edges(ordered, profile.n_bins)
        return NumericColumn(name=name, **counts, minimum=float(ordered[0]), maximum=float(ordered[-1]),
                             mean=float(ordered.mean()), std=float(ordered.std()), edges=edges,
                             counts=bin_counts(ordered, edges), values=ordered, exact=True, ks_error=0.0,
                             wasserstein_error=0.0, calibration=calibration)
    ranks = selected["ranks"]
    kept = chosen[np.searchsorted(ranks, summary_ranks(n, _kept_size(n, profile.max_exact_size)))]
    edges = np.unique(chosen[np.searchsorted(ranks, quantile_ranks(n, profile.n_bins))])
    where = np.searchsorted(selected["values"], edges)  # each edge is one of the distinct values returned
    starts, ends = selected["starts"][where], selected["ends"][where]
    inner = np.array([starts[0], ends[0]]) if len(edges) == 1 else np.append(starts[:-1], ends[-1])
    return NumericColumn(name=name, **counts, minimum=float(totals[f"min{i}"]), maximum=float(totals[f"max{i}"]),
                         mean=float(totals[f"mean{i}"]), std=float(totals[f"std{i}"]), edges=edges,
                         counts=np.diff(np.concatenate([[0], inner, [n]])).astype(np.int64), values=kept,
                         exact=False, ks_error=selected["ks"], wasserstein_error=selected["area"],
                         calibration=calibration)


def _wanted_ranks(n: int, m: int, n_bins: int) -> NDArray[np.int64] | None:
    """The ranks a column keeps: ``None`` for all of them, else the summary's and the bin edges'."""
    if m == n:
        return None
    return np.union1d(summary_ranks(n, m), quantile_ranks(n, n_bins))


def _selector(shared):
    """The ``mapInArrow`` function that returns, per segment of the global sort, the values at the wanted ranks
    (run-length encoded, with each value's first rank and the rank after its last) and the segment's share of the
    summary's error bounds (see the module docstring)."""

    def select(batches):
        import pyarrow as pa

        segments, plans = shared.value
        batches = list(batches)
        if not batches:
            return
        table = pa.Table.from_batches(batches)
        c, p = table.column("c").to_numpy(), table.column("p").to_numpy()
        v, k = table.column("v").to_numpy(), table.column("k").to_numpy()
        starts = np.flatnonzero(np.r_[True, c[1:] != c[:-1]])
        out: dict[str, list[Any]] = defaultdict(list)
        cache: dict[int, tuple[NDArray[np.int64] | None, NDArray[np.int64] | None]] = {}
        for start, stop in zip(starts, np.r_[starts[1:], len(c)], strict=True):
            column, part = int(c[start]), int(p[start])
            offset, next_start, _first = segments[(part, column, column)]
            n, m, n_bins = plans[column]
            if column not in cache:
                cache[column] = (_wanted_ranks(n, m, n_bins), None if m == n else summary_ranks(n, m))
            wanted, kept = cache[column]
            values, counts = v[start:stop], k[start:stop]
            ends = offset + np.cumsum(counts)
            firsts = ends - counts
            ks, area = 0.0, 0.0
            if wanted is None:
                index, multiplicity = np.arange(len(values)), counts
            else:
                local = wanted[np.searchsorted(wanted, offset):np.searchsorted(wanted, ends[-1])]
                index, multiplicity = np.unique(np.searchsorted(ends, local, side="right"), return_counts=True)
                gap = np.abs(ends / n - np.searchsorted(kept, ends, side="left") / m)
                ks = float(gap.max())
                area = float(np.sum(gap[:-1] * np.diff(values)))
                if next_start is not None:
                    area += float(gap[-1] * (next_start - values[-1]))
            for key, value in (("w", column), ("c", column), ("p", part), ("first", float(values[0])),
                               ("k", int(counts.sum())), ("values", values[index].tolist()),
                               ("counts", np.asarray(multiplicity).tolist()), ("starts", firsts[index].tolist()),
                               ("ends", ends[index].tolist()), ("ks", ks), ("area", area)):
                out[key].append(value)
        schema = pa.schema([("w", pa.int64()), ("c", pa.int32()), ("p", pa.int32()), ("first", pa.float64()),
                            ("k", pa.int64()), ("values", pa.list_(pa.float64())), ("counts", pa.list_(pa.int64())),
                            ("starts", pa.list_(pa.int64())), ("ends", pa.list_(pa.int64())), ("ks", pa.float64()),
                            ("area", pa.float64())])
        yield pa.RecordBatch.from_pydict(dict(out), schema=schema)

    return select


def _select_ranks(data, numeric: list[str], varying: list[int], totals, profile: ReferenceProfile,
                  partitions: int) -> dict[int, dict[str, Any]]:
    """Per varying numeric column ``i``: the run-length encoded values at its wanted ranks, their first ranks and
    ends, whether every rank was kept (``all``), the wanted ``ranks``, and the summary's ``ks`` and ``area``."""
    from pyspark.sql import functions as F

    pieces = [F.struct(F.lit(i).alias("c"), _number(numeric[i]).alias("v")) for i in varying]
    value = F.col("_v.v")
    long = (data.select(F.explode(F.array(*pieces)).alias("_v"))
            .select(F.col("_v.c").cast("long").alias("w"), F.col("_v.c").alias("c"), value.alias("v"))
            .where(finite(value)))
    plans = {}
    for i in varying:
        n = int(totals[f"n{i}"])
        plans[i] = (n, _kept_size(n, profile.max_exact_size), profile.n_bins)
    with sorted_runs(long, partitions) as runs:
        shared = data.sparkSession.sparkContext.broadcast((runs.segments, plans))
        try:
            partials = runs.ordered.mapInArrow(_selector(shared), SELECTED_SCHEMA).collect()
        finally:
            shared.unpersist()
    check_same_runs(runs, partials)
    by_column: dict[int, list] = defaultdict(list)
    for row in sorted(partials, key=lambda r: (r.c, r.p)):
        by_column[row.c].append(row)
    result = {}
    for i, parts in by_column.items():
        n, m, n_bins = plans[i]
        result[i] = {
            "all": m == n, "ranks": _wanted_ranks(n, m, n_bins),
            "values": np.concatenate([np.asarray(r["values"], dtype=np.float64) for r in parts]),
            "counts": np.concatenate([np.asarray(r.counts, dtype=np.int64) for r in parts]),
            "starts": np.concatenate([np.asarray(r.starts, dtype=np.int64) for r in parts]),
            "ends": np.concatenate([np.asarray(r.ends, dtype=np.int64) for r in parts]),
            "ks": max(r.ks for r in parts), "area": float(sum(r.area for r in parts)),
        }
    return result


def _category_table(data, name: str) -> tuple[list[Any], NDArray[np.int64]]:
    """The column's distinct values, most frequent first, ties in order of first appearance (as
    :func:`driftloop.profile.columns.fit_categorical` orders them), and their counts."""
    from pyspark.sql import functions as F

    counted = (data.where(present(data, name)).groupBy(quoted(name).alias("value"))
               .agg(F.count(F.lit(1)).alias("k"), F.min(F.struct(FILE, ROW)).alias("first")).collect())
    counted.sort(key=lambda row: (-row.k, row["first"][0], row["first"][1]))
    return [row.value for row in counted], np.array([row.k for row in counted], dtype=np.int64)


def _picker(shared):
    """The ``mapInArrow`` function that picks, in each block of a file (its rows in order), the calibration rows
    planned for it: the ``local``-th finite (or present) values of each column."""

    def pick(batches):
        import pyarrow as pa

        plan, kinds, codes = shared.value
        batches = list(batches)
        if not batches:
            return
        table = pa.Table.from_batches(batches)
        files = table.column(FILE).to_numpy(zero_copy_only=False)
        blocks = table.column("_block").to_numpy()
        starts = np.flatnonzero(np.r_[True, (files[1:] != files[:-1]) | (blocks[1:] != blocks[:-1])])
        out: dict[str, list[Any]] = defaultdict(list)
        for start, stop in zip(starts, np.r_[starts[1:], len(files)], strict=True):
            for column, (name, local, positions) in plan.get((int(files[start]), int(blocks[start])), {}).items():
                cells = table.column(name).slice(start, stop - start)
                if kinds[column] == "numeric":
                    values = np.asarray(cells.to_numpy(zero_copy_only=False), dtype=np.float64)
                    at = np.flatnonzero(np.isfinite(values))[local]
                    picked = values[at]
                else:
                    items = cells.to_pylist()
                    filled = np.array([not (v is None or (isinstance(v, float) and v != v)) for v in items])
                    at = np.flatnonzero(filled)[local]
                    picked = np.array([codes[column][items[j]] for j in at], dtype=np.float64)
                out["c"] += [column] * len(at)
                out["position"] += positions.tolist()
                out["value"] += picked.tolist()
        schema = pa.schema([("c", pa.int32()), ("position", pa.int64()), ("value", pa.float64())])
        yield pa.RecordBatch.from_pydict({key: out[key] for key in ("c", "position", "value")}, schema=schema)

    return pick


def _calibration_rows(data, numeric: list[str], categorical: list[str], codes: dict[str, dict[Any, int]],
                      max_rows: int, partitions: int) -> dict[str, NDArray[np.float64]]:
    """Each column's calibration rows (:func:`~driftloop.profile.columns.strided` of its finite values in row
    order; category codes for a categorical column), see the module docstring."""
    from pyspark.sql import functions as F

    names = [*numeric, *categorical]
    flags = [finite(_number(name)) for name in numeric] + [present(data, name) for name in categorical]
    block = F.expr(f"`{ROW}` DIV {BLOCK_ROWS}").alias("_block")
    counted = (data.groupBy(F.col(FILE), block)
               .agg(*[F.count(F.when(flag, 1)).alias(f"f{i}") for i, flag in enumerate(flags)]).collect())
    counted.sort(key=lambda row: (row[FILE], row._block))
    keys = [(row[FILE], int(row._block)) for row in counted]
    plan: dict[tuple[str, int], dict[int, tuple[str, NDArray[np.int64], NDArray[np.int64]]]] = defaultdict(dict)
    expected = {}
    for i, name in enumerate(names):
        per_block = np.array([row[f"f{i}"] for row in counted], dtype=np.int64)
        ends = np.cumsum(per_block)
        positions = strided_positions(int(ends[-1]), max_rows)
        expected[i] = len(positions)
        where = np.searchsorted(ends, positions, side="right")
        for b in np.unique(where):
            mine = positions[where == b]
            plan[keys[b]][i] = (name, mine - (ends[b] - per_block[b]), mine)
    kinds = {i: "numeric" if i < len(numeric) else "categorical" for i in range(len(names))}
    by_code = {names.index(name): table for name, table in codes.items()}
    columns = [F.col(FILE), block, F.col(ROW)] + [_number(name).alias(name) if name in numeric
                                                  else quoted(name) for name in names]
    shared = data.sparkSession.sparkContext.broadcast((dict(plan), kinds, by_code))
    try:
        picked = (data.select(*columns).repartition(partitions, FILE, "_block")
                  .sortWithinPartitions(FILE, "_block", ROW).mapInArrow(_picker(shared), PICKED_SCHEMA).collect())
    finally:
        shared.unpersist()
    found: dict[int, list[tuple[int, float]]] = defaultdict(list)
    for row in picked:
        found[row.c].append((row.position, row.value))
    result = {}
    for i, name in enumerate(names):
        rows = sorted(found[i])
        if len(rows) != expected[i]:  # pragma: no cover - the counts and the picks come from the same rows
            raise DriftloopError(f"The Spark engine picked {len(rows)} calibration rows of column {name!r} where "
                                 f"its counts planned {expected[i]}: run the command again.")
        result[name] = np.array([value for _, value in rows], dtype=np.float64)
    return result


def numbers_from_text_spark(frame, names: list[str]):
    """``frame`` (of :func:`read_reference`) with those of the columns ``names`` (the model's numeric inputs) that
    Spark does not read as numbers converted losslessly, row by row, as the numpy engine converts them
    (:func:`driftloop.spark.text_numbers.read_numbers_from_text`); a value that is not a number is a one-line error
    naming the column and the first such value in the files' row order."""
    from pyspark.sql import functions as F

    from driftloop.spark.text_numbers import not_a_number, read_numbers_from_text

    frame, text = read_numbers_from_text(frame, names)
    if not text:
        return frame
    wrong = [quoted(not_a_number(name)) for name in text]
    found = frame.agg(*[F.count(w) for w in wrong],
                      *[F.min(F.when(w.isNotNull(), F.struct(F.col(FILE), F.col(ROW), w))) for w in wrong]).first()
    for i, name in enumerate(text):
        if found[i]:
            raise DriftloopError(f"The reference column {name!r} must hold numbers (the model's signature says so); "
                                 f"{found[i]} value(s) are not, such as {found[len(text) + i][2]!r}.")
    return frame.drop(*[not_a_number(name) for name in text])

"""The multivariate detectors of a profile (:mod:`driftloop.multivariate`) in the Spark engine, with the numpy
engine's figures.

A window is judged by :meth:`MultivariateDrift.judge <driftloop.multivariate.MultivariateDrift.judge>` from two parts
that Spark computes without bringing the window's rows to the driver:

- with PCA, the :class:`~driftloop.multivariate.RowSums` of all its rows (rows, the sum of the reconstruction errors,
  the rows holding a value of each encoded column): Python workers (``mapInPandas``) encode their batch of rows with
  the profile's encoding (:mod:`~driftloop.multivariate.encoding`: the reference's standardisation, categories by
  their reference frequency, missing values at the reference mean for PCA), compute each row's error and give one
  partial sum per window of the batch (:meth:`MultivariateDrift.row_sums
  <driftloop.multivariate.MultivariateDrift.row_sums>`); a Spark aggregate adds them up per window;
- the rows that the domain classifier and MMD read: the numpy engine's seeded subsamples, drawn on the driver from
  the window's size alone (:meth:`MultivariateDrift.sampled_positions
  <driftloop.multivariate.MultivariateDrift.sampled_positions>`, at most the detectors' ``max_rows`` together, 12,000
  rows by default), then fetched by their place in the window in the numpy engine's row order and collected. Count
  windows (``--rows``) have each row's place in that order already (:data:`~driftloop.spark.row_order.POSITION`);
  time windows hold their rows in file order (the files in path order, then each file's row index,
  :mod:`driftloop.spark.row_order`), an export's in the order of its log time with ties in file order
  (:func:`~driftloop.data.log_export.read_log_export`): the rows' keys alone are numbered per window in that order
  (``row_number``), the chosen places are joined to them (a broadcast), and their rows joined back by file and row.

Equality with the numpy engine: the domain classifier and MMD get the same rows in the same order, encoded by the
same code, so their figures are the numpy engine's bit for bit. PCA's mean error is the Spark sum of the batches'
sums divided by the rows, where numpy takes the mean of the window's errors: equal to a few units of 1e-16
relative; its p-value follows continuously (only a statistic within that rounding of one of the null's draws could
count that draw differently). A value the encoding refuses (an error of the data) gives every detector the error as
its reason, as in the numpy engine; its text is the one the first batch holding it raised.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from driftloop.errors import DriftloopError
from driftloop.monitor.multivariate_drift import guarded
from driftloop.multivariate import MultivariateDrift, RowSums
from driftloop.multivariate.results import DetectorResult
from driftloop.spark.cells import quoted
from driftloop.spark.log_export import file_order as export_file_order
from driftloop.spark.row_order import FILE, POSITION, RANK, ROW, local_path

#: Each fetched row's place in its window (0 for the first row in the numpy engine's order).
PLACE = "_driftloop_place"
_ERROR = "_driftloop_error"


def multivariate_results(frame, detectors: MultivariateDrift, rows: Mapping[int, int], *, window: str,
                         first_rows: Mapping[int, int | None], reading_order: str | None = None,
                         log_time: str | None = None) -> dict[int, list[DetectorResult]]:
    """The detectors' results for each window code of ``rows`` (its number of rows; windows without rows are not
    judged), from ``frame``'s rows with their window code in the column ``window``; ``first_rows``: the place of
    each count window's first row in the data (``None`` for time windows); ``reading_order``: the column of each
    row's place in the numpy engine's reading order of a time window (a struct compared field by field), when the
    frame has one; else ``log_time``: the column of an export's log time in nanoseconds (its rows' order), when the
    frame has one, the rows being in file order after it. Problems of the data become reasons
    (:func:`~driftloop.monitor.multivariate_drift.guarded`), never exceptions."""
    judged = {code: n for code, n in rows.items() if n > 0}
    if not judged or not detectors.detectors_:
        return {}
    columns = detectors.columns_
    present = [c for c in columns if c in frame.columns]
    if len(present) < len(columns):  # the numpy engine's reason, in every window
        lacking = pd.DataFrame(columns=present)
        return {code: guarded(detectors, lambda: detectors.compare(lacking)) for code in judged}
    sums = _row_sums(frame, detectors, columns, window, list(judged)) if "pca" in detectors.detectors_ else {}
    samples = _sampled_rows(frame, detectors, judged, columns, window, first_rows, reading_order, log_time)
    results = {}
    for code, n in judged.items():
        found = sums.get(code)
        if isinstance(found, str):
            results[code] = guarded(detectors, lambda reason=found: _raise(reason))
            continue
        results[code] = guarded(detectors, lambda n=n, sample=samples[code], found=found:
                                detectors.judge(n, sample, found))
    return results


def _raise(reason: str) -> list[DetectorResult]:
    raise DriftloopError(reason)


def _row_sums(frame, detectors: MultivariateDrift, columns: Sequence[str], window: str,
              codes: Sequence[int]) -> dict[int, RowSums | str]:
    """Per window, the :class:`RowSums` of its rows (PCA's part), or the text of the error the encoding raised."""
    from pyspark.sql import functions as F

    light = copy.copy(detectors)  # the workers need the encoding and PCA, not the other detectors' reference rows
    light.detectors_ = {name: d for name, d in detectors.detectors_.items() if name == "pca"}
    aliases = [f"c{i}" for i in range(len(columns))]
    counts = [f"v{i}" for i in range(len(columns))]
    schema = ", ".join([f"{window} long", "n long", "error_sum double", f"{_ERROR} string",
                        *[f"{v} long" for v in counts]])

    def partial_sums(batches):
        for batch in batches:
            batch.columns = [window, *columns]
            out = []
            for code, part in batch.groupby(window, sort=False):
                try:
                    found = light.row_sums(part)
                    out.append((code, found.rows, found.error_sum, None, *found.values))
                except (ValueError, ArithmeticError, DriftloopError) as error:  # the numpy engine's reason
                    out.append((code, len(part), 0.0, f"{type(error).__name__}: {error}", *[0] * len(columns)))
            if out:
                yield pd.DataFrame(out, columns=[window, "n", "error_sum", _ERROR, *counts])

    wide = frame.where(F.col(window).isin(list(codes))).select(
        F.col(window).cast("long").alias(window), *[quoted(c).alias(a) for c, a in zip(columns, aliases, strict=True)])
    totals = (wide.mapInPandas(partial_sums, schema).groupBy(window)
              .agg(F.sum("n").alias("n"), F.sum("error_sum").alias("error_sum"), F.min(_ERROR).alias(_ERROR),
                   *[F.sum(v).alias(v) for v in counts]).collect())
    return {row[window]: row[_ERROR] if row[_ERROR] is not None
            else RowSums(int(row.n), float(row.error_sum), tuple(int(row[v]) for v in counts)) for row in totals}


def _sampled_rows(frame, detectors: MultivariateDrift, rows: Mapping[int, int], columns: Sequence[str], window: str,
                  first_rows: Mapping[int, int | None], reading_order: str | None,
                  log_time: str | None) -> dict[int, pd.DataFrame]:
    """Per window, its rows at :meth:`~driftloop.multivariate.MultivariateDrift.sampled_positions`, in that order
    (see the module docstring), with the detectors' columns."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    spark = frame.sparkSession
    wanted = {code: detectors.sampled_positions(n) for code, n in rows.items()}
    empty = pd.DataFrame({c: pd.Series(dtype="float64") for c in columns})
    chosen = [(code, int(place)) for code, places in wanted.items() for place in places]
    if not chosen:
        return {code: empty for code in rows}
    if POSITION in frame.columns:  # count windows: each row's place in the numpy engine's order is known
        places = spark.createDataFrame([(code, place, first_rows[code] + place) for code, place in chosen],
                                       f"{window} long, {PLACE} long, {POSITION} long")
        picked = frame.join(F.broadcast(places), [window, POSITION])
    else:  # time windows: the rows' keys numbered per window in the numpy engine's reading order
        codes = list(wanted)
        if reading_order is not None and reading_order in frame.columns:  # the order is a column already
            keys, order, key_columns = frame.select(window, reading_order), [reading_order], [reading_order]
        else:  # the files ranked in path order (an export's in its own order, its rows by log time first)
            timed = log_time is not None and log_time in frame.columns
            keys = frame.select(window, FILE, ROW, *([log_time] if timed else []))
            files = [row[FILE] for row in keys.where(F.col(window).isin(codes)).select(FILE).distinct().collect()]
            ranking = export_file_order if timed else local_path
            ranks = spark.createDataFrame(list(enumerate(sorted(files, key=ranking))), f"{RANK} long, {FILE} string")
            keys = keys.join(F.broadcast(ranks), FILE)
            order, key_columns = [*([log_time] if timed else []), RANK, ROW], [FILE, ROW]
        numbered = (keys.where(F.col(window).isin(codes))
                    .withColumn(PLACE, F.row_number().over(Window.partitionBy(window).orderBy(*order)) - F.lit(1)))
        targets = spark.createDataFrame(chosen, f"{window} long, {PLACE} long")
        located = numbered.join(F.broadcast(targets), [window, PLACE]).select(window, PLACE, *key_columns)
        picked = frame.join(F.broadcast(located), [window, *key_columns])
    aliases = [f"c{i}" for i in range(len(columns))]
    collected = picked.select(F.col(window).cast("long").alias(window), PLACE,
                              *[quoted(c).alias(a) for c, a in zip(columns, aliases, strict=True)]).toPandas()
    collected.columns = [window, PLACE, *columns]
    samples = {}
    for code, places in wanted.items():
        sample = collected[collected[window] == code].sort_values(PLACE)
        if not np.array_equal(sample[PLACE].to_numpy(), places):  # pragma: no cover - every place is a row
            raise DriftloopError(f"The Spark engine found {len(sample)} of the {len(places)} rows the multivariate "
                                 f"detectors read in window {code}; use --engine numpy.")
        samples[code] = sample[list(columns)].reset_index(drop=True) if len(places) else empty
    return samples

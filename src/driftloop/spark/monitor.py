"""The monitor's windows in Spark: cut by time or by count, then drift, data quality, coverage and performance per
window from Spark aggregates, as :class:`~driftloop.monitor.results.WindowResult` for the monitor's logging.

What each figure is made of (over the windows still to assess):

- rows, rows with a prediction and a label, and the sums of regression performance: one ``groupBy(window).agg``,
  which also tallies the missing and non-finite cells and the values outside the reference's range
  (:mod:`driftloop.spark.tallies`) of the columns that the numeric drift's Python workers do not tally as they
  pack them (below); ``performance/r2``'s sum of squares around
  the mean label is ``var_pop`` times the count (Spark merges per-partition central moments, so the sum is not taken
  around zero: T. F. Chan, G. H. Golub and R. J. LeVeque, 1979); the number of label levels (whole-number scores
  get an accuracy) by a second aggregate over the windows whose labels are all whole numbers only;
- categorical counts: one aggregate over the grouping sets ``(window, column)`` of every categorical column (also
  the ``unseen`` quality);
- numeric inputs stored as text (and labels stored as text for a model that outputs numbers): read row by row as the
  numpy engine reads them (:mod:`driftloop.spark.text_numbers`, Python workers), so the model scores the numbers
  and the window aggregate counts what is not a number (``type_errors``, ``label_type_errors``);
- numeric drift (KS, Wasserstein-1, binned distances): :func:`driftloop.spark.ecdf.numeric_summaries_and_tallies`
  (one hash shuffle by window and column; a task holds one window's values of one column; the packing workers
  also tally each column's cells, so the window aggregate does not read the numeric columns: one scan of them
  less), or for windows larger than :data:`MAX_VALUES_CONF` the global sort of :mod:`driftloop.spark.ecdf_sorted`
  (its columns tallied by the window aggregate);
- ROC AUC and log loss of a scikit-learn classifier: the model's class probabilities scored in Python workers,
  then counts per window, class and distinct score (:mod:`driftloop.spark.probabilities`);
- estimated performance, when the profile holds an estimator: CBPE from the same scored class probabilities
  (the model runs once per row for both), calibrated in Python workers and summed per window into the expected
  confusion matrix and the expected AUC's sums; DLE from each row's predicted loss, averaged per window
  (:mod:`driftloop.spark.estimation`);
- the detections of the service's streaming detectors (an export of inference logs): the rows they name, joined
  with their ids and collected (:mod:`driftloop.monitor.stream_drift`);
- the multivariate detectors fitted with the profile (:mod:`driftloop.spark.multivariate`): PCA's sums over every
  row from Python workers and one aggregate, the domain classifier's and MMD's subsamples (the numpy engine's rows,
  by their place in the window's row order) collected; their p-values join each window's Benjamini–Hochberg
  procedure as in the numpy engine (:func:`~driftloop.monitor.multivariate_drift.multivariate_metrics`).

An export of inference logs (``driftloop log export``) is read by :mod:`driftloop.spark.log_export`: every
replica's rows, with the labels that reached another replica matched by id.

The statistics, thresholds and verdicts are then those of the numpy engine
(:meth:`~driftloop.profile.ReferenceProfile.compare_summaries`), so the figures agree with it to 1e-9.

Every figure of the numpy engine is computed, estimated performance and the multivariate detectors included; the
pass's notes say so. The report's distribution
charts are drawn from the bin and category counts the statistics were computed from, as the numpy engine draws
them. Count windows (``--rows``) follow the numpy engine's row order (:mod:`driftloop.spark.row_order`): the files
in path order, then each file's row index (``_metadata``), or with a time column that order sorted by time; an
export's rows sorted by their log time first, as :func:`~driftloop.data.log_export.read_log_export` gives them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from driftloop.data.dataset import WindowSpec
from driftloop.data.log_export import is_log_export
from driftloop.data.windows import parse_window_length
from driftloop.errors import DriftloopError, NoRowsError
from driftloop.monitor import window_coverage as coverage
from driftloop.monitor.cutting import LABEL, PREDICTION, Cut, timestamp_column
from driftloop.monitor.engine import (
    NAIVE,
    MonitorInputs,
    _drift_metrics,
    _top_distributions,
    predictions_fit_profile,
    unusable_predictions,
)
from driftloop.monitor.multivariate_drift import multivariate_metrics
from driftloop.monitor.performance import MAX_SCORE_LEVELS, naive_benchmark, relative_mae_from_sums
from driftloop.monitor.results import WindowResult
from driftloop.monitor.stream_drift import ID, TIMESTAMP, StreamActivity, detections_among
from driftloop.profile.columns import CategoricalColumn, NumericColumn
from driftloop.profile.statistics import Pair, WindowSummary
from driftloop.spark.cells import finite, present, quoted
from driftloop.spark.ecdf import ColumnReference, numeric_summaries, numeric_summaries_and_tallies
from driftloop.spark.ecdf_sorted import numeric_summaries_sorted
from driftloop.spark.labels import join_labels_spark
from driftloop.spark.log_export import file_order as export_file_order
from driftloop.spark.log_export import read_log_export_spark
from driftloop.spark.multivariate import multivariate_results
from driftloop.spark.probabilities import class_codes, probability_metrics_spark, score_probabilities
from driftloop.spark.row_order import (
    FILE,
    POSITION,
    ROW,
    first_rows_reader,
    in_file_order,
    in_time_order,
    with_file_places,
    with_file_ranks,
)
from driftloop.spark.naive import with_seasonal_naive
from driftloop.spark.scoring import SCORE_ERROR, with_predictions, without_refused_windows
from driftloop.spark.session import read_parquet
from driftloop.spark.tallies import Tallies, tallies_of_row, tally_aggregates
from driftloop.spark.text_numbers import not_a_number, read_numbers_from_text, text_columns

#: The engine's own columns beside the data's: each row's window code and time in nanoseconds, and the count and
#: grouping flags of the categorical aggregate (and each row's file and row index, :data:`FILE` and :data:`ROW`, and
#: the values that are not numbers of a column read from text, :data:`~driftloop.spark.text_numbers.NOT_A_NUMBER`).
#: Named with the prefix :data:`ENGINE` so that no data column takes them by accident; one that does is refused by
#: name (it would be overwritten).
ENGINE = "_driftloop_"
WINDOW, NANOS, COUNT, GROUPING = f"{ENGINE}window", f"{ENGINE}ns", f"{ENGINE}count", f"{ENGINE}grouping"
#: Each row's place in the order in which the numpy engine reads a window's rows (a struct, compared field by field:
#: :func:`_with_reading_order`; count windows' :data:`~driftloop.spark.row_order.POSITION`), where a value that is
#: not a number must be named: the first of a window in that order.
READ = f"{ENGINE}read"
#: The log's own time of each row of an export, for count windows (its rows are in the order of that time).
LOG_NANOS = f"{ENGINE}log_ns"
#: The time column of the naive benchmark (``--naive-lag``) in nanoseconds, when it is not the windows' time column.
NAIVE_NANOS = f"{ENGINE}naive_ns"

#: The Spark setting (``--conf`` of ``spark-submit``, ``spark-defaults.conf``) that bounds a numeric drift task: the
#: values of one window's column held at once by one Python worker, 16 bytes each (:mod:`driftloop.spark.ecdf`).
#: Larger windows take the global sort (:mod:`driftloop.spark.ecdf_sorted`).
MAX_VALUES_CONF = "spark.driftloop.maxValuesPerTask"
DEFAULT_MAX_VALUES_PER_TASK = 16_000_000

NOT_COMPUTED = ("the Spark engine computes rows, data quality, drift, coverage, performance (classification: "
                "accuracy, f1, and ROC AUC and log loss of a scikit-learn classifier), estimated performance and "
                "multivariate drift; every figure of the numpy engine")


def _not_read(windows: Sequence[WindowSpec]):
    raise DriftloopError("The Spark engine assesses windows in Spark; their rows are not read on the driver.")


def _nanoseconds(frame, name: str):
    """The time column as nanoseconds since the epoch (a timestamp, or integer nanoseconds as Parquet stores
    pandas' times when read with ``spark.sql.legacy.parquet.nanosAsLong``)."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import IntegerType, LongType, TimestampNTZType, TimestampType

    kind = frame.schema[name].dataType
    column = quoted(name)
    if isinstance(kind, TimestampType | TimestampNTZType):
        return F.unix_micros(column.cast("timestamp")) * F.lit(1000)
    if isinstance(kind, LongType | IntegerType):
        return column.cast("long")
    raise DriftloopError(f"The timestamp column {name!r} must be stored as a timestamp for the Spark engine; got "
                         f"{kind.simpleString()}.")


def read_windows(spark, data_path: str, features: Sequence[str], *, time_column: str | None, window: str | None,
                 rows: int | None, target: str | None, notes: list[str], score=None, numeric: Sequence[str] = (),
                 labels_path: str | None = None, id_column: str = "id", naive_lag: str | None = None,
                 naive_series: Sequence[str] = ()):
    """The data as a Spark DataFrame with its window code (:data:`WINDOW`) and each row's file and row index
    (:data:`FILE`, :data:`ROW`), and the :class:`Cut` (windows, rows and labelled rows per window, watermark) from
    one aggregate: windows of ``window`` by time (:func:`_time_windows`), or of ``rows`` rows (:func:`_count_windows`).
    ``numeric`` are the model's inputs typed or profiled as numbers: one stored as text is read as the numpy engine
    reads it (:mod:`driftloop.spark.text_numbers`), and so is a label stored as text when the model outputs numbers
    (:func:`~driftloop.monitor.performance.align_labels`). Data without a ``prediction`` column is scored by the UDF
    that ``score()`` makes (:func:`driftloop.spark.scoring.model_scorer`, of the model's inputs read as numbers), with
    each row's error from the model (:data:`~driftloop.spark.scoring.SCORE_ERROR`; the missing inputs when some are
    not in the data). With ``naive_lag`` each row gets its seasonal naive benchmark (:data:`NAIVE`,
    :mod:`driftloop.spark.naive`). A frame scored or read from text is cached; :func:`assess_windows_spark`'s caller
    unpersists it."""
    from pyspark import StorageLevel
    from pyspark.sql import functions as F
    from pyspark.sql.types import NumericType

    if rows is not None and rows <= 0:
        raise DriftloopError(f"The 'rows' option must be a positive row count; got {rows}.")
    spark.conf.set("spark.sql.legacy.parquet.nanosAsLong", "true")
    export = is_log_export(data_path)
    frame = read_log_export_spark(spark, data_path, notes) if export else read_parquet(spark, data_path)
    if not export:  # each row's file and row index (an export's rows have theirs), before any join
        frame = with_file_places(frame)
    if labels_path is not None:  # late labels by id: the column ``label`` replaces the data's own and ``target``
        frame = join_labels_spark(spark, frame, labels_path, id_column, target or LABEL, notes)
        target = None
    names = [c for c in frame.columns if c not in (FILE, ROW)]
    if rows is None:  # as the numpy engine: the log's own time column serves time windows, not count windows
        time_column = timestamp_column(names, time_column)
        if time_column is None:
            raise DriftloopError("Give --timestamp-column (with --window) to cut windows by time, or --rows N.")
    if time_column is not None and time_column not in names:
        raise DriftloopError(f"The timestamp column {time_column!r} is not in the data; its columns are: "
                             f"{', '.join(names)}.")
    if target is not None and target not in names:
        raise DriftloopError(f"The target column {target!r} is not in the data; give --labels PATH for late labels.")
    label = target if target is not None else (LABEL if LABEL in names else None)
    naive = naive_benchmark(naive_lag, naive_series, names, timestamp_column(names, time_column), label is not None)
    wanted = {*features, PREDICTION, *([label] if label else []), *([time_column] if time_column else []),
              *((ID, TIMESTAMP) if export else ()), *((*naive.series, naive.time_column) if naive else ())}
    if target is not None and target != LABEL:
        wanted.discard(LABEL)
    columns = [c for c in names if c in wanted]
    taken = [c for c in columns if c.startswith(ENGINE)]
    if taken:
        raise DriftloopError(f"The column(s) {', '.join(map(repr, taken))} of {data_path!r} take the names the Spark "
                             "engine gives its own columns; rename them, or use --engine numpy.")
    frame = frame.select(*[quoted(c) for c in columns], FILE, ROW)
    if time_column is not None:
        frame = frame.withColumn(NANOS, _nanoseconds(frame, time_column))
    if rows is None and text_columns(frame, [*[c for c in numeric if c in features], *([label] if label else [])]):
        frame = _with_reading_order(frame, export)  # to name a window's first value that is not a number
    if export:  # the export's row order (its reader sorts the rows by their log time), kept for the multivariate rows
        frame = frame.withColumn(LOG_NANOS, _nanoseconds(frame, TIMESTAMP))
    if rows is None:
        length = parse_window_length(window or "1d")
        span = F.lit(length.value)
        frame = frame.withColumn(WINDOW, ((F.col(NANOS) - F.pmod(F.col(NANOS), span)) / span).cast("long"))
    else:
        frame = in_file_order(frame, data_path, export_file_order if export else None)
        if export:  # the numpy engine's export: its files' rows sorted by their log time, ties in file order
            frame = in_time_order(frame, LOG_NANOS)
        if time_column is not None and not (export and time_column == TIMESTAMP):
            frame = in_time_order(frame, NANOS)
        frame = frame.withColumn(WINDOW, F.expr(f"`{POSITION}` div {rows}")).withColumn(READ, F.struct(POSITION))
    read = first_rows_reader(frame, [c for c in features if c in names]) if rows is not None else _not_read
    frame, from_text = read_numbers_from_text(frame, [c for c in numeric if c in features])
    if label is not None and label != LABEL:
        frame = frame.withColumnRenamed(label, LABEL)
    labelled = F.sum(F.when(present(frame, LABEL), 1).otherwise(0)) if label else F.lit(0)
    times = [F.min(NANOS).alias("earliest"), F.max(NANOS).alias("latest")] if time_column else []
    facts = frame.groupBy(WINDOW).agg(F.count(F.lit(1)).alias("rows"), labelled.alias("labelled"), *times).collect()
    if not facts:
        raise NoRowsError(f"The data {data_path!r} has no rows (columns: {', '.join(names)}): nothing to monitor.")
    if label is not None and target is None and labels_path is None and not any(row.labelled for row in facts):
        notes.append("the data holds no label at all: performance is not measured (send feedback, or give --labels)")
        frame, label = frame.drop(LABEL), None
    if naive is not None and label is not None:  # from every row's label, before any window is chosen
        stamps = NANOS if naive.time_column == time_column else NAIVE_NANOS
        if stamps == NAIVE_NANOS:
            frame = frame.withColumn(NAIVE_NANOS, _nanoseconds(frame, naive.time_column))
        frame = with_seasonal_naive(frame, LABEL, stamps, naive.lag, naive.series, NAIVE).drop(NAIVE_NANOS)
    scored = PREDICTION not in columns and score is not None
    missing = [c for c in features if c not in names]
    if scored and missing:  # the numpy engine's reason for each window; no prediction (the drift says so)
        frame = (frame.withColumn(PREDICTION, F.lit(None).cast("double"))
                 .withColumn(SCORE_ERROR, F.lit("missing " + ", ".join(missing))))
    elif scored:  # after the facts, which need no prediction
        frame = with_predictions(frame, score(), WINDOW, features, PREDICTION)
    if label is not None and PREDICTION in frame.columns and isinstance(frame.schema[PREDICTION].dataType, NumericType):
        frame, labels_from_text = read_numbers_from_text(frame, [LABEL])  # as the model's outputs are: numbers
        from_text += labels_from_text
    if scored or from_text:  # Python UDFs (the model, numbers read from text) run once, cached: each aggregate of
        frame = frame.persist(StorageLevel.MEMORY_AND_DISK)  # the assessment reads the frame again
    unread = tuple(c for c in names if c not in columns and c != target)
    by_code = {row[WINDOW]: row for row in facts}
    if rows is None:
        return frame, _time_windows(by_code, length, time_column, label is not None, unread)
    return frame, _count_windows(by_code, rows, time_column, label is not None, unread, read)


def _with_reading_order(frame, export: bool):
    """``frame`` with :data:`READ`, each row's place in the order in which the numpy engine reads a time window's
    rows: the files in the order of their paths (:func:`~driftloop.spark.row_order.with_file_ranks`: Spark's URIs
    do not sort as the paths do), then each file's rows; an export's rows by their log time first
    (:func:`~driftloop.data.log_export.read_log_export` sorts them so), its files in its own order."""
    from pyspark.sql import functions as F

    frame = with_file_ranks(frame, export_file_order if export else None)
    order = [_nanoseconds(frame, TIMESTAMP)] if export else []
    return frame.withColumn(READ, F.struct(*order, F.col(FILE), F.col(ROW)))


def _time_windows(by_code: dict, length: pd.Timedelta, time_column: str, labelled: bool, unread: tuple) -> Cut:
    """Windows of ``length`` aligned on the epoch, empty ones between the first and the last included (as
    :func:`driftloop.data.dataset.scan_time_windows` cuts them), from the facts per window code."""
    specs = []
    for code in range(min(by_code), max(by_code) + 1):
        start = pd.Timestamp(code * length.value, tz="UTC")
        fact = by_code.get(code)
        specs.append(WindowSpec(code, start, start + length, fact.rows if fact else 0,
                                (fact.labelled if fact else 0) if labelled else None))
    watermark = pd.Timestamp(max(row.latest for row in by_code.values()), tz="UTC")
    return Cut(specs, [watermark >= w.end for w in specs], f"by time, {length} of {time_column!r}", length, False,
               watermark, _not_read, unread)


def _count_windows(by_code: dict, rows: int, time_column: str | None, labelled: bool, unread: tuple,
                   read) -> Cut:
    """Consecutive windows of ``rows`` rows in the numpy engine's row order (as
    :func:`driftloop.data.dataset.scan_row_windows` cuts them): with a time column its bounds are the window's first
    and last time stamps (plus 1 ns), else its row offsets written as nanoseconds after the epoch."""
    total = sum(row.rows for row in by_code.values())
    specs = []
    for position in range(len(by_code)):
        fact = by_code[position]
        first = position * rows
        if time_column is not None:
            start = pd.Timestamp(fact.earliest, tz="UTC")
            end = pd.Timestamp(fact.latest, tz="UTC") + pd.Timedelta(1, "ns")
        else:
            start, end = pd.Timestamp(first, tz="UTC"), pd.Timestamp(first + fact.rows, tz="UTC")
        specs.append(WindowSpec(position, start, end, fact.rows, fact.labelled if labelled else None, first,
                                by_rows=time_column is None))
    if time_column is not None:
        watermark = pd.Timestamp(max(row.latest for row in by_code.values()), tz="UTC")
        order = f"time order of {time_column!r}"
    else:
        watermark, order = pd.Timestamp(total, tz="UTC"), "file order"
    return Cut(specs, [w.rows == rows for w in specs], f"by count, {rows} rows in {order}", None,
               time_column is None, watermark, read, unread)


def _numeric_plan(spark, windows: Sequence[WindowSpec], notes: list[str]):
    """The numeric drift's plan: one task per (window, column) (:func:`~driftloop.spark.ecdf.numeric_summaries`)
    while the largest window has at most :data:`MAX_VALUES_CONF` rows, else the global sort
    (:func:`~driftloop.spark.ecdf_sorted.numeric_summaries_sorted`), which no window size exhausts."""
    given = spark.conf.get(MAX_VALUES_CONF, str(DEFAULT_MAX_VALUES_PER_TASK))
    try:
        limit = int(given)
        if limit <= 0:
            raise ValueError
    except ValueError:
        raise DriftloopError(f"The Spark setting {MAX_VALUES_CONF} must be a positive number of values; got "
                             f"{given!r}.") from None
    largest = max((w.rows for w in windows), default=0)
    if largest <= limit:
        return numeric_summaries
    notes.append(f"windows of up to {largest:,} rows exceed {MAX_VALUES_CONF} ({limit:,} values a task): numeric "
                 "drift from the global sort, exact but slower (raise the setting if the Python workers have the "
                 "memory: 16 bytes a value)")
    return numeric_summaries_sorted


def _numeric_reference(column: NumericColumn) -> ColumnReference:
    return ColumnReference(np.asarray(column.values, dtype=np.float64), np.asarray(column.edges, dtype=np.float64),
                           column.minimum if column.constant else None)


def assess_windows_spark(frame, cut_windows: Sequence[WindowSpec], inputs: MonitorInputs, *, task: str | None,
                         partitions: int, notes: list[str], classes: Sequence | None = None) -> list[WindowResult]:
    """Every window of ``cut_windows`` assessed in Spark (see the module docstring); verdicts are set by the
    caller, as for the numpy engine. ``classes`` are the classifier's classes, in the order of the columns of
    ``inputs.predict_proba`` (for ROC AUC and log loss)."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import DoubleType, FloatType, NumericType

    if not cut_windows:
        return []
    notes.append(NOT_COMPUTED)
    profile = inputs.profile
    # the windows' codes: since the epoch for time windows, whatever the step they are logged at; count windows' own
    code_of = {(w.index if w.first_row is not None else int(w.start.value // (w.end.value - w.start.value))): w
               for w in cut_windows}
    frame = frame.where(F.col(WINDOW).isin(list(code_of)))
    refused: dict[int, str] = {}
    if SCORE_ERROR in frame.columns:  # the windows the model could not score have no predictions, as in numpy
        frame, refused = without_refused_windows(frame, WINDOW, PREDICTION)
    names = {c for c in frame.columns if not c.startswith(ENGINE)}
    read_from_text = {c for c in names if not_a_number(c) in frame.columns}
    schema = {f.name: f.dataType for f in frame.schema.fields}
    compared = [c for c in profile.columns_ if (c in inputs.features or c == PREDICTION)]
    numeric = [c for c in compared if isinstance(profile.columns_[c], NumericColumn) and c in names
               and isinstance(schema[c], NumericType)]
    categorical = [c for c in compared if isinstance(profile.columns_[c], CategoricalColumn) and c in names]
    features_present = [c for c in inputs.features if c in names]
    ranges = inputs.reference_ranges

    # the numeric drift's plan: with one task per (window, column), its packing workers tally the numeric columns'
    # cells (missing, infinite, out of range), which the window aggregate then does not read
    gathered = bool(numeric) and _numeric_plan(frame.sparkSession, cut_windows, notes) is numeric_summaries
    packed = set(numeric) if gathered else set()

    # 1. one aggregate per window: rows, the cells' tallies of the columns not packed, predictions, labels,
    # regression sums
    aggregates = [F.count(F.lit(1)).alias("rows")]
    positions = {name: i for i, name in enumerate(dict.fromkeys([*features_present,
                                                                 *[c for c in compared if c in names]]))}
    for name, position in positions.items():
        if name not in packed:
            aggregates += tally_aggregates(frame, name, ranges.get(name), f"_{position}")
        if name in read_from_text:
            aggregates += _not_numbers(name, f"_{position}")
    has_prediction, has_label = PREDICTION in names, LABEL in names
    unusable = None  # a 'prediction' column of text for a model that outputs numbers: not its predictions
    if has_prediction and not predictions_fit_profile(profile, isinstance(schema[PREDICTION], NumericType)):
        example = frame.where(F.col(PREDICTION).isNotNull()).select(PREDICTION).first()
        unusable = unusable_predictions(_dtype_name(schema[PREDICTION]), [] if example is None else [example[0]])
        has_prediction = False
    if has_label and LABEL in read_from_text:
        aggregates += _not_numbers(LABEL, "_label")
    # the numpy engine's task (monitor.performance.infer_task): floating-point predictions are a regressor's
    regression = has_prediction and has_label and (task or ("regression" if isinstance(
        schema[PREDICTION], FloatType | DoubleType) else "classification")) == "regression"
    if has_prediction:
        aggregates.append(F.sum(F.when(present(frame, PREDICTION), 1).otherwise(0)).alias("predicted"))
    if has_label:
        aggregates.append(F.sum(F.when(present(frame, LABEL), 1).otherwise(0)).alias("labels"))
        if has_prediction:
            both = present(frame, PREDICTION) & present(frame, LABEL)
            aggregates.append(F.sum(F.when(both, 1).otherwise(0)).alias("predicted_labelled"))
    if regression:
        truth, predicted = F.col(LABEL).cast("double"), F.col(PREDICTION).cast("double")
        usable = (present(frame, LABEL) & present(frame, PREDICTION)
                  & ~truth.isin(float("inf"), float("-inf")) & ~predicted.isin(float("inf"), float("-inf")))
        error = F.when(usable, predicted - truth)
        aggregates += [F.count(error).alias("usable"), F.sum(F.abs(error)).alias("absolute"),
                       F.sum(error * error).alias("squared"), F.var_pop(F.when(usable, truth)).alias("spread"),
                       F.sum(F.when(usable & (truth % 1 != 0), 1).otherwise(0)).alias("fractional"),
                       F.sum(F.when(usable & (F.rint(predicted) == truth), 1).otherwise(0)).alias("rounded_right")]
        if NAIVE in schema:  # the model's and the seasonal naive benchmark's absolute errors where it has one
            benchmarked = usable & finite(F.col(NAIVE))
            aggregates += [F.count(F.when(benchmarked, 1)).alias("naive_rows"),
                           F.sum(F.when(benchmarked, F.abs(F.col(NAIVE) - truth))).alias("naive_absolute"),
                           F.sum(F.when(benchmarked, F.abs(predicted - truth))).alias("benchmarked_absolute")]
    totals = {row[WINDOW]: row for row in frame.groupBy(WINDOW).agg(*aggregates).collect()}
    detected = _detected_rows(frame, inputs.stream) if inputs.stream is not None and ID in names else None
    levels: dict[int, int] = {}
    whole = [code for code, row in totals.items() if regression and row.usable and row.fractional == 0]
    if whole:  # label levels only where the labels may be scores: beside the aggregate, a countDistinct would
        # group every row by its label (a second shuffle of every row and its aggregate buffers)
        levels = {row[WINDOW]: row.levels for row in frame.where(F.col(WINDOW).isin(whole) & usable)
                  .groupBy(WINDOW).agg(F.countDistinct(truth).alias("levels")).collect()}
    confusion = _confusion_counts(frame, schema) if has_prediction and has_label and not regression else {}
    probabilities, estimated = _scored_by_probabilities(frame, inputs, schema, names, classes, [
        code for code in totals if code not in refused], predicted=has_prediction,
        measured=has_prediction and has_label and not regression)

    # 2. categorical counts per window: one aggregate over the grouping sets (window, column) of every column
    categories: dict[str, dict[int, tuple[list, list[int], int]]] = {name: {} for name in categorical}
    if categorical:
        cells = [quoted(name) for name in categorical]
        counted = frame.groupingSets([[F.col(WINDOW), cell] for cell in cells], F.col(WINDOW), *cells).agg(
            F.count(F.lit(1)).alias(COUNT), *[F.grouping(cell).alias(f"{GROUPING}{i}") for i, cell in enumerate(cells)])
        for row in counted.collect():
            position = next(i for i in range(len(categorical)) if row[f"{GROUPING}{i}"] == 0)
            name, value = categorical[position], row[1 + position]  # columns: the window, the cells, the count, the groupings
            values, counts, missing = categories[name].get(row[WINDOW], ([], [], 0))
            if value is None or (isinstance(value, float) and np.isnan(value)):
                missing += row[COUNT]
            else:
                values.append(value)
                counts.append(row[COUNT])
            categories[name][row[WINDOW]] = (values, counts, missing)

    # 3. numeric drift: each (window, column)'s values gathered by one hash shuffle, summarised by numpy's functions
    # (and its cells tallied), or for windows too large for a task the global sort
    codes = {name: i for i, name in enumerate(numeric)}
    references = [_numeric_reference(profile.columns_[name]) for name in numeric]
    wide = frame.select(WINDOW, *[quoted(name).cast("double").alias(f"c{codes[name]}") for name in numeric])
    tallied: dict[tuple[int, int], Tallies] = {}
    if gathered:
        summaries, tallied = numeric_summaries_and_tallies(wide, references, [ranges.get(n) for n in numeric],
                                                           partitions)
    else:
        summaries = numeric_summaries_sorted(wide, references, partitions) if numeric else {}

    # 4. the multivariate detectors: PCA's sums from every row, the other detectors' subsamples collected
    judged = {}
    if inputs.multivariate is not None and inputs.multivariate.detectors_:
        judged = multivariate_results(frame, inputs.multivariate, {code: row.rows for code, row in totals.items()},
                                      window=WINDOW, first_rows={code: w.first_row for code, w in code_of.items()},
                                      reading_order=READ, log_time=LOG_NANOS)

    results = []
    for code, spec in sorted(code_of.items(), key=lambda item: item[1].index):
        row = totals.get(code)
        rows = row.rows if row is not None else 0
        result = WindowResult(spec.index, spec.start, spec.end, rows, {"rows": float(rows)})
        results.append(result)
        if rows == 0:
            continue
        cells = {name: tallied[(code, codes[name])] if name in packed else tallies_of_row(row, f"_{position}")
                 for name, position in positions.items()}
        quality, quality_reasons = _quality(inputs, row, rows, names, positions, schema, categories, code,
                                           read_from_text, cells)
        result.metrics.update(quality)
        result.reasons.extend(quality_reasons)
        if detected is not None:
            found = detected[detected[WINDOW] == code]
            stream_metrics, stream_reasons = detections_among(inputs.stream, found[ID], found[TIMESTAMP],
                                                              has_label and row.labels > 0)
            result.metrics.update(stream_metrics)
            result.reasons.extend(stream_reasons)
        scored = code not in refused
        if not scored:
            result.reasons.append(f"the model could not score this window: {refused[code]}")
        comparison = profile.compare_summaries(
            {name: _summary(profile, name, names if scored else names - {PREDICTION}, schema, cells, categories,
                            summaries, codes, code)
             for name in compared})
        result.drift = comparison.table
        if code in judged:  # before the drift metrics: the detectors' p-values join the univariate tests' BH procedure
            joint_metrics, joint_reasons = multivariate_metrics(inputs.multivariate, judged[code], rows,
                                                                comparison.table, profile.thresholds_.alpha_tests)
            result.metrics.update(joint_metrics)
            result.reasons.extend(joint_reasons)
        drift_metrics, drift_reasons = _drift_metrics(comparison.table, inputs.features)
        result.metrics.update(drift_metrics)
        result.reasons.extend(drift_reasons)
        result.distributions = _top_distributions(inputs, comparison)
        if has_prediction:
            result.metrics[coverage.PREDICTIONS] = row.predicted / rows
            if has_label:
                result.metrics[coverage.LABELS] = row.predicted_labelled / rows
        elif unusable is not None:  # as the numpy engine: no row has a prediction
            result.reasons.append(unusable)
            result.metrics[coverage.PREDICTIONS] = 0.0
            if has_label:
                result.metrics[coverage.LABELS] = 0.0
        if has_label and has_prediction and scored:
            result.metrics.update(_label_types(row, rows, LABEL in read_from_text, result.reasons))
            result.metrics["performance/label_coverage"] = row.labels / rows
            result.metrics["performance/labelled_rows"] = float(row.labels)
            if regression and row.usable:
                if NAIVE in schema:
                    result.metrics.update(relative_mae_from_sums(row.benchmarked_absolute or 0.0,
                                                                 row.naive_absolute or 0.0, row.naive_rows))
                result.metrics["performance/mae"] = row.absolute / row.usable
                result.metrics["performance/rmse"] = float(np.sqrt(row.squared / row.usable))
                result.metrics["performance/r2"] = _r2(row.squared, row.spread * row.usable, row.usable)
                if row.fractional == 0 and levels[code] <= MAX_SCORE_LEVELS:  # whole-number scores
                    result.metrics["performance/accuracy"] = row.rounded_right / row.usable
            elif not regression:
                if code in confusion:
                    result.metrics.update(classification_metrics(confusion[code]))
                if code in probabilities:
                    metrics, reasons = probabilities[code]
                    result.metrics.update(metrics)
                    result.reasons.extend(reasons)
        if scored and code in estimated:
            metrics, reasons = estimated[code]
            result.metrics.update(metrics)
            result.reasons.extend(reasons)
    return results


def _scored_by_probabilities(frame, inputs: MonitorInputs, schema: dict, names: set[str], classes: Sequence | None,
                             codes: list[int], *, predicted: bool, measured: bool) -> tuple[dict, dict]:
    """The figures per window code that need the model run on each row: ROC AUC and log loss of a classifier's
    labelled rows (when ``measured``: predictions and labels of a classification) and the estimated performance
    (:mod:`driftloop.spark.estimation`, of the windows ``codes`` when the data holds the model's predictions,
    ``predicted``: those with rows and predictions), from one scoring
    of the class probabilities that both read (:func:`~driftloop.spark.probabilities.score_probabilities`)."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import NumericType

    from driftloop.spark.estimation import estimates_spark

    features = all(c in names for c in inputs.features)
    proba = inputs.predict_proba if features else None
    measured = measured and proba is not None and classes is not None
    fitted = inputs.estimator if predicted else None
    confident = fitted is not None and fitted.classes is not None and proba is not None  # CBPE: the model's classes
    # the order in which to find a window's first score that is not a probability: the numpy engine's reading order
    # where the frame holds it, else the files' (as Spark names them) and their rows'
    order = [READ] if READ in frame.columns else [c for c in (FILE, ROW) if c in frame.columns]
    carried = {name: F.col(name) for name in order} if confident else {}
    if measured:
        numbers = isinstance(schema[PREDICTION], NumericType)
        carried["code"] = class_codes(F.col(LABEL) if numbers else _label_text(frame, schema), classes, numbers)
    rows = score_probabilities(frame, WINDOW, inputs.features, proba, carried) if measured or confident else None
    try:
        probabilities = probability_metrics_spark(rows, classes) if measured else {}
        estimated = estimates_spark(frame, WINDOW, PREDICTION, fitted, inputs.features, names, codes, proba,
                                    classes, rows, order) if fitted is not None else {}
    finally:
        if rows is not None:
            rows.unpersist()
    return probabilities, estimated


def _detected_rows(frame, activity: StreamActivity) -> pd.DataFrame:
    """The window code, id and log time of the rows that a detection of the service's streaming detectors names
    (:mod:`driftloop.monitor.stream_drift`): a join with the detections' ids, few rows collected."""
    from pyspark.sql import functions as F

    ids = activity.events["row_id"].drop_duplicates().astype(str).tolist()
    empty = pd.DataFrame({WINDOW: pd.Series(dtype="int64"), ID: pd.Series(dtype="str"),
                          TIMESTAMP: pd.Series(dtype="datetime64[ns, UTC]")})
    if not ids:
        return empty
    named = frame.sparkSession.createDataFrame([(i,) for i in ids], f"{ID} string")
    stamps = _nanoseconds(frame, TIMESTAMP) if TIMESTAMP in frame.columns else F.lit(None).cast("long")
    rows = (frame.select(WINDOW, F.col(ID).cast("string").alias(ID), stamps.alias(TIMESTAMP))
            .join(F.broadcast(named), ID).collect())
    if not rows:
        return empty
    return pd.DataFrame({WINDOW: [r[WINDOW] for r in rows], ID: [r[ID] for r in rows],
                         TIMESTAMP: pd.to_datetime([r[TIMESTAMP] for r in rows], utc=True, unit="ns")})


def _confusion_counts(frame, schema: dict) -> dict[int, dict[tuple, int]]:
    """Per window, the rows of each (label, predicted class) pair among the rows with both: one aggregate.
    Numbers are compared as numbers when both columns hold numbers, else as text (as the numpy engine aligns
    labels with the model's outputs, :func:`~driftloop.monitor.performance.align_labels`)."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import NumericType

    numbers = isinstance(schema[LABEL], NumericType) and isinstance(schema[PREDICTION], NumericType)
    truth = F.col(LABEL).cast("double") if numbers else _label_text(frame, schema)
    predicted = F.col(PREDICTION).cast("double" if numbers else "string")
    pairs = (frame.where(present(frame, LABEL) & present(frame, PREDICTION))
             .groupBy(WINDOW, truth.alias("truth"), predicted.alias("predicted")).count().collect())
    confusion: dict[int, dict[tuple, int]] = {}
    for row in pairs:
        confusion.setdefault(row[WINDOW], {})[(row.truth, row.predicted)] = row["count"]
    return confusion


def _label_text(frame, schema: dict):
    """The label as the text a model that outputs text is compared with (:func:`driftloop.monitor.performance
    .align_labels`): a whole floating-point number without its decimal point (``1.0`` -> ``"1"``)."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import DoubleType, FloatType

    label = F.col(LABEL)
    if isinstance(schema[LABEL], DoubleType | FloatType):
        whole = present(frame, LABEL) & (label == F.rint(label)) & (F.abs(label) < 2.0**63)
        return F.when(whole, label.cast("long").cast("string")).otherwise(label.cast("string"))
    return label.cast("string")


def classification_metrics(confusion: dict[tuple, int]) -> dict[str, float]:
    """Accuracy and macro F1 from the counts of (label, predicted class) pairs, as scikit-learn computes them:
    ``F1_c = 2 TP_c / (2 TP_c + FP_c + FN_c)`` over every class seen as a label or a prediction, averaged.

    >>> classification_metrics({("a", "a"): 3, ("a", "b"): 1, ("b", "b"): 2})
    {'performance/accuracy': 0.8333333333333334, 'performance/f1': 0.8285714285714285}
    """
    total = sum(confusion.values())
    classes = {c for pair in confusion for c in pair}
    right = {c: confusion.get((c, c), 0) for c in classes}
    as_label = {c: sum(k for (t, _), k in confusion.items() if t == c) for c in classes}
    as_predicted = {c: sum(k for (_, q), k in confusion.items() if q == c) for c in classes}
    f1 = [2 * right[c] / (as_label[c] + as_predicted[c]) for c in classes]
    return {"performance/accuracy": sum(right.values()) / total, "performance/f1": float(np.mean(f1))}


def _r2(squared: float, spread: float, usable: int) -> float:
    """:func:`sklearn.metrics.r2_score` from the sums: ``1 - sum (y - p)^2 / sum (y - mean y)^2``; 1 or 0 for a
    constant truth (predicted exactly or not), NaN for one row."""
    if usable < 2:
        return float("nan")
    if spread == 0.0:
        return 1.0 if squared == 0.0 else 0.0
    return 1.0 - squared / spread


def _summary(profile, name: str, names: set[str], schema: dict, cells: dict[str, Tallies], categories: dict,
             summaries: dict, codes: dict[str, int], code: int) -> WindowSummary:
    """The :class:`~driftloop.profile.statistics.WindowSummary` of the compared column ``name`` in window ``code``
    (``cells``: the window's tallies of each column)."""
    from pyspark.sql.types import NumericType

    column = profile.columns_[name]
    if name not in names:
        return WindowSummary.failed(f"column {name!r} is missing from the window")
    if isinstance(column, NumericColumn):
        if not isinstance(schema[name], NumericType):
            return WindowSummary.failed(f"column {name!r} must hold numbers for the Spark engine; got "
                                        f"{schema[name].simpleString()}")
        n_missing = cells[name].missing + cells[name].infinite
        summary = summaries.get((code, codes[name]))
        if summary is None:
            return WindowSummary(None, 0, n_missing)
        # the window's bin counts where a statistic counts them, as the numpy engine (they also draw its chart)
        counted = any(s.needs == "counts" for s in profile.statistics_for(column))
        pair = Pair(column.values, None, column.counts, summary.bins if counted else None, column.n, column.std,
                    summary.gaps)
        return WindowSummary(pair, summary.gaps.n_window, n_missing, summary.departures)
    values, counts, missing = categories[name].get(code, ([], [], 0))
    aligned = column.align(values, np.asarray(counts, dtype=np.int64))
    return WindowSummary(Pair(None, None, column.counts, aligned, column.n, float("nan")), int(aligned.sum()),
                         missing)


def _not_numbers(name: str, suffix: str) -> list:
    """The aggregates of a column read from text: its values that are not numbers (``wrong``), and the first of them
    in the files' row order (``example``, the one the numpy engine names)."""
    from pyspark.sql import functions as F

    wrong = quoted(not_a_number(name))
    return [F.count(wrong).alias(f"wrong{suffix}"),
            F.min(F.when(wrong.isNotNull(), F.struct(F.col(READ), wrong))).alias(f"example{suffix}")]


def _dtype_name(kind) -> str:
    """The name of the pandas dtype that the numpy engine reads a column of Spark's type ``kind`` as (in reasons)."""
    from pyspark.sql.types import BooleanType, StringType

    return {StringType: "str", BooleanType: "bool"}.get(type(kind), kind.simpleString())


def _label_types(row, rows: int, from_text: bool, reasons: list[str]) -> dict[str, float]:
    """``quality/label_type_errors`` (and ``quality/labels_coerced_from_text``) as the numpy engine computes them
    (:func:`driftloop.monitor.engine._aligned_labels`): labels stored as text read as the model's numbers."""
    if not from_text:
        return {"quality/label_type_errors": 0.0}
    metrics = {"quality/label_type_errors": row.wrong_label / rows}
    if row.wrong_label:
        reasons.append(f"labels: {row.wrong_label} label(s) are not of the model's output type (numbers), such as "
                       f"{row.example_label[1]!r}: left out of performance")
    if row.labels:  # the labels read as numbers
        metrics["quality/labels_coerced_from_text"] = row.labels / rows
    return metrics


def _quality(inputs: MonitorInputs, row, rows: int, names: set[str], positions: dict[str, int], schema: dict,
             categories: dict, code: int, read_from_text: set[str], cells: dict[str, Tallies]
             ) -> tuple[dict[str, float], list[str]]:
    """The keys and values of :func:`driftloop.monitor.quality.quality_metrics` for a window, and its reasons, from
    the aggregates and the window's tallies of each column (``cells``). A column read from text holds its numbers,
    null where the text was missing or not a number."""
    from pyspark.sql.types import NumericType

    expected = list(inputs.features)
    ignored = {*inputs.ignored_columns, PREDICTION, LABEL, NAIVE}
    missing_columns = [c for c in expected if c not in names]
    extra = [c for c in [*names, *inputs.unread_columns] if c not in expected and c not in ignored]
    metrics = {"quality/missing_columns": float(len(missing_columns)), "quality/extra_columns": float(len(extra))}
    reasons = [f"columns the model expects are missing: {', '.join(missing_columns)}"] if missing_columns else []
    missing_cells = 0
    converted_columns = []
    for name in expected:
        if name not in names:
            continue
        position = positions[name]
        missing = cells[name].missing
        wrong = row[f"wrong_{position}"] if name in read_from_text else 0
        missing -= wrong  # a column read from text is null where the text was missing or not a number
        missing_cells += missing
        metrics[f"quality/{name}/missing_rate"] = missing / rows
        if name in inputs.reference_ranges and isinstance(schema[name], NumericType):
            if name in read_from_text:
                converted = rows - missing - wrong
                metrics[f"quality/{name}/coerced_from_text"] = converted / rows
                if converted:
                    converted_columns.append(name)
                if wrong:
                    reasons.append(f"column {name!r}: {wrong} value(s) are not numbers, such as "
                                   f"{row[f'example_{position}'][1]!r}")
            metrics[f"quality/{name}/type_errors"] = wrong / rows
            metrics[f"quality/{name}/out_of_range"] = cells[name].outside / rows
        elif name in inputs.reference_categories and name in categories:
            values, counts, _ = categories[name].get(code, ([], [], 0))
            known = inputs.reference_categories[name]
            metrics[f"quality/{name}/unseen"] = sum(k for v, k in zip(values, counts, strict=True)
                                                    if v not in known) / rows
    if converted_columns:
        reasons.append(f"numbers stored as text were read as numbers (losslessly) in {len(converted_columns)} "
                       "column(s): " + ", ".join(converted_columns))
    cells = rows * len(expected)
    metrics["quality/missing_rate"] = (missing_cells + rows * len(missing_columns)) / cells if cells else float("nan")
    return metrics, reasons

"""The numpy engine's row order in Spark, for count windows (``monitor --rows N``): the files of a Parquet folder in
the order of their paths (as pyarrow lists them, :func:`driftloop.data.dataset.open_dataset`), then each file's rows
(Spark's ``_metadata.row_index``); with a time column that order sorted by time, ties kept in file order (the numpy
engine's stable sort, :func:`driftloop.data.windows.row_windows`). Each row gets its place as :data:`POSITION`; the
driver receives one count per file (and per partition of the sort), never the rows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from driftloop.data.dataset import WindowSpec
from driftloop.errors import DriftloopError
from driftloop.spark.cells import quoted

#: Columns holding each row's file and row index in it (:func:`with_file_places`).
FILE, ROW = "_driftloop_file", "_driftloop_row"
#: Each row's place in the numpy engine's row order, its file's offset, and its place in file order (engine columns,
#: named as :data:`driftloop.spark.monitor.ENGINE` names them).
POSITION, OFFSET, IN_FILE = "_driftloop_position", "_driftloop_offset", "_driftloop_file_position"
#: A file's rank in path order (:func:`with_file_ranks`).
RANK = "_driftloop_file_rank"


def with_file_places(frame):
    """``frame`` (as Spark read it from Parquet files) with each row's file (:data:`FILE`, a URI) and row index in
    that file (:data:`ROW`), from Spark's ``_metadata``."""
    from pyspark.sql import functions as F

    return frame.select("*", F.col("_metadata.file_path").alias(FILE), F.col("_metadata.row_index").alias(ROW))


def with_file_ranks(frame, order: Callable[[str], Any] = None):
    """``frame`` with :data:`FILE` replaced by the file's rank (a ``long``) in the order of the paths as pyarrow
    lists them, or of ``order`` (a sort key of a file's URI): Spark's URIs escape characters (a space is ``%20``),
    so they do not sort as the paths do (``a b`` < ``a!b`` < ``a%20b``). The driver receives the distinct files,
    and joins their ranks back (a broadcast)."""
    from pyspark.sql import functions as F

    files = [row[FILE] for row in frame.select(FILE).distinct().collect()]
    ranks = frame.sparkSession.createDataFrame(list(enumerate(sorted(files, key=order or local_path))),
                                               f"{RANK} long, {FILE} string")
    return frame.join(F.broadcast(ranks), FILE).drop(FILE).withColumnRenamed(RANK, FILE)


def in_file_order(frame, data_path: str, order: Callable[[str], Any] = None):
    """``frame`` with each row's :data:`POSITION` in the numpy engine's row order: the files in the order of their
    paths (as pyarrow lists a folder, :func:`driftloop.data.dataset.open_dataset`), or of ``order`` (a sort key of a
    file's URI), then each file's row index.
    The driver receives one row per file (its row count) and joins the files' offsets back (a broadcast)."""
    from pyspark.sql import functions as F

    files = frame.groupBy(FILE).agg(F.count(F.lit(1)).alias("n"), F.max(ROW).alias("last")).collect()
    gaps = [row[FILE] for row in files if row["last"] != row.n - 1]
    if gaps:  # pragma: no cover - Spark's row index counts every row of a file
        raise DriftloopError(f"Spark read the file {gaps[0]!r} of {data_path!r} with gaps in its row index; cut by "
                             "time (--window), or use --engine numpy.")
    offsets, offset = [], 0
    for row in sorted(files, key=lambda row: (order or local_path)(row[FILE])):
        offsets.append((row[FILE], offset))
        offset += row.n
    table = frame.sparkSession.createDataFrame(offsets, f"{FILE} string, {OFFSET} long")
    return (frame.join(F.broadcast(table), FILE).withColumn(POSITION, F.col(OFFSET) + F.col(ROW))
            .drop(OFFSET))


def local_path(uri: str) -> str:
    """A file's path as pyarrow lists it, from the URI Spark gives (``file:///a%20b/x.parquet`` -> ``/a b/x.parquet``).

    >>> local_path("file:///data/a%20b/part-0.parquet")
    '/data/a b/part-0.parquet'
    """
    from urllib.parse import unquote, urlparse

    return unquote(urlparse(uri).path)


def in_time_order(frame, time: str):
    """``frame`` with :data:`POSITION` replaced by each row's place in the order of its column ``time``
    (nanoseconds), ties in file order (the numpy engine's stable sort by time of the rows in file order): a global
    sort of the (time, position) pairs alone, checkpointed on the executors with each pair's partition and its
    place there; the driver receives one row per partition (its count) and the partitions' offsets are joined back,
    then the places to the rows (one shuffle)."""
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    ordered = (frame.select(POSITION, time).orderBy(time, POSITION)
               .select(POSITION, F.spark_partition_id().alias("_part"), F.monotonically_increasing_id().alias("_id"))
               .localCheckpoint(eager=True, storageLevel=StorageLevel.MEMORY_AND_DISK))  # fixed partitions and ids
    parts = ordered.groupBy("_part").agg(F.count(F.lit(1)).alias("n"), F.min("_id").alias("first"),
                                         F.max("_id").alias("last")).collect()
    if any(row["last"] - row["first"] + 1 != row.n for row in parts):  # pragma: no cover - Spark numbers them so
        raise DriftloopError("Spark numbered the rows of a partition with gaps; cut by time (--window), or use "
                             "--engine numpy.")
    offsets, offset = [], 0
    for row in sorted(parts, key=lambda row: row._part):
        offsets.append((row._part, offset - row["first"]))  # the ids of a partition are consecutive from its first
        offset += row.n
    table = frame.sparkSession.createDataFrame(offsets, f"_part int, {OFFSET} long")
    places = (ordered.join(F.broadcast(table), "_part")
              .select(F.col(POSITION).alias(IN_FILE), (F.col(OFFSET) + F.col("_id")).alias(POSITION)))
    return (frame.withColumnRenamed(POSITION, IN_FILE).join(places, IN_FILE)
            .drop(IN_FILE))


def first_rows_reader(frame, features: Sequence[str]):
    """The :attr:`Cut.reader` of count windows, for the data's identity only (:func:`driftloop.monitor.job._identity`
    digests the first window's model inputs as stored): the rows of the windows asked for, collected to the
    driver in order — one window's inputs at a time."""
    from pyspark.sql import functions as F

    def read(chosen: Sequence[WindowSpec]):
        for spec in chosen:
            rows = frame.where((F.col(POSITION) >= spec.first_row) & (F.col(POSITION) < spec.first_row + spec.rows))
            yield spec, rows.orderBy(POSITION).select(*[quoted(c) for c in features]).toPandas()

    return read

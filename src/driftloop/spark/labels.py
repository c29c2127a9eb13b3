"""Late labels from a file of their own, joined to the data by id in Spark (``monitor --engine spark --labels
PATH``), as the numpy engine joins them (``driftloop.monitor.job._attach_labels``):

- the labels file needs the id column (``--id-column``, default ``id``) and the label column (``--target``, default
  ``label``); the data needs the id column;
- of the labels of one id the last one in the file's row order is used (a Parquet folder: the files in path
  order, then each file's rows, as pyarrow reads it), and the labels that repeat an id are counted in a note;
- labels whose id is not in the data are counted in a note;
- the data's own label column, and its ``--target`` column, give way to the joined labels.

A Parquet labels file or folder is read by Spark and joined there; a CSV file is read on the driver by the numpy
engine's reader (:func:`driftloop.data.readers.read_table`, the same types and missing values) and handed to Spark
(store a large labels table as Parquet). The driver receives only counts.
"""

from __future__ import annotations

from pathlib import Path

from driftloop.data.readers import read_table
from driftloop.errors import DriftloopError
from driftloop.monitor.cutting import LABEL
from driftloop.spark.cells import quoted
from driftloop.spark.row_order import FILE, ROW, with_file_places, with_file_ranks
from driftloop.spark.session import read_parquet

_ID, _LABEL, _RANK = "_driftloop_label_id", "_driftloop_label_value", "_driftloop_label_rank"


def _read_labels(spark, path: str):
    """The labels file as a Spark DataFrame with each row's place in the file order (:data:`FILE`, the file's rank
    in path order, and :data:`ROW`)."""
    source = Path(path)
    if "://" in path or source.is_dir() or source.suffix.lower() in (".parquet", ".pq"):
        return with_file_ranks(with_file_places(read_parquet(spark, path)))
    table = read_table(path)  # CSV: the numpy engine's reader, on the driver
    table[FILE], table[ROW] = 0, range(len(table))
    return spark.createDataFrame(table)


def join_labels_spark(spark, frame, path: str, id_column: str, label_column: str, notes: list[str]):
    """``frame`` with the column ``label`` holding the labels of ``path`` matched by ``id_column`` (see the module
    docstring); its own ``label`` and ``label_column`` columns dropped."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    labels = _read_labels(spark, path)
    for column, role in ((id_column, "id"), (label_column, "label")):
        if column not in labels.columns:
            shown = ", ".join(c for c in labels.columns if c not in (FILE, ROW))
            raise DriftloopError(f"The labels file has no {role} column {column!r}; its columns are: {shown}.")
    if id_column not in frame.columns:
        raise DriftloopError(f"The data has no id column {id_column!r} to join the labels on.")
    last_first = Window.partitionBy(_ID).orderBy(F.col(FILE).desc(), F.col(ROW).desc())
    ranked = (labels.select(quoted(id_column).alias(_ID), quoted(label_column).alias(_LABEL), FILE, ROW)
              .withColumn(_RANK, F.row_number().over(last_first)))
    latest = ranked.where(F.col(_RANK) == 1).select(_ID, _LABEL)
    repeated = ranked.where(F.col(_RANK) > 1).count()
    if repeated:
        notes.append(f"{repeated} label(s) repeat an id: the last one of each id is used")
    unknown = latest.join(frame.select(quoted(id_column).alias(_ID)), _ID, "left_anti").count()
    if unknown:
        notes.append(f"{unknown} label(s) are for ids not in the data (not used)")
    own = [c for c in dict.fromkeys((LABEL, label_column)) if c in frame.columns and c != id_column]
    joined = frame.drop(*own).join(latest, quoted(id_column) == F.col(_ID), "left")
    return joined.withColumn(LABEL, F.col(_LABEL)).drop(_ID, _LABEL)

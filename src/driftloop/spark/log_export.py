"""A ``driftloop log export`` folder read by the Spark engine as the numpy engine reads it
(:func:`driftloop.data.log_export.read_log_export`): the union of the replicas' predictions, each row with the
latest label any replica received for it.

Read as a plain Parquet folder, an export would give wrong figures without a word: Spark skips the ``_labels``
folder (its name starts with ``_``), so the labels that reached another replica than the one that served the
prediction — most of them behind a load balancer — would be missing from performance and coverage; and Spark's
partition discovery would add ``date`` and ``replica`` columns, replacing a feature named ``date`` by the partition's
day. So the predictions are read from their files (no partition columns), and the orphan labels are joined by id:

- of each id's orphan labels the latest is kept: the largest ``(label_timestamp, file, row in its file)``, the files
  in the numpy engine's path order (:func:`file_order`), which is the last one of the numpy engine's stable sort by
  ``label_timestamp`` over the replicas' files;
- it replaces the row's own label when the row has none or an older one (``label_timestamp``);
- ids held by two rows are refused, as the numpy engine refuses them, and orphan labels whose prediction is in no
  exported replica are counted in a note.

Rows stay in Spark, each with its file and row index (:data:`~driftloop.spark.profile.FILE`,
:data:`~driftloop.spark.profile.ROW`); the driver receives counts and, for a refusal, one example id.
"""

from __future__ import annotations

from pathlib import Path

from driftloop.errors import DriftloopError, NoRowsError
from driftloop.spark.row_order import FILE, ROW, local_path, with_file_places, with_file_ranks
from driftloop.spark.session import spark_path

ID, LABEL, LABEL_TIMESTAMP = "id", "label", "label_timestamp"
_INCOMING, _INCOMING_AT = "_driftloop_orphan_label", "_driftloop_orphan_label_timestamp"


def file_order(uri: str) -> tuple[str, ...]:
    """The sort key of an export's file (Spark's URI) that puts the files in the numpy engine's order: the order of
    their paths as :class:`pathlib.Path` objects, compared part by part (``replica=a`` before ``replica=a-1``,
    which a comparison of the whole text would reverse: ``/`` follows ``-``)."""
    return Path(local_path(uri)).parts


def read_log_export_spark(spark, folder: str, notes: list[str]):
    """The union of the replicas of the export ``folder`` as a Spark DataFrame (see the module docstring)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    root = Path(folder)
    parts = sorted(root.glob("date=*/replica=*/part-0.parquet"))
    if not parts:
        raise NoRowsError(f"The export {folder!r} holds no predictions yet: nothing to monitor.")
    # the files, not the folder: Spark would add the partition keys as columns (a feature may be named ``date``)
    rows = spark.read.option("mergeSchema", "true").parquet(*[spark_path(str(p)) for p in parts])
    rows = with_file_places(rows)
    repeated = rows.groupBy(ID).agg(F.count(F.lit(1)).alias("n")).where(F.col("n") > 1)
    found = repeated.agg(F.sum("n").alias("rows"), F.min(ID).alias("example")).collect()[0]
    if found["rows"]:
        raise DriftloopError(f"The export {folder!r} holds {found['rows']} rows whose id another row has too, such as "
                             f"{found['example']!r}: two replicas exported the same log under different names?")
    label_parts = sorted((root / "_labels").glob("replica=*/part-0.parquet"))
    if not label_parts:
        return rows
    orphans = with_file_ranks(with_file_places(spark.read.option("mergeSchema", "true")
                                               .parquet(*[spark_path(str(p)) for p in label_parts])), file_order)
    newest_first = Window.partitionBy(ID).orderBy(F.col(LABEL_TIMESTAMP).desc(), F.col(FILE).desc(),
                                                  F.col(ROW).desc())
    latest = (orphans.withColumn("_rank", F.row_number().over(newest_first)).where(F.col("_rank") == 1)
              .select(ID, F.col(LABEL).alias(_INCOMING), F.col(LABEL_TIMESTAMP).alias(_INCOMING_AT)))
    unmatched = latest.join(rows.select(ID), ID, "left_anti").count()
    if unmatched:
        notes.append(f"{unmatched} label(s) in the export match no prediction of its replicas (not used): export "
                     "every replica's log")
    joined = rows.join(latest, ID, "left")
    newer = F.col(_INCOMING_AT).isNotNull() & (F.col(LABEL_TIMESTAMP).isNull()
                                               | (F.col(_INCOMING_AT) > F.col(LABEL_TIMESTAMP)))
    return (joined.withColumn(LABEL, F.when(newer, F.col(_INCOMING)).otherwise(F.col(LABEL)))
            .withColumn(LABEL_TIMESTAMP, F.when(newer, F.col(_INCOMING_AT)).otherwise(F.col(LABEL_TIMESTAMP)))
            .drop(_INCOMING, _INCOMING_AT))

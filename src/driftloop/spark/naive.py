r"""The seasonal naive benchmark in Spark (``monitor --engine spark --naive-lag LENGTH``), as the numpy engine's
:func:`driftloop.monitor.performance.seasonal_naive` gives it: each row's benchmark is the label of the row of the
same series stamped exactly ``lag`` earlier, :math:`\hat y_{s,t} = y_{s,t - \text{lag}}`, from the labels of the
whole data (a window's benchmark may come from an earlier window's rows).

The labelled rows with every series key are grouped by (series, time stamp): a group whose labels differ makes the
benchmark ambiguous and is refused, as the numpy engine refuses it; the others are shifted by ``lag`` and joined to
the rows by (series, time stamp). Labels stored as text are read as Spark casts them to double; a label that is not a
number is refused. The driver receives counts and, for a refusal, one example.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from driftloop.errors import DriftloopError
from driftloop.spark.cells import present, quoted


def with_seasonal_naive(frame, label: str, nanos: str, lag: pd.Timedelta, series: Sequence[str], column: str):
    """``frame`` with the column ``column``: the label (column ``label``) of the row of the same ``series`` whose
    time stamp (``nanos``, nanoseconds since the epoch) is ``lag`` earlier, null where there is none (see the module
    docstring)."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import NumericType

    if not lag > pd.Timedelta(0):
        raise DriftloopError(f"The seasonal lag of the naive forecast must be a positive duration; got {lag}.")
    value = quoted(label).cast("double")
    if not isinstance(frame.schema[label].dataType, NumericType):
        wrong = frame.where(present(frame, label) & value.isNull()).agg(
            F.count(F.lit(1)).alias("n"), F.first(quoted(label)).alias("example")).first()
        if wrong.n:
            raise DriftloopError(f"The seasonal naive forecast needs numeric labels (a regression target); got "
                                 f"{wrong.n} that are not numbers, e.g. {wrong.example!r}.")
    keys = [f"_driftloop_naive_key{i}" for i in range(len(series))]
    labelled = present(frame, label) & ~F.isnan(value)
    for name in series:
        labelled = labelled & present(frame, name)
    known = (frame.where(labelled)
             .select(*[quoted(name).alias(key) for name, key in zip(series, keys, strict=True)],
                     F.col(nanos).alias("_driftloop_naive_at"), value.alias("_driftloop_naive_value"))
             .groupBy(*keys, "_driftloop_naive_at")
             .agg(F.countDistinct("_driftloop_naive_value").alias("labels"),
                  F.first("_driftloop_naive_value").alias(column)))
    conflicting = known.where(F.col("labels") > 1)
    found = conflicting.agg(F.count(F.lit(1)).alias("n"), F.min(F.struct(*keys, "_driftloop_naive_at")).alias("example")
                            ).first()
    if found.n:
        *names, at = found.example
        stamp = pd.Timestamp(at, tz="UTC")
        which, example = ("series and time stamp", (*names, stamp)) if series else ("time stamp", stamp)
        raise DriftloopError(
            f"The seasonal naive forecast needs one label per {which}; {found.n} of them carry different labels "
            f"(e.g. {example}). Name the columns that tell the series apart (--naive-series) or monitor one series "
            "per pass.")
    shifted = known.select(*keys, (F.col("_driftloop_naive_at") + F.lit(lag.value)).alias("_driftloop_naive_at"),
                           column)
    matches = [quoted(name) == F.col(key) for name, key in zip(series, keys, strict=True)]
    condition = F.col(nanos) == F.col("_driftloop_naive_at")
    for match in matches:
        condition = condition & match
    return frame.join(shifted, condition, "left").drop(*keys, "_driftloop_naive_at")

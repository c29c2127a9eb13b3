"""The model's predictions in Spark as the numpy engine makes them: a window holding rows the model refuses (a
missing value that a ``LinearRegression`` cannot take, a text where it wants a number) gets no predictions and the
model's error as its reason; the other windows are scored.

MLflow's :func:`mlflow.pyfunc.spark_udf` fails the whole Spark job on the first batch the model refuses, with the
JVM's stack trace, and nothing is monitored. So the pyfunc model (loaded on the driver, shipped to the Python
workers with the UDF) is called by a pandas UDF of its own, one Arrow batch at a time, each row with its window
code. A batch the model refuses is scored window by window; the first of a batch's rows of a window the model
refuses carries its error.
The numpy engine calls the model on all the rows of a window at once, so one refused row leaves its whole window
without predictions: :func:`without_refused_windows` finds the windows with a refused row (one aggregate over the
refused rows) and clears their predictions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

#: The model's error on a batch's rows of a window (on the first of them; null elsewhere), beside ``prediction``
#: (null where refused); named with the Spark engine's prefix (:data:`driftloop.spark.monitor.ENGINE`).
SCORE_ERROR = "_driftloop_score_error"


def model_scorer(predict: Callable, features: Sequence[str], output_type: str):
    """The pandas UDF of ``struct(window, *features)`` that returns ``struct(p output_type, error string)``:
    ``predict`` (a frame of the model's inputs in, one prediction per row out) on each batch, or on each window of a
    batch it refuses (see the module docstring)."""
    from pyspark.sql import functions as F

    def score(rows):
        import pandas as pd

        windows = rows.iloc[:, 0].to_numpy()
        inputs = rows.iloc[:, 1:]
        inputs.columns = list(features)
        try:
            return pd.DataFrame({"p": predict(inputs), "error": None})
        except Exception:  # a window the model refuses: the other windows of the batch are still scored
            pass
        found = pd.Series([None] * len(rows), dtype=object)
        errors = pd.Series([None] * len(rows), dtype=object)
        for code in pd.unique(windows):
            mine = np.flatnonzero(windows == code)
            try:
                found.iloc[mine] = list(predict(inputs.iloc[mine]))
            except Exception as error:  # once per batch and window (the rows' predictions stay null)
                errors.iloc[mine[0]] = f"{type(error).__name__}: {error}"
        return pd.DataFrame({"p": found, "error": errors})

    return F.pandas_udf(score, f"p {output_type}, error string")


def strict_scorer(predict: Callable, features: Sequence[str], output_type: str):
    """The pandas UDF of ``struct(*features)`` that returns ``predict``'s predictions as ``output_type``; a batch the
    model refuses fails the Spark job with the model's error (the reference of a profile must be scored whole)."""
    from pyspark.sql import functions as F

    def score(rows):
        import pandas as pd

        rows.columns = list(features)
        return pd.Series(predict(rows))

    return F.pandas_udf(score, output_type)


def with_predictions(frame, scorer, window: str, features: Sequence[str], prediction: str):
    """``frame`` with the columns ``prediction`` and :data:`SCORE_ERROR` from ``scorer`` (:func:`model_scorer`)."""
    from pyspark.sql import functions as F

    from driftloop.spark.cells import quoted

    scored = scorer(F.struct(F.col(window), *[quoted(name).alias(f"x{i}") for i, name in enumerate(features)]))
    return (frame.withColumn("_driftloop_scored", scored)
            .withColumn(prediction, F.col("_driftloop_scored.p"))
            .withColumn(SCORE_ERROR, F.col("_driftloop_scored.error")).drop("_driftloop_scored"))


def without_refused_windows(frame, window: str, prediction: str) -> tuple[object, dict[int, str]]:
    """``frame`` (with :data:`SCORE_ERROR`) with the column ``prediction`` cleared in every window where the model
    refused a row, and those windows' codes with the model's error (the least of their errors as text, so that
    reruns name the same one)."""
    from pyspark.sql import functions as F

    error = F.col(SCORE_ERROR)
    refused = {row[window]: row.error for row in frame.where(error.isNotNull()).groupBy(window)
               .agg(F.min(error).alias("error")).collect()}
    if refused:
        frame = frame.withColumn(prediction, F.when(~F.col(window).isin(list(refused)), F.col(prediction)))
    return frame.drop(SCORE_ERROR), refused

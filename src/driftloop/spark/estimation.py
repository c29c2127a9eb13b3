r"""Estimated performance per window in Spark, without labels and without collecting rows to the driver: the numpy
engine's figures (:func:`driftloop.monitor.estimation.window_estimates`) from sums that Spark aggregates.

Each row is scored in Python workers with the estimator fitted on the reference, one Arrow batch at a time; what
a row gets from it does not depend on the other rows of its batch, so the sums below are those of the window's rows:

- **CBPE** (a classifier): the model's class probabilities come from the rows the monitor already scored for ROC
  AUC and log loss (:func:`driftloop.spark.probabilities.score_probabilities`: the model runs once per row). A
  second pandas UDF (:func:`_calibration`, no model call) gives each row its calibrated probabilities :math:`P_{ik}`
  and predicted class :math:`\hat y_i` (:meth:`~driftloop.estimate.ConfidenceEstimator.calibrated`), or the count
  of its scores that are NaN or outside [0, 1]. Per window then:

  * the expected confusion matrix :math:`C_{kj} = \sum_{i: \hat y_i = j} P_{ik}`: a sum per (window, predicted
    class, class);
  * for each class :math:`k` whose AUC is averaged, per distinct raw score :math:`s`: :math:`W_s = \sum P_{ik}`,
    :math:`V_s = \sum (1 - P_{ik})` and :math:`\sum P_{ik}(1 - P_{ik})`; the running sum :math:`V_{<s}` over the
    window's distinct scores (a Spark window function, as :mod:`driftloop.spark.probabilities` does), and then per
    (window, class) the five :class:`~driftloop.estimate.confusion.AucSums`;
  * the rows whose probabilities failed (and the least error), and the scores that are not probabilities with the
    first of them in the files' row order (the numpy engine's example).

  :meth:`~driftloop.estimate.ConfidenceEstimator.estimate_from_confusion` turns them into the estimates and bands.
- **DLE** (a regressor): a pandas UDF of the model's inputs and prediction gives each row its predicted absolute and
  squared loss (:meth:`~driftloop.estimate.LossEstimator.predicted_losses`); per window their means, and the rows
  whose prediction is not a finite number; :meth:`~driftloop.estimate.LossEstimator.estimate_from_means`.

The reasons are the numpy engine's, from the same functions (:mod:`driftloop.monitor.estimation`). What reaches the
driver is a few numbers per window (and per class, and pair of classes). The figures equal the numpy engine's up to
the order of floating-point additions (tests: to 1e-9).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from driftloop.estimate.cbpe import scores_problem
from driftloop.estimate.confusion import AucSums, scored_classes
from driftloop.estimate.dle import predictions_problem
from driftloop.monitor.estimation import (
    FittedEstimator,
    classes_differ_reason,
    estimated_metrics,
    missing_columns_reason,
    model_output_reason,
    predict_proba_failed_reason,
    unavailable_reason,
)

#: What the calibration UDF returns per row: calibrated probabilities and predicted class (null for a row whose
#: scores are not probabilities), the counts of its NaN scores and of those outside [0, 1], and the first of those.
CALIBRATED_SCHEMA = "q array<double>, c int, nan int, outside int, example double"

#: Per window code: the ``estimated/...`` metrics and the reasons.
Estimates = dict[int, tuple[dict[str, float], list[str]]]


def _calibration(estimator) -> Callable:
    """The function of a pandas UDF: a batch of rows' class scores (``p``, null where the model failed) in, each
    row's calibrated probabilities and predicted class out, or what is wrong with its scores."""

    def calibrate(scores):
        import pandas as pd

        n, k = len(scores), estimator.n_classes_
        given = scores.notna().to_numpy()
        matrix = np.full((n, k), np.nan)
        if given.any():
            matrix[given] = np.stack(scores[given].to_numpy())
        missing = np.isnan(matrix) & given[:, None]
        outside = ~np.isnan(matrix) & ((matrix < 0.0) | (matrix > 1.0))
        first = np.argmax(outside, axis=1)
        example = np.where(outside.any(axis=1), matrix[np.arange(n), first], np.nan)
        usable = given & ~missing.any(axis=1) & ~outside.any(axis=1)
        calibrated: list = [None] * n
        predicted = pd.array([None] * n, dtype="Int32")
        if usable.any():
            probabilities, classes = estimator.calibrated(matrix[usable])
            rows = np.flatnonzero(usable)
            for row, values in zip(rows, probabilities.tolist(), strict=True):
                calibrated[row] = values
            predicted[rows] = classes
        return pd.DataFrame({"q": calibrated, "c": predicted, "nan": missing.sum(axis=1).astype(np.int32),
                             "outside": outside.sum(axis=1).astype(np.int32),
                             "example": pd.array(np.where(np.isnan(example), None, example), dtype="Float64")})

    return calibrate


def cbpe_estimates(scored, estimator, order: Sequence[str]) -> Estimates:
    """CBPE's estimates and reasons per window code from the rows :func:`driftloop.spark.probabilities
    .score_probabilities` scored (columns ``w``, ``p``, ``error`` and the ``order`` columns that give the files'
    row order); see the module."""
    from pyspark import StorageLevel
    from pyspark.sql import Window as SparkWindow
    from pyspark.sql import functions as F

    calibrate = F.pandas_udf(_calibration(estimator), CALIBRATED_SCHEMA)
    rows = (scored.select("w", *order, "p", "error", calibrate("p").alias("c"))
            .select("w", *order, "p", "error", "c.*").persist(StorageLevel.MEMORY_AND_DISK))
    try:
        facts = {row.w: row for row in rows.groupBy("w").agg(
            F.count(F.lit(1)).alias("n"), F.count(F.when(F.col("p").isNull(), 1)).alias("failed"),
            F.min("error").alias("error"), F.sum("nan").alias("nan"), F.sum("outside").alias("outside"),
            F.min(F.when(F.col("example").isNotNull(), F.struct(*order, "example"))).alias("first")).collect()}
        usable = rows.where(F.col("q").isNotNull())
        confusion = (usable.select("w", "c", F.posexplode("q").alias("k", "qk"))
                     .groupBy("w", "c", "k").agg(F.sum("qk").alias("total")).collect())
        positive = scored_classes(estimator.n_classes_)
        pairs = (usable.select("w", F.posexplode(F.arrays_zip("p", "q")).alias("k", "z"))
                 .where(F.col("k").isin(positive))
                 .select("w", "k", F.col("z.p").alias("s"), F.col("z.q").alias("wk")))
        # per distinct score (names that differ from the window's ``w`` in more than case: Spark ignores it)
        groups = pairs.groupBy("w", "k", "s").agg(F.sum("wk").alias("w_s"), F.sum(1.0 - F.col("wk")).alias("v_s"),
                                                  F.sum(F.col("wk") * (1.0 - F.col("wk"))).alias("self_s"))
        below = F.sum("v_s").over(SparkWindow.partitionBy("w", "k").orderBy("s")
                                  .rowsBetween(SparkWindow.unboundedPreceding, -1))
        sums = (groups.select("*", F.coalesce(below, F.lit(0.0)).alias("below"))
                .groupBy("w", "k").agg(F.sum(F.col("w_s") * F.col("below")).alias("ranked"),
                                       F.sum(F.col("w_s") * F.col("v_s")).alias("tied"),
                                       F.sum("w_s").alias("positive"), F.sum("v_s").alias("negative"),
                                       F.sum("self_s").alias("self_pairs"))
                .collect())
    finally:
        rows.unpersist()
    k = estimator.n_classes_
    matrices: dict[int, np.ndarray] = {}
    for row in confusion:
        matrices.setdefault(row.w, np.zeros((k, k)))[row.k, row.c] = row.total
    aucs: dict[int, dict[int, AucSums]] = {}
    for row in sums:
        aucs.setdefault(row.w, {})[row.k] = AucSums(row.ranked, row.tied, row.positive, row.negative, row.self_pairs)
    results: Estimates = {}
    for w, fact in facts.items():
        if fact.failed:
            results[w] = ({}, [predict_proba_failed_reason(fact.error)])
        elif fact.nan or fact.outside:
            example = None if fact.first is None else float(fact.first["example"])
            results[w] = ({}, [model_output_reason(scores_problem("the window", int(fact.nan), int(fact.outside),
                                                                  example))])
        else:
            empty = AucSums(0.0, 0.0, 0.0, 0.0, 0.0)
            estimates = estimator.estimate_from_confusion(matrices.get(w, np.zeros((k, k))),
                                                          [aucs.get(w, {}).get(c, empty) for c in positive], fact.n)
            results[w] = (estimated_metrics(estimates), [])
    return results


def _losses(estimator, features: Sequence[str]) -> Callable:
    """The function of a pandas UDF: a batch of the model's inputs and its prediction (the last column) in, each
    row's predicted absolute and squared loss out (NaN where the prediction is not a finite number)."""

    def losses(rows):
        import pandas as pd

        predictions = rows.iloc[:, -1].to_numpy(dtype=np.float64)
        finite = np.isfinite(predictions)
        absolute, squared = np.full(len(rows), np.nan), np.full(len(rows), np.nan)
        if finite.any():
            kept = rows[finite]
            columns = {name: kept.iloc[:, i].to_numpy() for i, name in enumerate(features)}
            absolute[finite], squared[finite] = estimator.predicted_losses(columns, predictions[finite])
        return pd.DataFrame({"a": absolute, "s": squared})

    return losses


def dle_estimates(frame, window: str, prediction: str, estimator) -> Estimates:
    """DLE's estimates and reasons per window code (column ``window``) from the model's inputs and its predictions
    (column ``prediction``); see the module."""
    from pyspark.sql import functions as F

    from driftloop.spark.cells import quoted

    features = list(estimator.columns_)
    predicted = F.col(prediction).cast("double")
    finite = predicted.isNotNull() & ~F.isnan(predicted) & ~predicted.isin(float("inf"), float("-inf"))
    losses = F.pandas_udf(_losses(estimator, features), "a double, s double")
    inputs = F.struct(*[quoted(name).alias(f"x{i}") for i, name in enumerate(features)], predicted.alias("y"))
    scored = frame.select(F.col(window).alias("w"), finite.alias("finite"), losses(inputs).alias("l"))
    facts = scored.groupBy("w").agg(F.count(F.lit(1)).alias("n"), F.count(F.when(~F.col("finite"), 1)).alias("bad"),
                                    F.avg(F.when(F.col("finite"), F.col("l.a"))).alias("absolute"),
                                    F.avg(F.when(F.col("finite"), F.col("l.s"))).alias("squared")).collect()
    results: Estimates = {}
    for row in facts:
        if row.bad:
            results[row.w] = ({}, [model_output_reason(predictions_problem("the window", int(row.bad)))])
        else:
            results[row.w] = (estimated_metrics(estimator.estimate_from_means(row.absolute, row.squared, row.n)), [])
    return results


def estimates_spark(frame, window: str, prediction: str, fitted: FittedEstimator, features: Sequence[str],
                    names: Iterable[str], codes: Iterable[int], predict_proba: Callable | None,
                    classes: Sequence[Any] | None, scored=None, order: Sequence[str] = ()) -> Estimates:
    """Per window code of ``codes`` (the windows with rows and predictions): the ``estimated/...`` metrics and
    reasons of :func:`driftloop.monitor.estimation.window_estimates`. ``names`` are the data's columns; a CBPE
    estimator reads the class probabilities of ``scored`` (:func:`driftloop.spark.probabilities
    .score_probabilities` of the model's ``classes``, carrying the ``order`` columns); DLE scores ``frame``."""
    from driftloop.estimate import ConfidenceEstimator

    estimator = fitted.estimator
    codes = list(codes)
    missing = [c for c in features if c not in set(names)]
    if estimator is None or not codes:
        return {}
    if missing:
        return {code: ({}, [missing_columns_reason(missing)]) for code in codes}
    if not isinstance(estimator, ConfidenceEstimator):
        return dle_estimates(frame, window, prediction, estimator)
    if predict_proba is None or scored is None:
        return {code: ({}, [unavailable_reason("the model has no predict_proba")]) for code in codes}
    if classes is None or list(classes) != fitted.classes:
        failed = _failures(scored)
        return {code: ({}, [predict_proba_failed_reason(failed[code]) if code in failed
                            else classes_differ_reason(list(classes or []), fitted.classes)]) for code in codes}
    return cbpe_estimates(scored, estimator, order)


def _failures(scored) -> dict[int, str]:
    """The least error of each window where the model's ``predict_proba`` failed on a row."""
    from pyspark.sql import functions as F

    return {row.w: row.error for row in scored.where(F.col("p").isNull()).groupBy("w")
            .agg(F.min("error").alias("error")).collect()}

r"""ROC AUC and log loss per window in Spark, from the model's class probabilities, as
:func:`driftloop.monitor.performance.probability_metrics` computes them (scikit-learn's ``roc_auc_score``: binary,
or one-vs-rest macro over the model's classes; ``log_loss``), without collecting rows to the driver.

The probabilities come from a pandas UDF of the model's inputs (the scikit-learn classifier's ``predict_proba``,
shipped to the Python workers with the UDF), one Arrow batch at a time; a batch the model refuses is scored row
by row, so that a window holds no figure exactly when the numpy engine's call on the window's rows would fail on
one of them (it then says why, as the numpy engine does). The scored rows (window, class code, probabilities:
:func:`score_probabilities`) are persisted (memory and disk) for the two aggregates that read them, and for
CBPE's estimated performance (:mod:`driftloop.spark.estimation`), so the model scores each row once:

- per window: the rows whose probabilities failed, the labelled rows, those whose label the model does not know,
  the distinct classes among the labels (scikit-learn's conditions for a figure), and the labelled rows whose
  probabilities are not probabilities (a value outside [0, 1], or a row sum that ``numpy.allclose`` does not find
  equal to 1), with the lowest and highest finite row sums for the reason;
- per window, class :math:`k` and distinct score :math:`s = p_k`: the labelled rows of class :math:`k`
  (:math:`\mathrm{pos}_s`) and of another class (:math:`\mathrm{neg}_s`). The area under the ROC curve of class
  :math:`k` against the rest is the Mann-Whitney statistic with ties counted half,

  .. math:: \mathrm{AUC}_k = \frac{1}{P_k N_k} \sum_s \mathrm{pos}_s
            \Big(\sum_{t < s} \mathrm{neg}_t + \tfrac12 \mathrm{neg}_s\Big),

  equal to the trapezoidal area under scikit-learn's ROC curve (D. J. Hand and R. J. Till, 2001); the inner sum is
  a running sum over the window's distinct scores of that class (a Spark window function, which spills to disk
  beyond memory: one task holds one window's and class's distinct scores at a time). Log loss is
  :math:`-\frac1n \sum_i \log \operatorname{clip}(p_{i, y_i}, \epsilon, 1 - \epsilon)` with :math:`\epsilon` the
  float64 machine epsilon, as scikit-learn clips: the sum over the groups of class :math:`k = y_i` of
  :math:`\mathrm{pos}_s \cdot (-\log \operatorname{clip}(s))`.

What reaches the driver is a few numbers per window and class. The figures equal scikit-learn's up to the order of
floating-point additions (the counts are exact).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from driftloop.monitor.performance import SUM_ATOL, SUM_RTOL, unusable_probabilities

#: What the probability UDF returns per row: the class probabilities, or why the model could not give them.
SCORED_SCHEMA = "p array<double>, error string"
#: scikit-learn's clipping of probabilities in ``log_loss``: float64's machine epsilon.
EPSILON = float(np.finfo(np.float64).eps)


def _probabilities(predict_proba: Callable, features: Sequence[str]):
    """The function of a pandas UDF: a batch of the model's inputs in, each row's probabilities (or error) out."""

    def score(rows):
        import pandas as pd

        rows.columns = list(features)
        try:
            _, matrix = predict_proba(rows)
            return pd.DataFrame({"p": np.asarray(matrix, dtype=np.float64).tolist(), "error": [None] * len(rows)})
        except Exception:  # one row the model refuses: each row on its own, so that only its window goes without
            pass
        found, errors = [], []
        for i in range(len(rows)):
            try:
                _, matrix = predict_proba(rows.iloc[i:i + 1])
                found.append(np.asarray(matrix, dtype=np.float64)[0].tolist())
                errors.append(None)
            except Exception as error:
                found.append(None)
                errors.append(f"{type(error).__name__}: {error}")  # whole, as the numpy engine says it
        return pd.DataFrame({"p": found, "error": errors})

    return score


def class_codes(label, classes: Sequence, numbers: bool):
    """The Spark expression of each label's position in ``classes`` (-1 for a class the model does not know, null
    without a label), as ``pandas.Index(classes).get_indexer`` finds it: numbers compared as numbers, text as text."""
    from pyspark.sql import functions as F

    code = F.lit(-1)
    for position in reversed(range(len(classes))):
        value = classes[position]
        if numbers:
            try:
                value = float(value)
            except (TypeError, ValueError):
                continue
        else:
            value = str(value)
        code = F.when(label == F.lit(value), position).otherwise(code)
    return F.when(label.isNotNull(), code)


def auc_from_counts(positives: float, negatives: float, rank_sum: float) -> float:
    """The area under the ROC curve from the Mann-Whitney sum (see the module docstring); NaN without both kinds.

    >>> auc_from_counts(2, 2, 3.5)
    0.875
    """
    if positives == 0 or negatives == 0:
        return float("nan")
    return rank_sum / (positives * negatives)


def score_probabilities(frame, window: str, features: Sequence[str], predict_proba: Callable, carried: dict):
    """``frame``'s rows scored by ``predict_proba`` in Python workers (:func:`_probabilities`), persisted (memory and
    disk) for the aggregates that read them: the columns ``w`` (the window code, column ``window``), ``p`` (the
    class probabilities, null where the model failed), ``error`` (why) and the ``carried`` columns (name to Spark
    expression). The model scores each row once for every aggregate; the caller unpersists the frame."""
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    from driftloop.spark.cells import quoted

    score = F.pandas_udf(_probabilities(predict_proba, features), SCORED_SCHEMA)
    inputs = F.struct(*[quoted(name).alias(f"x{i}") for i, name in enumerate(features)])
    scored = frame.select(F.col(window).alias("w"), *[c.alias(n) for n, c in carried.items()],
                          score(inputs).alias("s"))
    scored = scored.select("w", *carried, F.col("s.p").alias("p"), F.col("s.error").alias("error"))
    return scored.persist(StorageLevel.MEMORY_AND_DISK)


def probability_metrics_spark(scored, classes: Sequence) -> dict[int, tuple[dict[str, float], list[str]]]:
    """Per window code: ``performance/roc_auc`` and ``performance/log_loss`` and the reasons, as
    :func:`driftloop.monitor.performance.probability_metrics` and the numpy engine's window give them, from the rows
    :func:`score_probabilities` scored, carrying ``code``, the Spark expression of each row's label code
    (:func:`class_codes`)."""
    from pyspark.sql import Window as SparkWindow
    from pyspark.sql import functions as F

    labelled = (F.col("code") >= 0) & F.col("p").isNotNull()
    row_sum = F.aggregate("p", F.lit(0.0), lambda total, p: total + p)
    unusable = F.exists("p", lambda p: F.isnan(p) | (p < 0) | (p > 1)) | (
        F.abs(1 - row_sum) > SUM_ATOL + SUM_RTOL * F.abs(row_sum))
    finite_sum = F.when(labelled & ~F.isnan(row_sum) & (F.abs(row_sum) < float("inf")), row_sum)
    facts = {row.w: row for row in scored.groupBy("w").agg(
        F.count(F.when(F.col("p").isNull(), 1)).alias("failed"), F.min("error").alias("error"),
        F.count(F.when(F.col("code") < 0, 1)).alias("unknown"),
        F.countDistinct(F.when(F.col("code") >= 0, F.col("code"))).alias("classes"),
        F.count(F.when(labelled, 1)).alias("labelled"), F.count(F.when(labelled & unusable, 1)).alias("unusable"),
        F.min(finite_sum).alias("lowest"), F.max(finite_sum).alias("highest")).collect()}
    by_score = (scored.where(labelled)
                .select("w", "code", F.posexplode("p").alias("k", "s"))
                .groupBy("w", "k", "s").agg(F.count(F.when(F.col("k") == F.col("code"), 1)).alias("pos"),
                                            F.count(F.when(F.col("k") != F.col("code"), 1)).alias("neg")))
    below = F.sum("neg").over(SparkWindow.partitionBy("w", "k").orderBy("s")
                              .rowsBetween(SparkWindow.unboundedPreceding, -1))
    clipped = F.least(F.greatest(F.col("s"), F.lit(EPSILON)), F.lit(1.0 - EPSILON))
    sums = (by_score.select("*", F.coalesce(below, F.lit(0)).alias("below"))
            .groupBy("w", "k").agg(F.sum("pos").alias("P"), F.sum("neg").alias("N"),
                                   F.sum(F.col("pos") * (F.col("below") + F.col("neg") / 2.0)).alias("U"),
                                   F.sum(F.col("pos") * -F.log(clipped)).alias("loss"))
            .collect())
    per_window: dict[int, dict[int, tuple[int, int, float, float]]] = {}
    for row in sums:
        per_window.setdefault(row.w, {})[row.k] = (row.P, row.N, row.U, row.loss)
    results = {}
    for w, fact in facts.items():
        if fact.failed:
            results[w] = ({}, [f"class probabilities unavailable: {fact.error}"])
            continue
        counts = per_window.get(w, {})
        if fact.unknown or fact.classes < 2:
            results[w] = ({"performance/roc_auc": float("nan"), "performance/log_loss": float("nan")}, [])
            continue
        if fact.unusable:
            lowest, highest = (np.nan, np.nan) if fact.lowest is None else (fact.lowest, fact.highest)
            results[w] = ({"performance/roc_auc": float("nan"), "performance/log_loss": float("nan")},
                          [unusable_probabilities(fact.unusable, fact.labelled, lowest, highest)])
            continue
        scored_classes = [1] if len(classes) == 2 else range(len(classes))
        areas = [auc_from_counts(*counts.get(k, (0, 0, 0.0, 0.0))[:3]) for k in scored_classes]
        labelled = sum(p for p, _, _, _ in counts.values())
        results[w] = ({"performance/roc_auc": float(np.mean(areas)),
                       "performance/log_loss": sum(loss for _, _, _, loss in counts.values()) / labelled}, [])
    return results

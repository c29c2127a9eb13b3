"""The multivariate detectors in a window: their metrics, their reasons, and one Benjamini–Hochberg procedure with
the univariate tests.

Each detector of :class:`~driftloop.multivariate.MultivariateDrift` gives a p-value per window. They join the
window's false discovery rate control: one Benjamini–Hochberg procedure at ``DriftThresholds.alpha_tests`` over the
univariate tests' p-values (KS, chi-squared, ... of every compared column) and the multivariate ones, so that
adding three detectors does not add three chances of a false alarm, and a strong multivariate signal lowers the bar
for the univariate tests as BH intends. The univariate rows' ``threshold`` and ``drifted`` are updated to the joint
cutoff (the drift table then says what the window's verdicts are).

Metrics (``multivariate/<detector>/<statistic>``):

* ``multivariate/<detector>/p_value`` — the detector's p-value; ``multivariate/<detector>/drifted`` — 1 when the
  joint BH procedure flags it, else 0; ``multivariate/drifted`` — the detectors flagged in the window;
* ``multivariate/pca/reconstruction_error`` — the window's mean reconstruction error;
  ``multivariate/pca/reference_error`` — the reference's (out of fold); ``multivariate/pca/upper_threshold`` — the
  mean error above which the window would be flagged at the joint cutoff;
* ``multivariate/classifier/auc`` — the domain classifier's held-out ROC AUC;
  ``drift/<column>/classifier_importance`` — the drop of that AUC when the column is shuffled (a metric about one
  column, so it is named as the other column metrics are, and an awkward column name gets its MLflow stand-in);
* ``multivariate/mmd/mmd2`` — the unbiased squared MMD; ``multivariate/mmd/bandwidth`` — its kernel's bandwidth.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from driftloop.errors import DriftloopError
from driftloop.multivariate import MultivariateDrift
from driftloop.multivariate.pca import PCAReconstruction
from driftloop.multivariate.results import DetectorResult, not_computed
from driftloop.profile.statistics import CATEGORICAL_STATISTICS, NUMERIC_STATISTICS
from driftloop.thresholds import benjamini_hochberg

PREFIX = "multivariate"
#: Every reason of a detection starts with it (table, JSON, report).
REASON_PREFIX = "multivariate drift: "
_TESTS = {name for table in (NUMERIC_STATISTICS, CATEGORICAL_STATISTICS)
          for name, statistic in table.items() if statistic.verdict == "test"}


def guarded(detectors: MultivariateDrift, judge: Callable[[], list[DetectorResult]]) -> list[DetectorResult]:
    """``judge()``'s results, or for an error of the data (a value the encoding cannot read) one result per detector
    with the error as its reason: the window goes on."""
    try:
        return judge()
    except (ValueError, ArithmeticError, DriftloopError) as error:  # reported, the window goes on
        return [not_computed(name, f"{type(error).__name__}: {error}") for name in detectors.detectors_]


def assess_multivariate(detectors: MultivariateDrift, frame: pd.DataFrame, drift: pd.DataFrame,
                        alpha: float) -> tuple[dict[str, float], list[str]]:
    """Judge ``frame`` with ``detectors``; return the metrics and reasons. The univariate test rows of ``drift`` (the
    profile's compare table, updated in place) join the Benjamini–Hochberg procedure at ``alpha``."""
    return multivariate_metrics(detectors, guarded(detectors, lambda: detectors.compare(frame)), len(frame), drift,
                                alpha)


def multivariate_metrics(detectors: MultivariateDrift, results: list[DetectorResult], n_rows: int,
                         drift: pd.DataFrame, alpha: float) -> tuple[dict[str, float], list[str]]:
    """The metrics and reasons of the detectors' ``results`` on a window of ``n_rows`` rows, however they were
    computed (:func:`assess_multivariate`, or the Spark engine's :mod:`driftloop.spark.multivariate`); the
    univariate test rows of ``drift`` (updated in place) join the Benjamini–Hochberg procedure at ``alpha``."""
    is_test = drift["statistic"].isin(_TESTS) & drift["reason"].isna() & drift["p_value"].notna()
    univariate = drift.loc[is_test, "p_value"].to_numpy(dtype=np.float64)
    multivariate = np.array([r.p_value for r in results], dtype=np.float64)
    bh = benjamini_hochberg(np.concatenate([univariate, multivariate]), alpha)
    if is_test.any():
        drift.loc[is_test, "threshold"] = bh.cutoff
        drift.loc[is_test, "drifted"] = bh.rejected[: len(univariate)]
    flagged = bh.rejected[len(univariate):]
    metrics: dict[str, float] = {}
    reasons: list[str] = []
    for result, drifted in zip(results, flagged, strict=True):
        base = f"{PREFIX}/{result.detector}"
        metrics.update({f"{base}/{name}": float(value) for name, value in result.statistics.items()})
        metrics.update({f"drift/{column}/{result.detector}_importance": value
                        for column, value in result.importances.items()})
        if result.reason is not None:
            reasons.append(f"multivariate {result.label} not computed: {result.reason}")
            continue
        metrics[f"{base}/p_value"] = result.p_value
        metrics[f"{base}/drifted"] = float(drifted)
        detector = detectors.detectors_[result.detector]
        if isinstance(detector, PCAReconstruction):
            metrics[f"{base}/upper_threshold"] = detector.upper_threshold(n_rows, bh.cutoff)
        if drifted:
            carried = f"; columns carrying it: {', '.join(result.columns)}" if result.columns else ""
            reasons.append(f"{REASON_PREFIX}{result.label}: {result.summary} (p = {result.p_value:.3g}){carried}")
    metrics[f"{PREFIX}/drifted"] = float(np.count_nonzero(flagged))
    return metrics, reasons

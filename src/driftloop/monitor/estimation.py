"""Estimated performance in the monitor: fit the estimator on a labelled reference, estimate every window.

A classifier with ``predict_proba`` gets CBPE (:class:`~driftloop.estimate.ConfidenceEstimator`), a regressor DLE
(:class:`~driftloop.estimate.LossEstimator`); each window then gets ``estimated/<metric>``,
``estimated/<metric>/lower`` and ``estimated/<metric>/upper`` whether or not its labels arrived. What cannot be
estimated is said in one line (no labels in the reference, no ``predict_proba``), and monitoring goes on without it.
CBPE's predicted class is the most probable one, as scikit-learn's ``predict`` gives.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import pandas as pd

from driftloop.errors import DriftloopError

if TYPE_CHECKING:  # imported where used: scikit-learn's gradient boosting is not needed to start a monitor
    from driftloop.estimate import ConfidenceEstimator, LossEstimator

ProbabilityPredictor = Callable[[pd.DataFrame], tuple[list, np.ndarray]]


class FittedEstimator(NamedTuple):
    """An estimator and the model's classes (CBPE; ``None`` for DLE), or none and why."""

    estimator: ConfidenceEstimator | LossEstimator | None
    classes: list[Any] | None
    note: str


def fit_estimator(reference: pd.DataFrame, features: Sequence[str], predictions: pd.Series, labels: pd.Series | None,
                  task: str, predict_proba: ProbabilityPredictor | None) -> FittedEstimator:
    """Fit CBPE (``task`` classification) or DLE (regression) on the labelled rows of ``reference``."""
    from driftloop.estimate import ConfidenceEstimator, LossEstimator

    if labels is None:
        return FittedEstimator(None, None, "no estimated performance: the reference has no labels (give --target to "
                                           "driftloop profile)")
    labelled = labels.notna().to_numpy()
    if task == "classification":
        if predict_proba is None:
            return FittedEstimator(None, None, "no estimated performance: the model has no predict_proba, so its "
                                               "confidence cannot be calibrated (CBPE needs class probabilities)")
        classes, scores = predict_proba(reference.loc[labelled, list(features)])
        codes = pd.Index(classes).get_indexer(labels[labelled].to_numpy())
        if (codes < 0).any():
            unknown = labels[labelled].to_numpy()[codes < 0][0]
            return FittedEstimator(None, None, f"no estimated performance: the target holds the label {unknown!r}, "
                                               f"which is not one of the model's classes {list(classes)}")
        try:
            cbpe = ConfidenceEstimator().fit(np.asarray(scores), codes)
        except DriftloopError as error:  # too few labelled rows, scores that are not probabilities
            return FittedEstimator(None, None, f"no estimated performance: {error}")
        return FittedEstimator(cbpe, list(classes), f"estimated performance (CBPE) fitted on {len(codes)} labelled "
                                                    f"rows: {cbpe.check_.reason}")
    truth = pd.to_numeric(labels[labelled], errors="coerce").to_numpy(dtype=np.float64)
    predicted = pd.to_numeric(predictions[labelled], errors="coerce").to_numpy(dtype=np.float64)
    usable = np.isfinite(truth) & np.isfinite(predicted)
    columns = {name: reference.loc[labelled, name].to_numpy()[usable] for name in features}
    try:
        dle = LossEstimator().fit(columns, predicted[usable], truth[usable])
    except DriftloopError as error:
        return FittedEstimator(None, None, f"no estimated performance: {error}")
    return FittedEstimator(dle, None, f"estimated performance (DLE) fitted on {int(usable.sum())} labelled rows")


def window_estimates(fitted: FittedEstimator, frame: pd.DataFrame, features: Sequence[str], predictions: pd.Series,
                     predict_proba: ProbabilityPredictor | None) -> tuple[dict[str, float], list[str]]:
    """``estimated/...`` metrics of one window, and the reasons when there are none (missing columns, model outputs
    that are a data-quality problem)."""
    from driftloop.estimate import ConfidenceEstimator, ModelOutputError

    estimator = fitted.estimator
    missing = [c for c in features if c not in frame.columns]
    if estimator is None or len(frame) == 0:
        return {}, []
    if missing:
        return {}, [missing_columns_reason(missing)]
    try:
        if isinstance(estimator, ConfidenceEstimator):
            if predict_proba is None:
                return {}, [unavailable_reason("the model has no predict_proba")]
            try:
                classes, scores = predict_proba(frame[list(features)])
            except Exception as error:  # the model's own error on this window: a reason, the window goes on
                return {}, [predict_proba_failed_reason(f"{type(error).__name__}: {error}")]
            if list(classes) != fitted.classes:
                return {}, [classes_differ_reason(list(classes), fitted.classes)]
            estimates = estimator.estimate(np.asarray(scores))
        else:
            estimates = estimator.estimate({name: frame[name].to_numpy() for name in features},
                                           pd.to_numeric(predictions, errors="coerce").to_numpy(dtype=np.float64))
    except ModelOutputError as error:
        return {}, [model_output_reason(str(error))]
    return estimated_metrics(estimates), []


# The reasons and metrics of a window's estimates, in words shared by both engines (driftloop.spark.estimation).

def unavailable_reason(why: str) -> str:
    """The reason of a window that gets no estimate, and ``why``.

    >>> unavailable_reason("the model has no predict_proba")
    'estimated performance unavailable: the model has no predict_proba'
    """
    return f"estimated performance unavailable: {why}"


def missing_columns_reason(missing: Sequence[str]) -> str:
    """The reason of a window without the model's input columns ``missing``.

    >>> missing_columns_reason(["a", "b"])
    'estimated performance unavailable: missing a, b'
    """
    return unavailable_reason("missing " + ", ".join(missing))


def predict_proba_failed_reason(error: str) -> str:
    """The reason of a window whose ``predict_proba`` failed with ``error`` (``"TypeName: message"``, whole).

    >>> predict_proba_failed_reason("ValueError: Input contains NaN")
    'estimated performance unavailable: predict_proba failed: ValueError: Input contains NaN'
    """
    return unavailable_reason(f"predict_proba failed: {error}")


def classes_differ_reason(classes: list[Any], fitted: list[Any] | None) -> str:
    """The reason of a window whose model's ``classes`` are not those the estimator was ``fitted`` with.

    >>> print(classes_differ_reason([0, 1], [1, 2]))
    estimated performance unavailable: the model's classes [0, 1] differ from the reference's [1, 2]
    """
    return unavailable_reason(f"the model's classes {classes} differ from the reference's {fitted}")


def model_output_reason(problem: str) -> str:
    """The reason of a window whose model outputs are a data-quality ``problem`` (a
    :class:`~driftloop.estimate.ModelOutputError`'s message)."""
    return f"data quality: {problem}"


def estimated_metrics(estimates: dict[str, Any]) -> dict[str, float]:
    """``estimated/<metric>``, ``estimated/<metric>/lower`` and ``/upper`` of a window's
    :class:`~driftloop.estimate.Estimate` per metric."""
    metrics: dict[str, float] = {}
    for name, estimate in estimates.items():
        metrics[f"estimated/{name}"] = estimate.value
        metrics[f"estimated/{name}/lower"] = estimate.lower
        metrics[f"estimated/{name}/upper"] = estimate.upper
    return metrics

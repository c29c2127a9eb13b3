"""How a replay scores its models: regression (MAE, RMSE) or classification (accuracy, log loss, ROC AUC).

A classification dataset stores its target as class codes ``0 .. K-1`` (:func:`encode_classes`; the labels are kept
in ``Dataset.classes``), so every model is fitted on codes and its class probabilities can be laid out on the same
``K`` columns, even when a model saw only some classes in its training rows (the others get probability 0).

Cumulative figures over all production rows (:func:`cumulative_metrics`):

* regression: ``mae`` = mean |ŷ - y|, ``rmse`` = sqrt(mean (ŷ - y)²);
* classification: ``accuracy`` = share of rows whose most probable class is the label; ``log_loss`` =
  mean of -log p(label), p clipped to [ε, 1] with ε the float64 machine epsilon (as scikit-learn's ``log_loss``);
  ``roc_auc`` = for two classes the AUC of p(class 1), for more the macro average of the one-vs-rest AUCs over the
  classes present among the labels (scikit-learn's ``multi_class="ovr", average="macro"`` when every class is
  present). Reference: T. Fawcett (2006), "An introduction to ROC analysis", Pattern Recognition Letters 27(8).

Validation compares per-row losses with :func:`driftloop.retrain.validation.compare`: absolute errors (``mae``) for
regression, -log p(label) (``log_loss``) for classification.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn import exceptions as skm_exceptions
from sklearn import metrics as skm

from driftloop.errors import DriftloopError
from driftloop.monitor.performance import performance_metrics, probability_metrics, relative_error_metrics
from driftloop.retrain.validation import ValidationResult, compare, row_losses

TASKS = ("regression", "classification")
REGRESSION_KEYS = ("mae", "rmse")
CLASSIFICATION_KEYS = ("accuracy", "log_loss", "roc_auc")


def task_of_target(target: pd.Series) -> str:
    """``classification`` when the target is not numeric, is boolean, or holds exactly two distinct values (a 0/1
    label); ``regression`` otherwise (counts, amounts, scores such as wine quality 3-9).

    >>> [task_of_target(pd.Series(values)) for values in ([1.5, 2.0, 7.0], ["rain", "sun"], [0, 1, 1])]
    ['regression', 'classification', 'classification']
    """
    values = target.dropna()
    if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return "classification"
    return "classification" if values.nunique() == 2 else "regression"


def encode_classes(target: pd.Series) -> tuple[pd.Series, tuple]:
    """The target as class codes ``0 .. K-1`` (in sorted label order) and the labels, for a classification replay.

    >>> codes, classes = encode_classes(pd.Series(["sun", "rain", "sun"]))
    >>> codes.tolist(), classes
    ([1, 0, 1], ('rain', 'sun'))
    """
    classes = tuple(sorted(target.dropna().unique().tolist()))
    if len(classes) < 2:
        raise DriftloopError(f"A classification target needs at least two classes; {target.name!r} has "
                             f"{len(classes)}: {list(classes)}.")
    codes = pd.Series(pd.Index(classes).get_indexer(target), index=target.index, dtype="int64")
    return codes, classes


def probabilities(model: object, rows: pd.DataFrame, n_classes: int) -> np.ndarray:
    """The model's class probabilities laid out on all ``n_classes`` codes (0 for a class it never saw)."""
    proba = np.asarray(model.predict_proba(rows), dtype="float64")  # type: ignore[attr-defined]
    full = np.zeros((len(rows), n_classes))
    full[:, np.asarray(model.classes_, dtype=int)] = proba  # type: ignore[attr-defined]
    return full


def predict(model: object, rows: pd.DataFrame, task: str, n_classes: int) -> np.ndarray:
    """Predictions of ``rows``: numbers for regression, the ``(rows, classes)`` probabilities for classification."""
    if task == "regression":
        return np.asarray(model.predict(rows), dtype=float)  # type: ignore[attr-defined]
    return probabilities(model, rows, n_classes)


def roc_auc(codes: np.ndarray, proba: np.ndarray) -> float:
    """ROC AUC: of p(class 1) for two classes; for more, the macro mean of the one-vs-rest AUCs over the classes
    present among ``codes`` (NaN with fewer than two present).

    >>> roc_auc(np.array([0, 1, 1]), np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]]))
    1.0
    """
    codes = np.asarray(codes, dtype=int)
    present = np.unique(codes)
    if len(present) < 2:
        return math.nan
    if proba.shape[1] == 2:
        return float(skm.roc_auc_score(codes, proba[:, 1]))
    return float(np.mean([skm.roc_auc_score(codes == k, proba[:, k]) for k in present]))


def cumulative_metrics(task: str, labels: Sequence[np.ndarray], predictions: Sequence[np.ndarray]) -> dict[str, float]:
    """The figures of a whole replay from its windows' labels and predictions (see the module docstring)."""
    if not labels:
        keys = REGRESSION_KEYS if task == "regression" else CLASSIFICATION_KEYS
        return dict.fromkeys(keys, math.nan)
    y = np.concatenate(labels)
    if task == "regression":
        errors = np.concatenate(predictions) - y
        return {"mae": float(np.mean(np.abs(errors))), "rmse": float(np.sqrt(np.mean(errors**2)))}
    proba = np.concatenate(predictions)
    codes = y.astype(int)
    return {"accuracy": float(np.mean(np.argmax(proba, axis=1) == codes)),
            "log_loss": float(np.mean(row_losses(codes, proba, "log_loss"))), "roc_auc": roc_auc(codes, proba)}


def row_losses_of(task: str, labels: Sequence[np.ndarray], predictions: Sequence[np.ndarray]) -> np.ndarray:
    """Per row, the loss the validation compares: |ŷ - y| for regression, -log p(label) for classification."""
    if not labels:
        return np.empty(0)
    y, predicted = np.concatenate(labels), np.concatenate(predictions)
    if task == "regression":
        return np.abs(predicted - y)
    return row_losses(y.astype(int), predicted, "log_loss")


def holdout_metrics(task: str, y: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """A model's training metrics: its figures on its holdout (what the performance policy compares with)."""
    return cumulative_metrics(task, [y], [predicted])


def validate(task: str, y: np.ndarray, champion: np.ndarray, challenger: np.ndarray, *, margin: float,
             seed: int, rule: str = "better") -> ValidationResult:
    """The paired bootstrap of :func:`~driftloop.retrain.validation.compare` on MAE or log loss."""
    if task == "regression":
        return compare(y, champion, challenger, metric="mae", margin=margin, seed=seed, rule=rule)
    return compare(y.astype(int), champion, challenger, metric="log_loss", margin=margin, seed=seed, rule=rule)


def window_performance(task: str, y: np.ndarray, predicted: np.ndarray, benchmark: np.ndarray | None,
                       index: pd.Index) -> dict[str, float]:
    """The realised ``performance/*`` metrics of the rows whose labels arrived in a window: the monitor's (MAE,
    RMSE, ... or accuracy, F1, ROC AUC, log loss) and, with a naive forecast per row, the model's error relative
    to it (``relative_mae`` or ``relative_error_rate``)."""
    labels = pd.Series(y, index=index)
    if task == "regression":
        naive = None if benchmark is None else pd.Series(benchmark, index=index)
        return performance_metrics(pd.Series(predicted, index=index), labels, "regression", naive)
    codes = np.argmax(predicted, axis=1)
    metrics = performance_metrics(pd.Series(codes, index=index), labels.astype(int), "classification")
    with warnings.catch_warnings():  # a class absent from the window: its one-vs-rest AUC is undefined (NaN)
        warnings.simplefilter("ignore", skm_exceptions.UndefinedMetricWarning)
        metrics.update(probability_metrics(labels.astype(int), predicted, list(range(predicted.shape[1]))).metrics)
    if benchmark is not None:
        metrics.update(relative_error_metrics(y.astype(float), codes.astype(float), benchmark))
    return metrics

"""Paired validation of a challenger against the champion on the same holdout rows.

Both models predict the same rows; the per-row loss difference ``d_i = loss(challenger_i) - loss(champion_i)`` is
paired, so the variation between rows cancels and only the difference between the models remains. The mean
difference ``d̄`` estimates how much the challenger changes the primary metric (negative: it is better); a percentile
bootstrap over rows gives its confidence interval [lo, hi].

Decision (``rule``):

``better`` (the default)
    promote only when the challenger is better beyond the margin with the stated confidence, that is when the upper
    end of the interval lies below ``-margin`` (``hi < -margin``). Identical models give ``d_i = 0`` for every row,
    an interval [0, 0], and are never promoted.
``not-worse``
    promote unless the challenger is worse beyond the margin with the stated confidence: reject only when the lower
    end lies above ``margin`` (``lo > margin``). For a challenger that will be refitted on everything, holdout
    included (so it serves with fresher rows than the champion ever saw), a tie goes to the fresher model.

Per-row losses (the primary metric is their mean, or its square root for ``rmse``):

==========  ==================================  =========================================
metric      per-row loss                         compared on
==========  ==================================  =========================================
``mae``     ``|y - ŷ|``                          the mean absolute error
``mse``     ``(y - ŷ)²``                         the mean squared error
``rmse``    ``(y - ŷ)²``                         the mean squared error (rmse is monotone in it)
``accuracy`` ``1[y ≠ ŷ]``                        the error rate (1 - accuracy)
``log_loss`` ``-log p̂(y)``, p̂ clipped to [ε, 1]  the log loss (cross-entropy) of a classifier
==========  ==================================  =========================================

For ``log_loss`` the predictions are class probabilities, an array ``(rows, classes)`` whose column ``k`` is the
probability of class code ``k``, and ``y`` holds the class codes; ε is the float64 machine epsilon (as in
scikit-learn's ``log_loss``).

Reference: B. Efron and R. Tibshirani (1993), *An Introduction to the Bootstrap*, ch. 13 (percentile intervals).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from driftloop.errors import DriftloopError

METRICS = ("mae", "mse", "rmse", "accuracy", "log_loss")
RULES = ("better", "not-worse")
DEFAULT_RESAMPLES = 2000
"""Bootstrap resamples; the interval's Monte Carlo error is well below its width at this count."""
DEFAULT_CONFIDENCE = 0.95
_CHUNK = 256


class ValidationResult(NamedTuple):
    """Evidence of one paired comparison; ``difference`` and the interval are in per-row loss units."""

    metric: str
    rows: int
    champion: float
    challenger: float
    difference: float
    ci_low: float
    ci_high: float
    confidence: float
    margin: float
    promote: bool
    reason: str

    def as_tags(self) -> dict[str, str]:
        """The evidence as model-version tag values (keys without the ``driftloop.`` prefix)."""
        return {f"validation.{key}": (f"{value:.6g}" if isinstance(value, float) else str(value))
                for key, value in self._asdict().items() if key != "reason"}


def row_losses(y_true: np.ndarray, y_pred: np.ndarray, metric: str) -> np.ndarray:
    """Per-row losses of ``metric`` (see the module table).

    >>> row_losses(np.array([1.0, 2.0]), np.array([1.5, 0.0]), "mae")
    array([0.5, 2. ])
    """
    if metric in ("mae",):
        return np.abs(np.asarray(y_true, dtype=float) - np.asarray(y_pred, dtype=float))
    if metric in ("mse", "rmse"):
        return (np.asarray(y_true, dtype=float) - np.asarray(y_pred, dtype=float)) ** 2
    if metric == "accuracy":
        return (np.asarray(y_true) != np.asarray(y_pred)).astype(float)
    if metric == "log_loss":
        proba = np.asarray(y_pred, dtype=float)
        codes = np.asarray(y_true)
        if proba.ndim != 2 or not np.issubdtype(codes.dtype, np.integer) or len(codes) != len(proba) \
                or (len(codes) and (codes.min() < 0 or codes.max() >= proba.shape[1])):
            raise DriftloopError(f"Validation on log_loss needs class codes 0..K-1 and a (rows, K) probability array; "
                                 f"got labels of dtype {codes.dtype} and predictions of shape {proba.shape}.")
        chosen = proba[np.arange(len(codes)), codes]
        return -np.log(np.clip(chosen, np.finfo("float64").eps, 1.0))
    raise DriftloopError(f"The 'metric' parameter of validation must be one of {', '.join(METRICS)}; got {metric!r}.")


def summary(losses: np.ndarray, metric: str) -> float:
    """The primary metric from per-row losses: the mean, its square root for rmse, 1 - mean for accuracy."""
    mean = float(np.mean(losses))
    return float(np.sqrt(mean)) if metric == "rmse" else (1.0 - mean if metric == "accuracy" else mean)


def bootstrap_mean_ci(differences: np.ndarray, *, confidence: float = DEFAULT_CONFIDENCE,
                      resamples: int = DEFAULT_RESAMPLES, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``differences`` (rows resampled with replacement).

    >>> bootstrap_mean_ci(np.full(50, -0.25))
    (-0.25, -0.25)
    """
    rng = np.random.default_rng(seed)
    n = len(differences)
    means = np.empty(resamples)
    for start in range(0, resamples, _CHUNK):
        stop = min(start + _CHUNK, resamples)
        means[start:stop] = differences[rng.integers(0, n, size=(stop - start, n))].mean(axis=1)
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(means, [tail, 1.0 - tail])
    return float(low), float(high)


def compare(y_true: np.ndarray, champion: np.ndarray, challenger: np.ndarray, *, metric: str = "mae",
            margin: float = 0.0, confidence: float = DEFAULT_CONFIDENCE, resamples: int = DEFAULT_RESAMPLES,
            seed: int = 0, min_rows: int = 10, rule: str = "better") -> ValidationResult:
    """Compare the challenger's predictions with the champion's on the same rows; decide whether to promote by
    ``rule`` (see the module docstring).

    ``margin`` is in per-row loss units (for ``mae`` and ``better``: the challenger's MAE must be lower by more than
    ``margin``).

    >>> y = np.arange(100.0)
    >>> result = compare(y, y + 1.0, y + 0.5, metric="mae", margin=0.1)
    >>> result.difference, result.ci_high, result.promote
    (-0.5, -0.5, True)
    """
    if metric not in METRICS:
        raise DriftloopError(f"The 'metric' parameter of validation must be one of {', '.join(METRICS)}; got {metric!r}.")
    if not (isinstance(margin, (int, float)) and np.isfinite(margin) and margin >= 0):
        raise DriftloopError(f"The 'margin' parameter of validation must be a finite number >= 0; got {margin!r}.")
    if not 0 < confidence < 1:
        raise DriftloopError(f"The 'confidence' parameter of validation must be in (0, 1); got {confidence!r}.")
    if rule not in RULES:
        raise DriftloopError(f"The 'rule' parameter of validation must be one of {', '.join(RULES)}; got {rule!r}.")
    y_true, champion, challenger = (np.asarray(a) for a in (y_true, champion, challenger))
    if not len(y_true) == len(champion) == len(challenger):
        raise DriftloopError(
            f"Validation needs one prediction per holdout row from each model; got {len(y_true)} rows, "
            f"{len(champion)} champion and {len(challenger)} challenger predictions."
        )
    if len(y_true) < min_rows:
        raise DriftloopError(f"Validation needs at least {min_rows} holdout rows; got {len(y_true)}.")
    champion_loss = row_losses(y_true, champion, metric)
    challenger_loss = row_losses(y_true, challenger, metric)
    differences = challenger_loss - champion_loss
    if not np.all(np.isfinite(differences)):
        raise DriftloopError("Validation: a model predicted a missing or infinite value on the holdout.")
    low, high = bootstrap_mean_ci(differences, confidence=confidence, resamples=resamples, seed=seed)
    mean = float(np.mean(differences))
    promote = high < -margin if rule == "better" else not low > margin
    level = f"{confidence:.0%}"
    unit = {"mse": "squared error", "rmse": "squared error", "accuracy": "error rate"}.get(metric, metric)
    figures = f"{unit} difference {mean:.4g} ({level} CI [{low:.4g}, {high:.4g}])"
    if rule == "not-worse":
        reason = (f"challenger not worse beyond the margin: {figures} does not lie above {margin:g} on "
                  f"{len(y_true)} holdout rows" if promote else
                  f"challenger worse: {figures} lies above {margin:g} on {len(y_true)} holdout rows")
    elif promote:
        reason = f"challenger better: {figures} is below -{margin:g} on {len(y_true)} holdout rows"
    else:
        reason = (f"challenger not better beyond the margin: {figures} does not lie below -{margin:g} on "
                  f"{len(y_true)} holdout rows")
    return ValidationResult(metric, len(y_true), summary(champion_loss, metric), summary(challenger_loss, metric),
                            mean, low, high, confidence, float(margin), bool(promote), reason)

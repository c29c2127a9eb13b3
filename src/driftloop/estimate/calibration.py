r"""Calibrating a classifier's scores on the reference: isotonic regression one-vs-rest, and the test that skips it.

CBPE needs :math:`P(y = k \mid s)`, not a score. For each class :math:`k`, an isotonic regression [1]_ of
:math:`1[y = k]` on the score :math:`s_k` (the monotone step function closest to the labels in squared error,
pool-adjacent-violators) maps the score to a probability; the rows of a multiclass window are then renormalised to
sum to one, as NannyML does [2]_. A calibration is stored as the regression's knots (``x``, ``y``) and applied by
linear interpolation between them, clipped to the outermost knots — what ``IsotonicRegression(out_of_bounds="clip")``
predicts, with no fitted object to keep.

**When calibration is skipped.** A model whose scores are already calibrated only loses from a refit: isotonic
regression adds steps and its own sampling noise. The reference decides, with the Hosmer–Lemeshow test [3]_ in its
external-validation form: the rows sorted by score are cut into :math:`G` groups of nearly equal size, and with
:math:`O_g` the positives and :math:`E_g = \sum_{i \in g} s_i` the expected positives of group :math:`g` (size
:math:`n_g`),

.. math:: H = \sum_g \frac{(O_g - E_g)^2}{E_g (1 - E_g/n_g)} \;\sim\; \chi^2_G

under calibrated scores (:math:`G` degrees of freedom, not :math:`G-2`: the scores were not fitted on these rows).
When every class has :math:`p \ge` ``level`` (default 0.05), the scores are used as they are, and
:attr:`ScoreCalibration.reason` says so with the p-values. A large reference detects small miscalibration and
calibrates; a small one keeps scores it cannot show to be wrong.

References
----------
.. [1] B. Zadrozny, C. Elkan, "Transforming classifier scores into accurate multiclass probability estimates",
   KDD 2002.
.. [2] NannyML, "Probability calibration", *How it works: performance estimation*,
   https://nannyml.readthedocs.io/en/stable/how_it_works/performance_estimation.html
.. [3] D. W. Hosmer, S. Lemeshow, R. X. Sturdivant, *Applied Logistic Regression*, 3rd ed., Wiley, 2013,
   sections 5.2.2 and 5.5 (the test on validation data).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray
from scipy import stats as _scipy_stats
from sklearn.isotonic import IsotonicRegression

#: Groups of the Hosmer–Lemeshow test (deciles of risk).
HL_GROUPS = 10


def hosmer_lemeshow(scores: NDArray[np.float64], outcomes: NDArray[np.float64], groups: int = HL_GROUPS) -> float:
    """p-value of the Hosmer–Lemeshow test that ``scores`` are calibrated probabilities of the 0/1 ``outcomes``.

    A group whose scores are all 0 or all 1 has no variance: it adds nothing when its outcomes agree, and makes
    the scores miscalibrated (p = 0) when they do not.

    >>> rng = np.random.default_rng(0)
    >>> s = rng.uniform(size=5000)
    >>> round(hosmer_lemeshow(s, rng.uniform(size=5000) < s), 3)        # calibrated
    0.755
    >>> hosmer_lemeshow(s, rng.uniform(size=5000) < s**2) < 1e-100      # the truth is s squared
    True
    """
    order = np.argsort(scores, kind="stable")
    statistic = 0.0
    for part in np.array_split(order, min(groups, len(order))):
        expected, observed, n = float(scores[part].sum()), float(outcomes[part].sum()), len(part)
        variance = expected * (1.0 - expected / n)
        if variance <= 0.0:
            if abs(observed - expected) > 1e-9 * n:
                return 0.0
            continue
        statistic += (observed - expected) ** 2 / variance
    return float(_scipy_stats.chi2.sf(statistic, groups))


class Knots(NamedTuple):
    """An isotonic calibration of one class: ``P = interp(score, x, y)`` (clipped to the outer knots)."""

    x: NDArray[np.float64]
    y: NDArray[np.float64]


def fit_knots(scores: NDArray[np.float64], outcomes: NDArray[np.float64]) -> Knots:
    """Isotonic regression of the 0/1 ``outcomes`` on ``scores``, as its knots."""
    model = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(scores, outcomes)
    return Knots(np.asarray(model.X_thresholds_, dtype=np.float64), np.asarray(model.y_thresholds_, dtype=np.float64))


def apply_knots(knots: list[Knots] | None, scores: NDArray[np.float64]) -> NDArray[np.float64]:
    """Calibrated probabilities (n x K) of raw ``scores`` (n x K); ``None`` knots: the scores as they are.

    >>> apply_knots([Knots(np.array([0.0, 1.0]), np.array([0.0, 1.0]))] * 3, np.array([[0.25, 0.25, 0.5]]))
    array([[0.25, 0.25, 0.5 ]])
    >>> apply_knots([Knots(np.array([0.0, 0.5, 1.0]), np.array([0.0, 0.2, 1.0]))], np.array([[0.5, 0.5]]))
    array([[0.8, 0.2]])
    """
    if knots is None:
        return scores
    if scores.shape[1] == 2:  # binary: the positive class is calibrated, the negative is its complement
        positive = np.interp(scores[:, 1], knots[0].x, knots[0].y)
        return np.column_stack([1.0 - positive, positive])
    calibrated = np.column_stack([np.interp(scores[:, k], kn.x, kn.y) for k, kn in enumerate(knots)])
    total = calibrated.sum(axis=1, keepdims=True)
    uniform = np.full_like(calibrated, 1.0 / calibrated.shape[1])
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, calibrated / np.where(total > 0, total, 1.0), uniform)


def calibrated_classes(n_classes: int) -> list[int]:
    """The classes calibrated one-vs-rest: the positive one of two classes, every one of more.

    >>> calibrated_classes(2), calibrated_classes(3)
    ([1], [0, 1, 2])
    """
    return [1] if n_classes == 2 else list(range(n_classes))


def fit_calibration(scores: NDArray[np.float64], labels: NDArray[np.intp]) -> list[Knots]:
    """One isotonic calibration per class of :func:`calibrated_classes` (one-vs-rest)."""
    return [fit_knots(scores[:, c], (labels == c).astype(np.float64)) for c in calibrated_classes(scores.shape[1])]


class CalibrationCheck(NamedTuple):
    """The Hosmer–Lemeshow p-value of each class's scores on the reference, and the decision taken from them."""

    p_values: tuple[float, ...]
    calibrate: bool
    reason: str


def check_calibration(scores: NDArray[np.float64], labels: NDArray[np.intp], level: float) -> CalibrationCheck:
    """Decide whether the reference's ``scores`` need calibrating (see the module: Hosmer–Lemeshow at ``level``)."""
    p_values = tuple(hosmer_lemeshow(scores[:, c], (labels == c).astype(np.float64))
                     for c in calibrated_classes(scores.shape[1]))
    shown = ", ".join(f"{p:.3g}" for p in p_values)
    if min(p_values) >= level:
        return CalibrationCheck(p_values, False, f"scores already calibrated on the reference (Hosmer-Lemeshow p = "
                                                 f"{shown}, all >= {level}): used as they are")
    return CalibrationCheck(p_values, True, f"scores recalibrated by isotonic regression (Hosmer-Lemeshow p = "
                                            f"{shown} on the reference, below {level} for at least one class)")

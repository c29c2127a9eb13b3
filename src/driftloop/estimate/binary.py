r"""The five CBPE metrics of a *binary* window with one sort and no permutation: what
:func:`~driftloop.estimate.confusion.confusion_metrics` computes from ``apply_knots(knots, scores)``, without the
n x 2 probability matrix, the ``argmax``, the ``argsort``, or numpy's interpolation of unsorted scores (a binary
search per score: 140 ms of the 150 ms a million-row window took).

With two classes the calibrated probability of the positive class is a function of the positive score alone,
:math:`w_i = f(s_i)` (:math:`f` the isotonic calibration's linear interpolation between its knots, or the identity
when the scores are used as they are). Hence:

* **Expected confusion matrix**: :math:`C_{1j} = \sum_{i: \hat y_i = j} w_i` and
  :math:`C_{0j} = \sum_{i: \hat y_i = j} (1 - w_i)` (uncalibrated: the negative scores), by ``bincount``;
  :math:`f` of the unsorted scores is evaluated by :func:`calibrate`, which locates each score among the knots
  through a lookup table (:func:`knot_table`) and then applies :func:`numpy.interp`'s own arithmetic.
* **Expected AUC**: since :math:`w` is a function of :math:`s`, the sorted scores carry their weights with them,
  :math:`w_{(r)} = f(s_{(r)})`: one :func:`numpy.sort` (no ``argsort``, no gather), :func:`numpy.interp` of the
  sorted scores (a linear merge), and one compiled pass over the groups of tied scores that accumulates the expected
  Mann–Whitney numerator and denominator of :func:`~driftloop.estimate.confusion.expected_auc`.

The AUC's sums are compensated (Neumaier) where numpy's ``cumsum`` is not: on a million rows the two differ by
about :math:`10^{-12}`, and the compensated one is the closer to the exact value (checked against long double).
``tests/estimate`` checks agreement with :func:`~driftloop.estimate.confusion.confusion_metrics` to
:math:`10^{-10}`, far below the estimates' bands (the confusion sums agree to a few units in the last place:
:math:`C_{0j}` is the count minus :math:`C_{1j}` here, a sum of complements there).
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np
from numpy.typing import NDArray

from driftloop.estimate.calibration import Knots

#: Cells of the lookup table that locates a score among the knots (:func:`knot_table`).
TABLE_CELLS = 4096


def knot_table(x: NDArray[np.float64], cells: int = TABLE_CELLS) -> NDArray[np.int64]:
    """``table[c]``: the last knot at or below the left edge of cell ``c`` of ``[x[0], x[-1]]`` cut in ``cells``
    equal cells, so that a score is located by one multiplication and a few steps to the right.

    >>> knot_table(np.array([0.0, 0.1, 0.9, 1.0]), cells=4).tolist()
    [0, 1, 1, 1]
    """
    edges = x[0] + (x[-1] - x[0]) * np.arange(cells) / cells
    return np.maximum(np.searchsorted(x, edges, side="right") - 1, 0).astype(np.int64)


@numba.njit(cache=True, nogil=True)
def _interpolate(s: Any, x: Any, y: Any, slopes: Any, table: Any,
                 scale: float) -> Any:  # pragma: no cover - compiled
    """``numpy.interp(s, x, y)`` with numpy's arithmetic (its precomputed ``slopes``, its exact-knot and
    non-finite cases). Written out in the loop: a call per row to a compiled helper taking arrays cost ten times
    the interpolation."""
    out = np.empty(len(s))
    last, cells = len(x) - 1, len(table) - 1
    for i in range(len(s)):  # one thread: 4 ms a million; two were slower on a loaded machine
        v = s[i]
        if v < x[0]:
            out[i] = y[0]
        elif v >= x[last]:
            out[i] = y[last]
        else:
            j = table[min(int((v - x[0]) * scale), cells)]
            while x[j + 1] <= v:
                j += 1
            if v == x[j]:
                out[i] = y[j]
            else:
                value = slopes[j] * (v - x[j]) + y[j]
                if np.isnan(value):
                    value = slopes[j] * (v - x[j + 1]) + y[j + 1]
                    if np.isnan(value) and y[j] == y[j + 1]:
                        value = y[j]
                out[i] = value
    return out


def calibrate(scores: NDArray[np.float64], knots: Knots) -> NDArray[np.float64]:
    """``numpy.interp(scores, knots.x, knots.y)``, in a few milliseconds for a million unsorted scores.

    >>> knots = Knots(np.array([0.0, 0.5, 1.0]), np.array([0.0, 0.2, 1.0]))
    >>> calibrate(np.array([0.25, 0.9, -1.0]), knots).round(12).tolist()
    [0.1, 0.84, 0.0]
    """
    x, y = np.asarray(knots.x, dtype=np.float64), np.asarray(knots.y, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        slopes = np.diff(y) / np.diff(x)
    scale = TABLE_CELLS / (x[-1] - x[0]) if x[-1] > x[0] else 0.0
    return _interpolate(np.ascontiguousarray(scores, dtype=np.float64), x, y, slopes, knot_table(x), scale)


@numba.njit(cache=True, nogil=True)
def _add(total: float, lost: float, term: float) -> tuple[float, float]:  # pragma: no cover - compiled
    """Neumaier's compensated sum: ``total + term`` and the running correction ``lost``."""
    result = total + term
    if abs(total) >= abs(term):
        lost += (total - result) + term
    else:
        lost += (term - result) + total
    return result, lost


@numba.njit(cache=True, nogil=True)
def _auc_of_sorted(s: Any, w: Any) -> float:  # pragma: no cover - compiled
    """Expected AUC of the sorted positive scores ``s`` with their weights ``w`` (:math:`w = f(s)`, equal within a
    tie), by groups of tied scores, with compensated sums."""
    numerator = v_below = self_pairs = total_w = 0.0
    lost_numerator = lost_below = lost_self = lost_w = 0.0
    i, n = 0, len(s)
    while i < n:
        j = i + 1
        while j < n and s[j] == s[i]:
            j += 1
        w_group, v_group = (j - i) * w[i], (j - i) * (1.0 - w[i])
        numerator, lost_numerator = _add(numerator, lost_numerator,
                                         w_group * (v_below + lost_below) + 0.5 * w_group * v_group)
        self_pairs, lost_self = _add(self_pairs, lost_self, w_group * (1.0 - w[i]))
        total_w, lost_w = _add(total_w, lost_w, w_group)
        v_below, lost_below = _add(v_below, lost_below, v_group)
        i = j
    self_pairs += lost_self
    denominator = (total_w + lost_w) * (v_below + lost_below) - self_pairs
    numerator += lost_numerator - 0.5 * self_pairs
    return numerator / denominator if denominator > 0 else np.nan


def binary_metrics(scores: NDArray[np.float64], predicted: NDArray[np.intp] | None,
                   knots: Knots | None) -> dict[str, float]:
    """The :data:`~driftloop.estimate.confusion.CLASSIFICATION_METRICS` of a binary window: ``scores`` (n x 2,
    validated probabilities), ``predicted`` class codes (``None``: the most probable class, the first on a tie) and
    the positive class's calibration ``knots`` (``None``: the scores are the probabilities).

    >>> proba = np.array([[0.8, 0.2], [0.4, 0.6], [0.1, 0.9], [0.7, 0.3]])
    >>> m = binary_metrics(proba, np.array([0, 1, 1, 0]), None)
    >>> {k: round(v, 4) for k, v in m.items()}
    {'accuracy': 0.75, 'precision': 0.75, 'recall': 0.75, 'f1': 0.75, 'roc_auc': 0.8636}
    """
    positive = np.ascontiguousarray(scores[:, 1])
    weights = positive if knots is None else calibrate(positive, knots)
    called = (positive > scores[:, 0]).astype(np.intp) if predicted is None else predicted
    truly = np.bincount(called, weights=weights, minlength=2)  # C[1, j]: the positive class, by predicted class
    if knots is None:  # C[0, j]: the negative scores as they are, or the complements of the calibrated weights
        other = np.bincount(called, weights=scores[:, 0], minlength=2)
    else:
        other = np.bincount(called, minlength=2) - truly
    ordered = np.sort(positive)
    auc = float(_auc_of_sorted(ordered, ordered if knots is None else np.interp(ordered, knots.x, knots.y)))

    def ratio(a: float, b: float) -> float:
        return float(a / b) if b > 0 else float("nan")

    hits, calls = truly[1], truly[1] + other[1]
    return {
        "accuracy": float((hits + other[0]) / len(scores)) if len(scores) else float("nan"),
        "precision": ratio(hits, calls),
        "recall": ratio(hits, truly.sum()),
        "f1": ratio(2.0 * hits, truly.sum() + calls),
        "roc_auc": auc,
    }

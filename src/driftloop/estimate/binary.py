r"""The five CBPE metrics of a *binary* window with one sort and no permutation: what
:func:`~driftloop.estimate.confusion.confusion_metrics` computes from ``apply_knots(knots, scores)``, without the
n x 2 probability matrix, the ``argmax``, the ``argsort``, or numpy's interpolation of unsorted scores (a binary
search per score: 140 ms of the 150 ms a million-row window took). One compiled pass and one sort.

With two classes the calibrated probability of the positive class is a function of the positive score alone,
:math:`w_i = f(s_i)` (:math:`f` the isotonic calibration's linear interpolation between its knots, or the identity
when the scores are used as they are). Hence:

* **Expected confusion matrix**: :math:`C_{1j} = \sum_{i: \hat y_i = j} w_i` and
  :math:`C_{0j} = \sum_{i: \hat y_i = j} (1 - w_i)` (uncalibrated: the negative scores), in one compiled pass over
  the rows that evaluates :math:`f` of the unsorted scores by locating each among the knots through a lookup table
  (:func:`knot_table`) and applying :func:`numpy.interp`'s own arithmetic (bit for bit, tested).
* **Expected AUC**: since :math:`w` is a function of :math:`s`, the sorted scores carry their weights with them,
  :math:`w_{(r)} = f(s_{(r)})`: one :func:`numpy.sort` (no ``argsort``, no gather), :func:`numpy.interp` of the
  sorted scores (a linear merge), and one compiled pass over the groups of tied scores that accumulates the expected
  Mann–Whitney numerator and denominator of :func:`~driftloop.estimate.confusion.expected_auc`.

The AUC's numerator and running sum are compensated (Neumaier) where numpy's ``cumsum`` is not: on a million rows
the two differ by about :math:`10^{-12}`, and the compensated one is five times closer to the exact value (2e-13,
checked against long double).
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
def _confusion_pass(scores: Any, predicted: Any, given: bool, calibrate: bool, x: Any, y: Any, slopes: Any,
                    table: Any, scale: float) -> Any:  # pragma: no cover - compiled
    """Per predicted class: the sum of the positive weights, the count of rows and the sum of the negative scores,
    summed in row order as ``bincount`` sums. The positive weight is the score, or calibrated: ``numpy.interp(s, x,
    y)`` with numpy's arithmetic (its precomputed ``slopes``, its exact-knot and non-finite cases), the score located
    by the lookup ``table``. Written out in the loop: a call per row to a compiled helper taking arrays cost ten
    times the interpolation."""
    w0 = w1 = n0 = n1 = s0 = s1 = 0.0  # in registers: an array indexed by the class stalled on its last store
    last, cells = len(x) - 1, len(table) - 1
    for i in range(scores.shape[0]):
        v = scores[i, 1]
        w = v
        if calibrate:
            if v < x[0]:
                w = y[0]
            elif v >= x[last]:
                w = y[last]
            else:
                j = table[min(int((v - x[0]) * scale), cells)]
                while x[j + 1] <= v:
                    j += 1
                if v == x[j]:
                    w = y[j]
                else:
                    w = slopes[j] * (v - x[j]) + y[j]
                    if np.isnan(w):
                        w = slopes[j] * (v - x[j + 1]) + y[j + 1]
                        if np.isnan(w) and y[j] == y[j + 1]:
                            w = y[j]
        k = float(predicted[i]) if given else np.float64(v > scores[i, 0])
        # adding w * 0.0 = 0.0 leaves a sum as it is: each sum is bincount's, in the same order
        w1 += w * k
        w0 += w * (1.0 - k)
        n1 += k
        n0 += 1.0 - k
        s1 += scores[i, 0] * k
        s0 += scores[i, 0] * (1.0 - k)
    return np.array([w0, w1]), np.array([n0, n1]), np.array([s0, s1])


def _lookup(knots: Knots | None) -> tuple[Any, ...]:
    """The arguments of :func:`_confusion_pass` that describe the calibration (placeholders when there is none)."""
    if knots is None:
        return np.zeros(2), np.zeros(2), np.zeros(1), np.zeros(1, dtype=np.int64), 0.0
    x, y = np.asarray(knots.x, dtype=np.float64), np.asarray(knots.y, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        slopes = np.diff(y) / np.diff(x)
    return x, y, slopes, knot_table(x), TABLE_CELLS / (x[-1] - x[0]) if x[-1] > x[0] else 0.0


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
    tie), by groups of tied scores. The numerator and the running negative weight below a group are compensated
    sums: they add a million terms of very different sizes."""
    numerator = v_below = self_pairs = total_w = 0.0
    lost_numerator = lost_below = 0.0
    i, n = 0, len(s)
    while i < n:
        j = i + 1
        while j < n and s[j] == s[i]:
            j += 1
        w_group, v_group = (j - i) * w[i], (j - i) * (1.0 - w[i])
        numerator, lost_numerator = _add(numerator, lost_numerator,
                                         w_group * (v_below + lost_below) + 0.5 * w_group * v_group)
        self_pairs += w_group * (1.0 - w[i])
        total_w += w_group
        v_below, lost_below = _add(v_below, lost_below, v_group)
        i = j
    denominator = total_w * (v_below + lost_below) - self_pairs
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
    codes = np.zeros(1, dtype=np.intp) if predicted is None else predicted
    truly, counts, negatives = _confusion_pass(scores, codes, predicted is not None, knots is not None,
                                               *_lookup(knots))
    other = negatives if knots is None else counts - truly  # C[0, j]: the negative scores, or the complements
    ordered = np.sort(scores[:, 1])
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

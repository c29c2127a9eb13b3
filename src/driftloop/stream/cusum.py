"""The tabular CUSUM chart (Page, 1954) on a stream, with its reference level learnt from a warm-up."""

from __future__ import annotations

import math
from typing import Any

import numba
import numpy as np

from driftloop.stream.base import CountAndSums, check_parameter, is_number
from driftloop.stream.page_hinkley import MODES


class CUSUM(CountAndSums):
    r"""Tabular CUSUM: one-sided cumulative sums of standardised deviations from a reference level.

    The first ``warmup`` values give the reference mean :math:`\mu_0` and standard deviation :math:`\sigma_0`
    (``ddof=1``); from the next value on,

    .. math::

        S^+_t = \max(0,\ S^+_{t-1} + x_t - \mu_0 - k), \qquad S^-_t = \max(0,\ S^-_{t-1} - (x_t - \mu_0) - k),

    with :math:`k` = ``slack`` :math:`\sigma_0`, and a change is detected when :math:`S^+_t` or :math:`S^-_t` exceeds
    :math:`h` = ``threshold`` :math:`\sigma_0` (in the directions of ``mode``). With known :math:`\mu_0,
    \sigma_0`, the classical ``slack=0.5``, ``threshold=5`` detect a shift of one standard deviation after about 10
    values but raise a false alarm every ~465 values per side on a stationary normal stream (Montgomery, Table
    9.3), and estimating :math:`\mu_0, \sigma_0` from a short warm-up makes false alarms more frequent still: the
    defaults (``warmup=100``, ``threshold=10``) trade a few more values of delay (a median of 19 values for a shift of
    one standard deviation) for some 10 to 30 false alarms per million stationary values (``bench/stream.py``), where
    ``threshold=5`` raises over a thousand. A warm-up of constant values has :math:`\sigma_0 = 0`: then any value
    other than the constant is a change. After a detection the detector starts afresh with a new warm-up, on the new
    level.

    The updates are compiled with numba (:func:`_run`), one call per batch.

    Parameters
    ----------
    warmup
        Values that fix the reference level (at least 2).
    slack
        :math:`k` in reference standard deviations (half the shift to detect fastest).
    threshold
        :math:`h` in reference standard deviations.
    mode
        ``up``, ``down`` or ``both``.

    Examples
    --------
    >>> rng = np.random.default_rng(7)
    >>> stream = np.concatenate([rng.normal(0, 1, 1000), rng.normal(1, 1, 1000)])
    >>> CUSUM().update_many(stream)
    [1005]

    References
    ----------
    E. S. Page (1954). Continuous inspection schemes. Biometrika 41(1/2), 100-115.
    D. C. Montgomery (2009). Introduction to Statistical Quality Control, 6th ed., section 9.1.
    """

    name = "cusum"
    parameters = ("warmup", "slack", "threshold", "mode")
    _NAMES = ("mean", "squares", "up", "down")  # the warm-up's mean (Welford), then mu_0; its squares; S+, S-

    def __init__(self, warmup: int = 100, slack: float = 0.5, threshold: float = 10.0, mode: str = "both") -> None:
        owner = "CUSUM"
        check_parameter(owner, "warmup", warmup, type(warmup) is int and warmup >= 2, "an integer >= 2")
        check_parameter(owner, "slack", slack, is_number(slack) and slack >= 0, "a finite number >= 0")
        check_parameter(owner, "threshold", threshold, is_number(threshold) and threshold > 0, "a finite number > 0")
        check_parameter(owner, "mode", mode, mode in MODES, f"one of {', '.join(MODES)}")
        self.warmup, self.slack, self.threshold, self.mode = warmup, float(slack), float(threshold), mode
        self.reset()

    def update_finite(self, values: np.ndarray) -> np.ndarray:
        out = np.empty(len(values), dtype=np.int64)
        found = _run(values, out, self._n, self._sums, self.warmup, self.slack, self.threshold, MODES.index(self.mode))
        return out[:found]

    @property
    def reference(self) -> tuple[float, float]:
        """:math:`(\\mu_0, \\sigma_0)` once the warm-up is over."""
        return float(self._sums[0]), math.sqrt(self._sums[1] / (self.warmup - 1))

    @property
    def statistic(self) -> float:
        """The larger sum (in the directions of ``mode``), in reference standard deviations."""
        if self.seen <= self.warmup:
            return 0.0
        sigma = self.reference[1]
        up, down = float(self._sums[2]), float(self._sums[3])
        value = up if self.mode == "up" else down if self.mode == "down" else max(up, down)
        return value / sigma if sigma > 0 else (math.inf if value > 0 else 0.0)


@numba.njit(cache=True, nogil=True)
def _run(values: Any, out: Any, counter: Any, sums: Any, warmup: int, slack: float, threshold: float,
         mode: int) -> int:  # pragma: no cover - compiled
    """Take ``values`` in order; write the positions of the detections to ``out``, return their number (``mode``:
    0 up, 1 down, 2 both). The state is updated in place."""
    found = 0
    n, mean, squares, up, down = counter[0], sums[0], sums[1], sums[2], sums[3]
    sigma = math.sqrt(squares / (warmup - 1))
    for position in range(len(values)):
        value = values[position]
        n += 1
        if n <= warmup:
            change = value - mean
            mean += change / n
            squares += change * (value - mean)
            if n == warmup:
                sigma = math.sqrt(squares / (warmup - 1))
            continue
        deviation = value - mean
        up = max(0.0, up + deviation - slack * sigma)
        down = max(0.0, down - deviation - slack * sigma)
        limit = threshold * sigma
        if (mode != 1 and up > limit) or (mode != 0 and down > limit):
            out[found] = position
            found += 1
            n, mean, squares, up, down = 0, 0.0, 0.0, 0.0, 0.0
    counter[0] = n
    sums[0], sums[1], sums[2], sums[3] = mean, squares, up, down
    return found

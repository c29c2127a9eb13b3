"""ADWIN: adaptive windowing (Bifet & Gavaldà, 2007), in its exponential-histogram form ADWIN2."""

from __future__ import annotations

import math
from typing import Any

import numba
import numpy as np

from driftloop.stream.base import StreamDetector, check_parameter, is_number

ROWS = 64
"""Rows of the exponential histogram: row ``i`` holds buckets of ``2**i`` values, so 64 rows hold any stream."""


class ADWIN(StreamDetector):
    r"""Adaptive windowing: a change is detected when two parts of the recent window have different means.

    The window :math:`W` of the values since the last change is kept compressed as an exponential histogram: row
    :math:`i` holds at most ``max_buckets`` buckets of :math:`2^i` values each (their sum and the sum of squared
    deviations from their mean), so that :math:`|W|` values take :math:`O(\text{max\_buckets} \log |W|)` numbers.
    Every ``clock`` values (once :math:`|W|` > ``grace_period``), each split of :math:`W` at a bucket boundary into
    an older part :math:`W_0` and a newer part :math:`W_1` (both of at least ``min_window_length`` values) is
    tested, oldest first; a change is detected at the first split where

    .. math::

        |\hat\mu_{W_0} - \hat\mu_{W_1}| > \sqrt{2\, \tfrac{1}{m}\, \hat\sigma^2_W\, \delta'}
            + \tfrac{2}{3}\, \tfrac{1}{m}\, \delta', \qquad
        \tfrac{1}{m} = \tfrac{1}{n_0 - \ell + 1} + \tfrac{1}{n_1 - \ell + 1}, \qquad
        \delta' = \ln \frac{2 \ln |W|}{\delta}

    with :math:`\hat\sigma^2_W` the variance of :math:`W` and :math:`\ell` = ``min_window_length`` (Bifet &
    Gavaldà's Bernstein bound, in the form river's ``drift.ADWIN`` uses: same parameters and defaults, and the same
    detections on the same stream, the same floating-point operations in the same order). The detector then starts
    afresh, as river's does. The updates are compiled with numba (:func:`_run`), one call per batch.

    Parameters
    ----------
    delta
        Confidence of the test (smaller: fewer false alarms, later detections).
    clock
        Test every ``clock`` values.
    max_buckets
        Buckets per row of the histogram before two are merged into the next row.
    min_window_length
        Smallest part :math:`W_0` or :math:`W_1` that is tested.
    grace_period
        Values needed before the first test.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(7)
    >>> stream = np.concatenate([rng.normal(0, 1, 1000), rng.normal(1, 1, 1000)])
    >>> ADWIN().update_many(stream)
    [1055]

    References
    ----------
    A. Bifet and R. Gavaldà (2007). Learning from time-changing data with adaptive windowing. SIAM International
    Conference on Data Mining, 443-448.
    """

    name = "adwin"
    parameters = ("delta", "clock", "max_buckets", "min_window_length", "grace_period")

    def __init__(self, delta: float = 0.002, clock: int = 32, max_buckets: int = 5, min_window_length: int = 5,
                 grace_period: int = 10) -> None:
        owner = "ADWIN"
        check_parameter(owner, "delta", delta, is_number(delta) and 0 < delta < 1, "a number in (0, 1)")
        for name, value, least in (("clock", clock, 1), ("max_buckets", max_buckets, 1),
                                   ("min_window_length", min_window_length, 1), ("grace_period", grace_period, 0)):
            check_parameter(owner, name, value, type(value) is int and value >= least, f"an integer >= {least}")
        self.delta, self.clock, self.max_buckets = float(delta), clock, max_buckets
        self.min_window_length, self.grace_period = min_window_length, grace_period
        self.reset()

    def reset(self) -> None:
        self._sums = np.zeros((ROWS, self.max_buckets + 1))  # row i: the sums of its buckets of 2**i values
        self._variances = np.zeros((ROWS, self.max_buckets + 1))  # their sums of squared deviations from their means
        self._buckets = np.zeros(ROWS, dtype=np.int64)  # buckets in each row, oldest first
        self._counters = np.array([0, 0, 1], dtype=np.int64)  # |W|, values since the last change, rows in use
        self._moments = np.zeros(2)  # the sum of W, the sum of squared deviations of W from its mean

    @property
    def width(self) -> int:
        """The number of values in the window :math:`W`."""
        return int(self._counters[0])

    @property
    def estimation(self) -> float:
        """The mean of the window."""
        return float(self._moments[0] / self._counters[0]) if self._counters[0] else 0.0

    @property
    def statistic(self) -> float:
        """The mean of the window (what a change moves)."""
        return self.estimation

    @property
    def seen(self) -> int:
        return self.width

    def update_finite(self, values: np.ndarray) -> np.ndarray:
        out = np.empty(len(values), dtype=np.int64)
        found = _run(values, out, self._sums, self._variances, self._buckets, self._counters, self._moments,
                     self.delta, self.clock, self.max_buckets, self.min_window_length, self.grace_period)
        return out[:found]

    def _saved(self) -> dict[str, Any]:
        rows = int(self._counters[2])
        width, ticks = int(self._counters[0]), int(self._counters[1])
        return {"sums": [self._sums[r, :self._buckets[r]].tolist() for r in range(rows)],
                "variances": [self._variances[r, :self._buckets[r]].tolist() for r in range(rows)],
                "width": width, "total": float(self._moments[0]), "variance": float(self._moments[1]),
                "ticks": ticks}

    def _restore(self, saved: dict[str, Any]) -> None:
        self.reset()
        for row, (sums, variances) in enumerate(zip(saved["sums"], saved["variances"], strict=True)):
            self._sums[row, :len(sums)] = sums
            self._variances[row, :len(variances)] = variances
            self._buckets[row] = len(sums)
        self._counters[:] = (saved["width"], saved["ticks"], len(saved["sums"]))
        self._moments[:] = (saved["total"], saved["variance"])

    def _packed(self) -> list[np.ndarray]:
        rows = int(self._counters[2])
        return [self._counters, self._moments, self._buckets[:rows], self._sums[:rows], self._variances[:rows]]

    def _unpack(self, data: np.ndarray) -> None:
        rows = int(data[2])
        self._counters[:] = data[:3]
        self._moments[:] = data[3:5]
        self._buckets[:rows] = data[5:5 + rows]
        width = self.max_buckets + 1
        start = 5 + rows
        self._sums[:rows] = data[start:start + rows * width].reshape(rows, width)
        self._variances[:rows] = data[start + rows * width:start + 2 * rows * width].reshape(rows, width)


@numba.njit(cache=True, nogil=True)
def _run(values: Any, out: Any, sums: Any, variances: Any, buckets: Any, counters: Any, moments: Any, delta: float,
         clock: int, max_buckets: int, min_window_length: int, grace_period: int) -> int:  # pragma: no cover - compiled
    """Take ``values`` in order; write the positions of the detections to ``out``, return their number. The state
    arrays are updated in place; each operation is river's, in river's order."""
    found = 0
    for position in range(len(values)):
        value = values[position]
        # insert a bucket of one value; update the window's sum and variance (Welford); merge full rows
        sums[0, buckets[0]] = value
        variances[0, buckets[0]] = 0.0
        buckets[0] += 1
        width = counters[0] + 1
        counters[0] = width
        if width > 1:
            deviation = value - moments[0] / (width - 1)
            moments[1] += (width - 1) * deviation * deviation / width
        moments[0] += value
        row = 0
        while buckets[row] > max_buckets:  # merge the two oldest buckets into one of the next row
            size = float(1 << row)
            mean_0, mean_1 = sums[row, 0] / size, sums[row, 1] / size
            merged_sum = sums[row, 0] + sums[row, 1]
            merged_variance = (variances[row, 0] + variances[row, 1]
                               + size * 0.5 * (mean_0 - mean_1) * (mean_0 - mean_1))
            for index in range(2, buckets[row]):
                sums[row, index - 2] = sums[row, index]
                variances[row, index - 2] = variances[row, index]
            buckets[row] -= 2
            if row + 1 == counters[2]:
                counters[2] += 1
                buckets[row + 1] = 0
            sums[row + 1, buckets[row + 1]] = merged_sum
            variances[row + 1, buckets[row + 1]] = merged_variance
            buckets[row + 1] += 1
            row += 1
        counters[1] += 1
        if counters[1] % clock or width <= grace_period:
            continue
        if _has_cut(sums, buckets, counters[2], width, moments[0], moments[1], delta, min_window_length):
            out[found] = position
            found += 1
            buckets[:] = 0
            counters[0], counters[1], counters[2] = 0, 0, 1
            moments[0], moments[1] = 0.0, 0.0
    return found


@numba.njit(cache=True, nogil=True)
def _has_cut(sums: Any, buckets: Any, rows: int, width: int, total: float, variance: float, delta: float,
             shortest: int) -> bool:  # pragma: no cover - compiled
    """Whether some split of the window into older and newer values has means further apart than the bound."""
    log_term = math.log(2.0 * math.log(width) / delta)
    window_variance = variance / width
    n_old, n_new, sum_old, sum_new = 0, width, 0.0, total
    for row in range(rows - 1, -1, -1):
        size = 1 << row
        last = buckets[row] - 1
        for index in range(buckets[row]):
            bucket = sums[row, index]
            n_old += size
            n_new -= size
            sum_old += bucket
            sum_new -= bucket
            if row == 0 and index == last:  # the newest value: W_1 would be empty
                return False
            if n_old >= shortest and n_new >= shortest:
                inverse_m = 1.0 / (n_old - shortest + 1) + 1.0 / (n_new - shortest + 1)
                bound = (math.sqrt(2.0 * inverse_m * window_variance * log_term)
                         + 2.0 / 3.0 * log_term * inverse_m)
                if abs(sum_old / n_old - sum_new / n_new) > bound:
                    return True
    return False

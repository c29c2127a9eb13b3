"""ADWIN: adaptive windowing (Bifet & Gavaldà, 2007), in its exponential-histogram form ADWIN2."""

from __future__ import annotations

import math

from driftloop.stream.base import StreamDetector, check_parameter


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
    detections on the same stream). The detector then starts afresh, as river's does.

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
    _state = ("_sums", "_variances", "_width", "_total", "_variance", "_ticks")

    def __init__(self, delta: float = 0.002, clock: int = 32, max_buckets: int = 5, min_window_length: int = 5,
                 grace_period: int = 10) -> None:
        owner = "ADWIN"
        check_parameter(owner, "delta", delta, 0 < delta < 1, "a number in (0, 1)")
        for name, value, least in (("clock", clock, 1), ("max_buckets", max_buckets, 1),
                                   ("min_window_length", min_window_length, 1), ("grace_period", grace_period, 0)):
            check_parameter(owner, name, value, type(value) is int and value >= least, f"an integer >= {least}")
        self.delta, self.clock, self.max_buckets = float(delta), clock, max_buckets
        self.min_window_length, self.grace_period = min_window_length, grace_period
        self.reset()

    def reset(self) -> None:
        self._sums: list[list[float]] = [[]]  # row i: the sums of its buckets of 2**i values, oldest first
        self._variances: list[list[float]] = [[]]  # and their sums of squared deviations from their means
        self._width = 0  # |W|
        self._total = 0.0  # the sum of W
        self._variance = 0.0  # the sum of squared deviations of W from its mean
        self._ticks = 0

    @property
    def width(self) -> int:
        """The number of values in the window :math:`W`."""
        return self._width

    @property
    def estimation(self) -> float:
        """The mean of the window."""
        return self._total / self._width if self._width else 0.0

    @property
    def statistic(self) -> float:
        """The mean of the window (what a change moves)."""
        return self.estimation

    @property
    def seen(self) -> int:
        return self._width

    def update(self, value: float) -> bool:
        self._insert(value)
        self._ticks += 1
        if self._ticks % self.clock or self._width <= self.grace_period:
            return False
        detected = self._has_cut()
        if detected:
            self.reset()
        return detected

    def _insert(self, value: float) -> None:
        """Add a bucket of one value; update the window's sum and variance (Welford); merge full rows."""
        self._sums[0].append(value)
        self._variances[0].append(0.0)
        width = self._width = self._width + 1
        if width > 1:
            deviation = value - self._total / (width - 1)
            self._variance += (width - 1) * deviation * deviation / width
        self._total += value
        row = 0
        while len(self._sums[row]) > self.max_buckets:  # merge the two oldest buckets into one of the next row
            sums, variances = self._sums[row], self._variances[row]
            size = float(1 << row)
            mean_0, mean_1 = sums[0] / size, sums[1] / size
            merged = (sums[0] + sums[1], variances[0] + variances[1] + size * 0.5 * (mean_0 - mean_1) * (mean_0 - mean_1))
            del sums[:2], variances[:2]
            if row + 1 == len(self._sums):
                self._sums.append([])
                self._variances.append([])
            self._sums[row + 1].append(merged[0])
            self._variances[row + 1].append(merged[1])
            row += 1

    def _has_cut(self) -> bool:
        """Whether some split of the window into older and newer values has means further apart than the bound."""
        width, shortest = self._width, self.min_window_length
        log_term = math.log(2.0 * math.log(width) / self.delta)
        window_variance = self._variance / width
        n_old, n_new, sum_old, sum_new = 0, width, 0.0, self._total
        for row in range(len(self._sums) - 1, -1, -1):
            size = 1 << row
            sums = self._sums[row]
            last = len(sums) - 1
            for index, bucket in enumerate(sums):
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

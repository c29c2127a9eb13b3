"""The tabular CUSUM chart (Page, 1954) on a stream, with its reference level learnt from a warm-up."""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

from driftloop.stream.base import StreamDetector, check_parameter
from driftloop.stream.page_hinkley import MODES


class CUSUM(StreamDetector):
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

    Batches of at least :data:`VECTOR_MIN` values are computed with numpy: :math:`S^+_t = C_t - \min(0,
    \min_{s \le t} C_s)` for :math:`C_t` the cumulative sum of :math:`x_s - \mu_0 - k` (Lindley's recursion).

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
    _state = ("_n", "_mean", "_squares", "_up", "_down")

    def __init__(self, warmup: int = 100, slack: float = 0.5, threshold: float = 10.0, mode: str = "both") -> None:
        owner = "CUSUM"
        check_parameter(owner, "warmup", warmup, type(warmup) is int and warmup >= 2, "an integer >= 2")
        check_parameter(owner, "slack", slack, slack >= 0, "a number >= 0")
        check_parameter(owner, "threshold", threshold, threshold > 0, "a number > 0")
        check_parameter(owner, "mode", mode, mode in MODES, f"one of {', '.join(MODES)}")
        self.warmup, self.slack, self.threshold, self.mode = warmup, float(slack), float(threshold), mode
        self.reset()

    def reset(self) -> None:
        self._n = 0
        self._mean = 0.0  # of the warm-up so far (Welford), then mu_0
        self._squares = 0.0  # the warm-up's sum of squared deviations
        self._up = 0.0
        self._down = 0.0

    @property
    def reference(self) -> tuple[float, float]:
        """:math:`(\\mu_0, \\sigma_0)` once the warm-up is over."""
        return self._mean, math.sqrt(self._squares / (self.warmup - 1))

    @property
    def statistic(self) -> float:
        """The larger sum (in the directions of ``mode``), in reference standard deviations."""
        if self._n <= self.warmup:
            return 0.0
        sigma = self.reference[1]
        value = self._up if self.mode == "up" else self._down if self.mode == "down" else max(self._up, self._down)
        return value / sigma if sigma > 0 else (math.inf if value > 0 else 0.0)

    @property
    def seen(self) -> int:
        return self._n

    def update(self, value: float) -> bool:
        n = self._n = self._n + 1
        if n <= self.warmup:
            change = value - self._mean
            self._mean += change / n
            self._squares += change * (value - self._mean)
            return False
        mean, sigma = self.reference
        deviation, slack, limit = value - mean, self.slack * sigma, self.threshold * sigma
        up = self._up = max(0.0, self._up + deviation - slack)
        down = self._down = max(0.0, self._down - deviation - slack)
        detected = (self.mode != "down" and up > limit) or (self.mode != "up" and down > limit)
        if detected:
            self.reset()
        return detected

    def update_many(self, values: ArrayLike) -> list[int]:
        values = np.asarray(values, dtype=np.float64)
        finite = np.flatnonzero(np.isfinite(values))
        values = values[finite]
        detections: list[int] = []
        start = 0
        while start < len(values):
            if self._n < self.warmup or len(values) - start < VECTOR_MIN:
                if self.update(float(values[start])):
                    detections.append(start)
                start += 1
                continue
            block = values[start:start + VECTOR_BLOCK]
            found = self._run(block)
            if found is None:
                start += len(block)
            else:
                detections.append(start + found)
                start += found + 1
        return finite[detections].tolist()

    def _run(self, values: np.ndarray) -> int | None:
        """Take a batch after the warm-up, vectorised; the position of the first detection (then reset) or None."""
        mean, sigma = self.reference
        deviations = values - mean
        slack, limit = self.slack * sigma, self.threshold * sigma
        first = len(values)
        sums = {}
        for side, steps, start in (("up", deviations - slack, self._up), ("down", -deviations - slack, self._down)):
            cumulative = np.cumsum(steps) + start
            sums[side] = cumulative - np.minimum(np.minimum.accumulate(cumulative), 0.0)
            if self.mode in (side, "both"):
                over = np.flatnonzero(sums[side] > limit)
                if len(over):
                    first = min(first, int(over[0]))
        if first < len(values):
            self.reset()
            return first
        self._n += len(values)
        self._up, self._down = float(sums["up"][-1]), float(sums["down"][-1])
        return None


VECTOR_MIN = 64
"""Batches of at least this many values (after the warm-up) are computed with numpy rather than value by value."""
VECTOR_BLOCK = 4096
"""Values computed at once: after a detection, the rest of a block is computed again from the new warm-up."""

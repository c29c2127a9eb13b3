"""The Page-Hinkley test for a change in the mean of a stream."""

from __future__ import annotations

from driftloop.stream.base import StreamDetector, check_parameter

MODES = ("up", "down", "both")


class PageHinkley(StreamDetector):
    r"""Page-Hinkley test: a cumulative sum of deviations from the running mean, against its running extreme.

    With :math:`\bar x_t` the mean of the values so far, the two sums

    .. math::

        U_t = \alpha U_{t-1} + (x_t - \bar x_t) - \delta, \qquad L_t = \alpha L_{t-1} + (x_t - \bar x_t) + \delta

    drift downwards (upwards) while the mean is stable; a rise (fall) of the mean makes :math:`U_t - \min_{s \le t}
    U_s` (:math:`\max_{s \le t} L_s - L_t`) grow. A change is detected when it exceeds ``threshold``
    (:math:`\lambda`), from ``min_instances`` values on. ``alpha`` < 1 fades old deviations. This is river's
    ``drift.PageHinkley`` (same parameters and defaults, same detections on the same stream). ``delta`` and
    ``threshold`` are in the stream's units: river's defaults suit values of order 1 with changes of several units
    (on a stationary standard normal stream they raise a false alarm every ~1,500 values, ``bench/stream.py``).

    Parameters
    ----------
    min_instances
        Values needed before a change can be detected.
    delta
        Magnitude of change tolerated (:math:`\delta`, in the stream's units).
    threshold
        Decision threshold :math:`\lambda` (in the stream's units).
    alpha
        Forgetting factor in (0, 1].
    mode
        ``up`` (detect increases), ``down`` (decreases) or ``both``.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(7)
    >>> stream = np.concatenate([rng.normal(0, 1, 1000), rng.normal(3, 1, 1000)])
    >>> PageHinkley(delta=0.5, threshold=20).update_many(stream)
    [1005]

    References
    ----------
    E. S. Page (1954). Continuous inspection schemes. Biometrika 41(1/2), 100-115.
    D. V. Hinkley (1971). Inference about the change-point from cumulative sum tests. Biometrika 58(3), 509-523.
    """

    name = "page_hinkley"
    parameters = ("min_instances", "delta", "threshold", "alpha", "mode")
    _state = ("_n", "_mean", "_up", "_down", "_lowest_up", "_highest_down")

    def __init__(self, min_instances: int = 30, delta: float = 0.005, threshold: float = 50.0,
                 alpha: float = 1 - 0.0001, mode: str = "both") -> None:
        owner = "PageHinkley"
        check_parameter(owner, "min_instances", min_instances, type(min_instances) is int and min_instances >= 1,
                        "an integer >= 1")
        check_parameter(owner, "delta", delta, delta >= 0, "a number >= 0")
        check_parameter(owner, "threshold", threshold, threshold > 0, "a number > 0")
        check_parameter(owner, "alpha", alpha, 0 < alpha <= 1, "a number in (0, 1]")
        check_parameter(owner, "mode", mode, mode in MODES, f"one of {', '.join(MODES)}")
        self.min_instances, self.delta, self.threshold, self.alpha, self.mode = (
            min_instances, float(delta), float(threshold), float(alpha), mode)
        self.reset()

    def reset(self) -> None:
        self._n = 0
        self._mean = 0.0
        self._up = 0.0
        self._down = 0.0
        self._lowest_up = 0.0  # set by the first value
        self._highest_down = 0.0

    def update(self, value: float) -> bool:
        n = self._n = self._n + 1
        self._mean += (1.0 / n) * (value - self._mean)  # river's running mean, to the last bit
        deviation = value - self._mean
        up = self._up = self.alpha * self._up + deviation - self.delta
        down = self._down = self.alpha * self._down + deviation + self.delta
        if n == 1 or up < self._lowest_up:
            self._lowest_up = up
        if n == 1 or down > self._highest_down:
            self._highest_down = down
        if n < self.min_instances:
            return False
        mode = self.mode
        detected = ((mode != "down" and up - self._lowest_up > self.threshold)
                    or (mode != "up" and self._highest_down - down > self.threshold))
        if detected:
            self.reset()
        return detected

    @property
    def statistic(self) -> float:
        """The larger of :math:`U_t - \\min U` and :math:`\\max L - L_t` (in the directions of ``mode``)."""
        up, down = self._up - self._lowest_up, self._highest_down - self._down
        return up if self.mode == "up" else down if self.mode == "down" else max(up, down)

    @property
    def seen(self) -> int:
        return self._n

"""The Page-Hinkley test for a change in the mean of a stream."""

from __future__ import annotations

from typing import Any

import numba
import numpy as np

from driftloop.stream.base import CountAndSums, check_parameter, is_number

MODES = ("up", "down", "both")


class PageHinkley(CountAndSums):
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
    The updates are compiled with numba (:func:`_run`), one call per batch.

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
    _NAMES = ("mean", "up", "down", "lowest_up", "highest_down")  # the running mean, U, L, min U, max L

    def __init__(self, min_instances: int = 30, delta: float = 0.005, threshold: float = 50.0,
                 alpha: float = 1 - 0.0001, mode: str = "both") -> None:
        owner = "PageHinkley"
        check_parameter(owner, "min_instances", min_instances, type(min_instances) is int and min_instances >= 1,
                        "an integer >= 1")
        check_parameter(owner, "delta", delta, is_number(delta) and delta >= 0, "a finite number >= 0")
        check_parameter(owner, "threshold", threshold, is_number(threshold) and threshold > 0, "a finite number > 0")
        check_parameter(owner, "alpha", alpha, is_number(alpha) and 0 < alpha <= 1, "a number in (0, 1]")
        check_parameter(owner, "mode", mode, mode in MODES, f"one of {', '.join(MODES)}")
        self.min_instances, self.delta, self.threshold, self.alpha, self.mode = (
            min_instances, float(delta), float(threshold), float(alpha), mode)
        self.reset()

    def update_finite(self, values: np.ndarray) -> np.ndarray:
        out = np.empty(len(values), dtype=np.int64)
        found = _run(values, out, self._n, self._sums, self.min_instances, self.delta, self.threshold, self.alpha,
                     MODES.index(self.mode))
        return out[:found]

    @property
    def statistic(self) -> float:
        """The larger of :math:`U_t - \\min U` and :math:`\\max L - L_t` (in the directions of ``mode``)."""
        _, u, low, lowest_up, highest_down = self._sums.tolist()
        up, down = u - lowest_up, highest_down - low
        return up if self.mode == "up" else down if self.mode == "down" else max(up, down)


@numba.njit(cache=True, nogil=True)
def _run(values: Any, out: Any, counter: Any, sums: Any, min_instances: int, delta: float, threshold: float,
         alpha: float, mode: int) -> int:  # pragma: no cover - compiled
    """Take ``values`` in order; write the positions of the detections to ``out``, return their number (``mode``:
    0 up, 1 down, 2 both). The state is updated in place; each operation is river's, in river's order."""
    found = 0
    n, mean, up, down, lowest_up, highest_down = counter[0], sums[0], sums[1], sums[2], sums[3], sums[4]
    for position in range(len(values)):
        value = values[position]
        n += 1
        mean += (1.0 / n) * (value - mean)  # river's running mean, to the last bit
        deviation = value - mean
        up = alpha * up + deviation - delta
        down = alpha * down + deviation + delta
        if n == 1 or up < lowest_up:
            lowest_up = up
        if n == 1 or down > highest_down:
            highest_down = down
        if n < min_instances:
            continue
        if (mode != 1 and up - lowest_up > threshold) or (mode != 0 and highest_down - down > threshold):
            out[found] = position
            found += 1
            n, mean, up, down, lowest_up, highest_down = 0, 0.0, 0.0, 0.0, 0.0, 0.0
    counter[0] = n
    sums[0], sums[1], sums[2], sums[3], sums[4] = mean, up, down, lowest_up, highest_down
    return found

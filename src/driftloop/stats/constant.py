r"""A reference held at one value: constancy up to floating-point round-off, and Fisher's exact test of departures.

A column "held at one value" rarely holds bit-identical floats: ``0.1 * 3`` is ``0.30000000000000004``, not
``0.3``. Its standard deviation is then about ``1e-17`` instead of 0, and any statistic divided by it (the
normalised Wasserstein) explodes to ``1e15`` — or to ``inf`` when the floats happen to be identical. These functions
decide constancy with a relative tolerance, so that the answer does not depend on round-off.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special

#: Relative tolerance of "the same value": two floats within ``ROUNDOFF_RTOL * |value|`` of each other are taken
#: as one value. About 4,500 units in the last place of a float64: far above the error of a few arithmetic operations
#: (a few units), far below any measured variation. At zero only an exact zero counts (no magnitude to be relative
#: to).
ROUNDOFF_RTOL = 1e-12


def roundoff_tolerance(value: float) -> float:
    """Half-width of the interval of floats taken as ``value``: ``ROUNDOFF_RTOL * |value|``.

    >>> roundoff_tolerance(0.3), roundoff_tolerance(0.0)
    (3e-13, 0.0)
    """
    return ROUNDOFF_RTOL * abs(float(value))


def constant_value(minimum: float, maximum: float) -> float | None:
    """The value a sample is held at, when its range is round-off (``maximum - minimum <= ROUNDOFF_RTOL *
    max(|minimum|, |maximum|)``); ``None`` when the sample varies.

    The value returned is the midpoint of the range, so it lies within the tolerance of every value of the sample.

    >>> constant_value(0.3, 0.1 * 3)
    0.30000000000000004
    >>> constant_value(0.0, 0.0), constant_value(1.0, 1.001), constant_value(0.0, 1e-300)
    (0.0, None, None)
    """
    low, high = float(minimum), float(maximum)
    if not (math.isfinite(low) and math.isfinite(high)) or high - low > ROUNDOFF_RTOL * max(abs(low), abs(high)):
        return None
    return low + (high - low) / 2.0


def snap_sorted(values: NDArray[np.float64], value: float) -> int:
    """Set, in place, every value of the sorted array ``values`` within :func:`roundoff_tolerance` of ``value`` to
    ``value`` (the array stays sorted); return how many values lie farther away (the *departures*).

    Two binary searches and one slice assignment: O(log n + number of values snapped).

    >>> x = np.array([0.1, 0.29999999999999993, 0.3, 0.30000000000000004, 0.7])
    >>> snap_sorted(x, 0.3), x.tolist()
    (2, [0.1, 0.3, 0.3, 0.3, 0.7])
    """
    tolerance = roundoff_tolerance(value)
    start = int(np.searchsorted(values, value - tolerance, side="left"))
    stop = int(np.searchsorted(values, value + tolerance, side="right"))
    values[start:stop] = value
    return len(values) - (stop - start)


def departures_p_value(n_reference: int, n_window: int, departures: int) -> float:
    r"""Fisher's exact (one-sided) p-value of ``departures`` window values away from a constant reference.

    Parameters
    ----------
    n_reference, n_window
        Sizes of the reference (every value at the constant) and of the window, both >= 1.
    departures
        Window values away from the constant, ``0 <= departures <= n_window``.

    Returns
    -------
    float
        The probability that, when the two samples are exchangeable (drawn from one distribution), all of the
        :math:`K` pooled values away from the constant fall into the window:

        .. math:: p = \frac{\binom{n_w}{K}}{\binom{n_r + n_w}{K}} = \prod_{i=0}^{K-1} \frac{n_w - i}{n_r + n_w - i},

        the upper tail of the hypergeometric distribution of the 2 x 2 table (sample x at the constant or not),
        i.e. ``scipy.stats.hypergeom.sf(K - 1, n_r + n_w, K, n_w)``. Exact at any size and for any distribution,
        with no parameter estimated: a constant reference gives no spread to scale a distance by, and its
        leave-one-chunk-out null is identically zero, but the count of departures has this exact null. With equal
        sizes, :math:`p \approx 2^{-K}`.

    References
    ----------
    .. [1] R. A. Fisher, *The Design of Experiments*, Oliver and Boyd, 1935, section 2 (the exact test of a 2 x 2
       table).

    Examples
    --------
    >>> departures_p_value(1000, 1000, 0), round(departures_p_value(1000, 1000, 1), 6)
    (1.0, 0.5)
    >>> f"{departures_p_value(1000, 1000, 10):.6e}"  # scipy.stats.hypergeom.sf(9, 2000, 10, 1000) gives the same
    '9.547326e-04'
    """
    n_reference, n_window, departures = int(n_reference), int(n_window), int(departures)
    if n_reference < 1 or n_window < 1 or not 0 <= departures <= n_window:
        raise ValueError(
            "departures_p_value needs n_reference >= 1, n_window >= 1 and 0 <= departures <= n_window; "
            f"got {n_reference}, {n_window} and {departures}"
        )
    total = n_reference + n_window
    log_p = (special.gammaln(n_window + 1) - special.gammaln(n_window - departures + 1)
             - special.gammaln(total + 1) + special.gammaln(total - departures + 1))
    return float(min(math.exp(log_p), 1.0))

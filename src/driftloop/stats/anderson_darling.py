"""Two-sample Anderson–Darling test (k-sample form, midrank version) on sorted samples, as scipy computes it."""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from driftloop.stats.ecdf import MergedECDF, merge_ecdfs

SIGNIFICANCE_LEVELS = np.array([0.25, 0.1, 0.05, 0.025, 0.01, 0.005, 0.001])
"""Significance levels of the critical values tabulated by Scholz and Stephens (1987), Table 2 (k - 1 = 1)."""

_B0 = np.array([0.675, 1.281, 1.645, 1.96, 2.326, 2.573, 3.085])
_B1 = np.array([-0.245, 0.25, 0.678, 1.149, 1.822, 2.364, 3.615])
_B2 = np.array([-0.105, -0.305, -0.362, -0.391, -0.396, -0.345, -0.154])
# Critical values for m = k - 1 = 1 sample pair: t_m(alpha) = b0 + b1 / sqrt(m) + b2 / m (Scholz & Stephens, eq. 8).
CRITICAL_VALUES = _B0 + _B1 + _B2
"""Critical values of the standardised statistic for two samples, at :data:`SIGNIFICANCE_LEVELS`."""


class ADResult(NamedTuple):
    """Result of :func:`anderson_darling_sorted`.

    Attributes
    ----------
    statistic : float
        The standardised statistic ``(A2akN - 1) / sigma``; can be negative.
    p_value : float
        The interpolated p-value, clipped to [0.001, 0.25].
    """

    statistic: float
    p_value: float


def anderson_darling_sorted(
    reference: ArrayLike, window: ArrayLike, *, check: bool = True, merged: MergedECDF | None = None
) -> ADResult:
    """Anderson–Darling k-sample test for two sorted samples (midrank version), and its p-value.

    Parameters
    ----------
    reference : array_like
        The reference sample: 1-D, finite, sorted ascending, not empty.
    window : array_like
        The window sample: 1-D, finite, sorted ascending, not empty.
    check : bool, default True
        Verify that both samples are finite and sorted (O(n)); callers in the hot path pass ``False``.
    merged : MergedECDF, optional
        The result of :func:`~driftloop.stats.merge_ecdfs` for these two samples, to share one merge.

    Returns
    -------
    ADResult
        ``statistic`` and ``p_value``, equal to
        ``scipy.stats.anderson_ksamp([reference, window], variant='midrank')`` (the default ``midrank=True`` of
        scipy before 1.17).

    Raises
    ------
    ValueError
        If a sample is empty, the two samples hold fewer than 4 values together (the variance below divides by
        ``(N - 1)(N - 2)(N - 3)``), all values are equal, or (with ``check``) a sample is not finite or not
        sorted.

    Notes
    -----
    With the pooled distinct values ``z_1 < ... < z_L``, ``l_j`` of them equal to ``z_j``,
    ``B_j = #{pooled <= z_j} - l_j / 2``, and for sample ``i`` of size ``n_i``,
    ``M_ij = #{sample i <= z_j} - f_ij / 2`` where ``f_ij`` counts its values equal to ``z_j``, the midrank
    statistic (equation 7 of [1]_) is

    .. math:: A^2_{akN} = \\frac{N - 1}{N^2} \\sum_{i=1}^{k} \\frac{1}{n_i} \\sum_{j=1}^{L}
       l_j \\frac{(N M_{ij} - n_i B_j)^2}{B_j (N - B_j) - N l_j / 4},

    standardised as ``(A2akN - (k - 1)) / sigma_N`` with the exact variance ``sigma_N^2`` of [1]_ (equation 4).
    The p-value is interpolated, as in scipy, by a quadratic fit of ``log(alpha)`` on the tabulated critical
    values of [1]_ (Table 2, ``k - 1 = 1``); outside the table it is **clipped**: a statistic below the 25%
    critical value gets 0.25 and one above the 0.1% critical value gets 0.001 (scipy warns in both cases; this
    function does not, the clipping being documented here). Treat ``p_value == 0.25`` as ``>= 0.25`` and
    ``p_value == 0.001`` as ``<= 0.001``. scipy 1.17 deprecates ``midrank=`` in favour of ``variant='midrank'``
    (same statistic and p-value).

    References
    ----------
    .. [1] F. W. Scholz and M. A. Stephens, "K-sample Anderson-Darling tests", Journal of the American
       Statistical Association 82(399), 918-924, 1987.

    Examples
    --------
    >>> import numpy as np
    >>> from driftloop.stats import anderson_darling_sorted
    >>> rng = np.random.default_rng(0)
    >>> reference = np.sort(rng.normal(size=200))
    >>> window = np.sort(rng.normal(0.3, 1.0, size=150))
    >>> result = anderson_darling_sorted(reference, window)
    >>> round(result.statistic, 4), round(result.p_value, 4)
    (0.3633, 0.2365)
    """
    if merged is None:
        merged = merge_ecdfs(reference, window, check=check)
    n, m = merged.n_reference, merged.n_window
    total = n + m
    if total < 4:
        raise ValueError(f"reference and window must hold at least 4 values together; got {n} + {m} = {total}")
    if merged.values.size < 2:
        raise ValueError(
            "reference and window must hold at least 2 distinct values together; "
            f"got only {float(merged.values[0])!r}"
        )
    pooled = (merged.reference_cdf + merged.window_cdf).astype(np.float64)
    ties = np.diff(pooled, prepend=0.0)
    b = pooled - ties / 2.0
    denominator = b * (total - b) - total * ties / 4.0
    a2 = 0.0
    for size, cdf in ((n, merged.reference_cdf), (m, merged.window_cdf)):
        own = cdf.astype(np.float64)
        mid = own - np.diff(own, prepend=0.0) / 2.0
        a2 += float(np.sum(ties / total * (total * mid - b * size) ** 2 / denominator)) / size
    a2 *= (total - 1.0) / total
    statistic = (a2 - 1.0) / math.sqrt(_variance(n, m))
    return ADResult(statistic, _p_value(statistic))


@functools.lru_cache(maxsize=256)
def _variance(n: int, m: int) -> float:
    """Exact variance of A2akN under the null for k = 2 samples (Scholz & Stephens, equation 4)."""
    total, k = n + m, 2
    big_h = 1.0 / n + 1.0 / m
    tail = np.cumsum(1.0 / np.arange(total - 1, 1, -1))  # sum_{i=N-j}^{N-1} 1/i for j = 1 .. N-2
    h = float(tail[-1]) + 1.0  # sum_{i=1}^{N-1} 1/i
    g = float(np.sum(tail / np.arange(2, total)))  # sum_{i=1}^{N-2} sum_{j=i+1}^{N-1} 1/((N-i) j)
    a = (4 * g - 6) * (k - 1) + (10 - 6 * g) * big_h
    b = (2 * g - 4) * k**2 + 8 * h * k + (2 * g - 14 * h - 4) * big_h - 8 * h + 4 * g - 6
    c = (6 * h + 2 * g - 2) * k**2 + (4 * h - 4 * g + 6) * k + (2 * h - 6) * big_h + 4 * h
    d = (2 * h + 6) * k**2 - 4 * h * k
    return (a * total**3 + b * total**2 + c * total + d) / ((total - 1.0) * (total - 2.0) * (total - 3.0))


def _p_value(statistic: float) -> float:
    if statistic < CRITICAL_VALUES.min():
        return float(SIGNIFICANCE_LEVELS.max())
    if statistic > CRITICAL_VALUES.max():
        return float(SIGNIFICANCE_LEVELS.min())
    fit = np.polyfit(CRITICAL_VALUES, np.log(SIGNIFICANCE_LEVELS), 2)
    return math.exp(float(np.polyval(fit, statistic)))

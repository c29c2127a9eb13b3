r"""Exact-rank quantile summary of a large sorted reference, with its error on KS and Wasserstein-1 measured exactly.

Above ``max_exact_size`` finite values, a numeric column keeps :math:`m` order statistics instead of all :math:`n`
values: the values of (1-based) ranks :math:`r_i = \lceil (i - \tfrac12)\, n / m \rceil`, :math:`i = 1..m`, each
standing for :math:`1/m` of the reference. Let :math:`\hat F` be the empirical CDF of the summary and :math:`F` that
of the reference. Because the kept ranks are exact (no sketch, no interpolation),

* :math:`\varepsilon_{KS} = \sup_x |F(x) - \hat F(x)| \le \tfrac{1}{2m} + \tfrac1n`, and
* :math:`\varepsilon_{W} = W_1(F, \hat F) = \int |F - \hat F|\,dx \le (\max - \min)\,\varepsilon_{KS}`.

Both are computed exactly when the summary is built (the whole reference is at hand then) and stored with it. By the
triangle inequality, for any window :math:`G`,
:math:`|\mathrm{KS}(F, G) - \mathrm{KS}(\hat F, G)| \le \varepsilon_{KS}` and
:math:`|W_1(F, G) - W_1(\hat F, G)| \le \varepsilon_{W}`. Bin counts, mean, standard deviation, minimum and maximum
are always computed on the full reference, so PSI and the binned statistics stay exact.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

from driftloop.errors import invalid_parameter


class QuantileSummary(NamedTuple):
    """``values``: the kept order statistics (sorted); ``n``: the size of the summarised reference; the two bounds."""

    values: NDArray[np.float64]
    n: int
    ks_error: float
    wasserstein_error: float


def summary_ranks(n: int, m: int) -> NDArray[np.int64]:
    """0-based ranks kept when ``m`` of ``n`` sorted values are kept.

    >>> summary_ranks(10, 5).tolist()
    [0, 2, 4, 6, 8]
    """
    i = np.arange(1, m + 1, dtype=np.float64)
    return (np.ceil((i - 0.5) * n / m).astype(np.int64) - 1).clip(0, n - 1)


def ks_gap(sorted_reference: NDArray[np.float64], summary: NDArray[np.float64]) -> float:
    """Exact :math:`\\sup_x |F(x) - \\hat F(x)|` between two sorted samples (evaluated at every jump point)."""
    points = np.concatenate([sorted_reference, summary])
    f = np.searchsorted(sorted_reference, points, side="right") / len(sorted_reference)
    g = np.searchsorted(summary, points, side="right") / len(summary)
    return float(np.max(np.abs(f - g)))


def wasserstein_gap(sorted_reference: NDArray[np.float64], summary: NDArray[np.float64]) -> float:
    """Exact :math:`\\int |F - \\hat F|\\,dx` between two sorted samples."""
    points = np.concatenate([sorted_reference, summary])
    points.sort()
    widths = np.diff(points)
    f = np.searchsorted(sorted_reference, points[:-1], side="right") / len(sorted_reference)
    g = np.searchsorted(summary, points[:-1], side="right") / len(summary)
    return float(np.sum(np.abs(f - g) * widths))


def quantile_summary(sorted_values: NDArray[np.float64], size: int) -> QuantileSummary:
    """Keep ``size`` exact order statistics of ``sorted_values`` and measure the error bounds.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.sort(np.random.default_rng(0).normal(size=100_000))
    >>> s = quantile_summary(x, 1000)
    >>> len(s.values), s.ks_error <= 1 / 2000 + 1 / 100_000, round(s.wasserstein_error, 5)
    (1000, True, 0.00196)
    """
    n = len(sorted_values)
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
        raise invalid_parameter("size", "quantile_summary", "a positive integer", size)
    if n <= size:
        return QuantileSummary(np.asarray(sorted_values, dtype=np.float64), n, 0.0, 0.0)
    kept = np.ascontiguousarray(sorted_values[summary_ranks(n, int(size))], dtype=np.float64)
    return QuantileSummary(kept, n, ks_gap(sorted_values, kept), wasserstein_gap(sorted_values, kept))

"""Benjamini–Hochberg control of the false discovery rate across the tests of one window."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from driftloop.errors import invalid_parameter


class BHResult(NamedTuple):
    """Outcome of :func:`benjamini_hochberg`.

    ``rejected`` is True where the hypothesis is rejected (False where the p-value was NaN); ``cutoff`` is the
    p-value threshold the procedure settled on (a p-value is rejected iff it is ``<= cutoff``); ``adjusted`` are the
    BH-adjusted p-values (equal to :func:`scipy.stats.false_discovery_control`, NaN kept as NaN).
    """

    rejected: NDArray[np.bool_]
    cutoff: float
    adjusted: NDArray[np.float64]


def benjamini_hochberg(p_values: ArrayLike, alpha: float) -> BHResult:
    r"""Benjamini–Hochberg step-up procedure at false discovery rate ``alpha``; NaN p-values are left out.

    Parameters
    ----------
    p_values
        One p-value per test; NaN marks a test that could not be computed (it is neither counted nor rejected).
    alpha
        Target false discovery rate in (0, 1). Under the global null (nothing drifted) BH also bounds the chance of
        flagging anything at all by ``alpha``.

    Notes
    -----
    With the :math:`m` finite p-values sorted, :math:`p_{(1)} \le \dots \le p_{(m)}`, let
    :math:`k^* = \max\{k : p_{(k)} \le \alpha k / m\}`. All hypotheses with :math:`p \le \alpha k^* / m` are rejected.
    The reported ``cutoff`` is :math:`\alpha \max(k^*, 1) / m`: when nothing is rejected it is the smallest cutoff
    the procedure would have used, so ``p <= cutoff`` reproduces the decision for every test.

    References
    ----------
    Benjamini, Y. and Hochberg, Y. (1995). Controlling the false discovery rate: a practical and powerful approach
    to multiple testing. J. R. Stat. Soc. B 57(1), 289-300.

    Examples
    --------
    >>> r = benjamini_hochberg([0.001, 0.02, 0.03, 0.5, float("nan")], alpha=0.05)
    >>> r.rejected.tolist(), round(r.cutoff, 4)
    ([True, True, True, False, False], 0.0375)
    >>> [round(float(p), 4) for p in r.adjusted]
    [0.004, 0.04, 0.04, 0.5, nan]
    """
    if not (isinstance(alpha, (int, float)) and 0.0 < float(alpha) < 1.0):
        raise invalid_parameter("alpha", "benjamini_hochberg", "a number in (0, 1)", alpha)
    p = np.asarray(p_values, dtype=np.float64).ravel()
    finite = ~np.isnan(p)
    m = int(finite.sum())
    rejected = np.zeros(p.shape, dtype=bool)
    adjusted = np.full(p.shape, np.nan)
    if m == 0:
        return BHResult(rejected, float("nan"), adjusted)
    q = p[finite]
    order = np.argsort(q, kind="stable")
    ranked = q[order]
    ranks = np.arange(1, m + 1)
    below = np.nonzero(ranked <= alpha * ranks / m)[0]
    k_star = int(below[-1]) + 1 if below.size else 0
    cutoff = float(alpha) * max(k_star, 1) / m
    rejected[finite] = q <= cutoff if k_star else False
    adj_sorted = np.minimum.accumulate((ranked * m / ranks)[::-1])[::-1]
    adj = np.empty(m)
    adj[order] = np.minimum(adj_sorted, 1.0)
    adjusted[finite] = adj
    return BHResult(rejected, cutoff, adjusted)

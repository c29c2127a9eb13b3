"""Population stability index between two aligned count vectors."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from driftloop.stats._validation import check_epsilon, count_vectors, proportions

DEFAULT_EPSILON = 1e-4
"""Default floor of a bin's proportion: a bin empty on one side counts as holding 0.01% of that side."""


def psi(reference_counts: ArrayLike, window_counts: ArrayLike, *, epsilon: float = DEFAULT_EPSILON) -> float:
    """Population stability index (PSI) of a window against the reference, from aligned bin counts.

    Parameters
    ----------
    reference_counts : array_like
        Counts (or weights) per bin of the reference: 1-D, finite, non-negative, positive total. Bins are those
        fixed on the reference, including the underflow and overflow bins, or a category table.
    window_counts : array_like
        Counts of the window in the same bins, same length.
    epsilon : float, default 1e-4
        Floor applied to every proportion before the logarithm, in [0, 1). A bin that is empty on one side
        contributes a large but finite term ``(q - eps) ln(q / eps)`` instead of infinity. Proportions are
        floored, not renormalised (the usual PSI convention). With ``epsilon=0`` such a bin gives ``inf``.

    Returns
    -------
    float
        ``PSI >= 0``; 0 when the proportions are equal. A bin empty on both sides contributes 0.

    Raises
    ------
    ValueError
        If the counts are not aligned 1-D non-negative vectors with positive totals, or ``epsilon`` is outside
        [0, 1).

    Notes
    -----
    With reference proportions ``p_b``, window proportions ``q_b`` and ``p'_b = max(p_b, eps)``,
    ``q'_b = max(q_b, eps)``:

    .. math:: \\mathrm{PSI} = \\sum_b (q'_b - p'_b) \\ln \\frac{q'_b}{p'_b},

    the symmetrised Kullback–Leibler divergence ``KL(q' || p') + KL(p' || q')`` of the floored proportions.
    Every term is non-negative. The rule of thumb of [1]_ reads 0.1 as a moderate and 0.25 as a large shift;
    driftloop calibrates its thresholds on the reference instead.

    References
    ----------
    .. [1] N. Siddiqi, *Credit Risk Scorecards: Developing and Implementing Intelligent Credit Scoring*,
       Wiley, 2006, chapter 8.
    .. [2] B. Yurdakul, "Statistical properties of population stability index", PhD thesis, Western Michigan
       University, 2018.

    Examples
    --------
    >>> import numpy as np
    >>> from driftloop.stats import psi
    >>> rng = np.random.default_rng(0)
    >>> reference_counts = rng.multinomial(1000, [0.2, 0.3, 0.5])
    >>> window_counts = rng.multinomial(1000, [0.3, 0.3, 0.4])
    >>> reference_counts.tolist(), window_counts.tolist()
    ([176, 310, 514], [305, 295, 400])
    >>> round(psi(reference_counts, window_counts), 6)
    0.100258
    """
    eps = check_epsilon(epsilon)
    ref, win = count_vectors(reference_counts, window_counts)
    p = np.maximum(proportions(ref), eps)
    q = np.maximum(proportions(win), eps)
    both_empty = (p == 0.0) & (q == 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = (q - p) * (np.log(q) - np.log(p))
    terms[both_empty] = 0.0
    return float(terms.sum())

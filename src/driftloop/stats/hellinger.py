"""Hellinger distance between two aligned count vectors."""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

from driftloop.stats._validation import count_vectors, proportions


def hellinger(reference_counts: ArrayLike, window_counts: ArrayLike) -> float:
    """Hellinger distance between the reference and window proportions.

    Parameters
    ----------
    reference_counts : array_like
        Counts per bin (or category) of the reference: 1-D, finite, non-negative, positive total.
    window_counts : array_like
        Counts of the window in the same bins, same length.

    Returns
    -------
    float
        ``H`` in [0, 1]: 0 for equal proportions, 1 for disjoint supports.

    Raises
    ------
    ValueError
        If the counts are not aligned 1-D non-negative vectors with positive totals.

    Notes
    -----
    .. math:: H(p, q) = \\frac{1}{\\sqrt 2} \\Big\\| \\sqrt p - \\sqrt q \\Big\\|_2
       = \\sqrt{1 - \\sum_b \\sqrt{p_b q_b}}

    computed in the first form, which does not cancel when ``p`` and ``q`` are close. No epsilon is needed:
    empty bins are fine.

    References
    ----------
    .. [1] E. Hellinger, "Neue Begründung der Theorie quadratischer Formen von unendlichvielen
       Veränderlichen", Journal für die reine und angewandte Mathematik 136, 210-271, 1909.

    Examples
    --------
    >>> from driftloop.stats import hellinger
    >>> round(hellinger([50, 30, 20], [40, 30, 30]), 6)
    0.088529
    >>> hellinger([1, 0], [0, 1])
    1.0
    """
    ref, win = count_vectors(reference_counts, window_counts)
    diff = np.sqrt(proportions(ref)) - np.sqrt(proportions(win))
    return min(math.sqrt(float(diff @ diff) / 2.0), 1.0)

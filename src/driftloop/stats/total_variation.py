"""Total variation distance between two aligned count vectors."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from driftloop.stats._validation import count_vectors, proportions


def total_variation(reference_counts: ArrayLike, window_counts: ArrayLike) -> float:
    """Total variation distance between the reference and window proportions.

    Parameters
    ----------
    reference_counts : array_like
        Counts per bin (or category) of the reference: 1-D, finite, non-negative, positive total.
    window_counts : array_like
        Counts of the window in the same bins, same length.

    Returns
    -------
    float
        ``TV`` in [0, 1]: the largest difference in probability that the two distributions give to any set of
        bins, i.e. the share of the window that would have to move to match the reference.

    Raises
    ------
    ValueError
        If the counts are not aligned 1-D non-negative vectors with positive totals.

    Notes
    -----
    .. math:: \\mathrm{TV}(p, q) = \\frac12 \\sum_b |p_b - q_b| = \\max_{S} |p(S) - q(S)|.

    References
    ----------
    .. [1] D. A. Levin, Y. Peres and E. L. Wilmer, *Markov Chains and Mixing Times*, AMS, 2009, section 4.1.

    Examples
    --------
    >>> from driftloop.stats import total_variation
    >>> round(total_variation([50, 30, 20], [40, 30, 30]), 6)
    0.1
    """
    ref, win = count_vectors(reference_counts, window_counts)
    return min(float(np.abs(proportions(ref) - proportions(win)).sum() / 2.0), 1.0)  # rounding: 1 + 2**-52

"""L-infinity distance between two aligned count vectors: the largest change of one category's share."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from driftloop.stats._validation import count_vectors, proportions


def l_infinity(reference_counts: ArrayLike, window_counts: ArrayLike) -> float:
    """Largest absolute difference between the reference and window proportions of one bin or category.

    Parameters
    ----------
    reference_counts : array_like
        Counts per bin (or category) of the reference: 1-D, finite, non-negative, positive total.
    window_counts : array_like
        Counts of the window in the same bins, same length.

    Returns
    -------
    float
        ``L_inf`` in [0, 1].

    Raises
    ------
    ValueError
        If the counts are not aligned 1-D non-negative vectors with positive totals.

    Notes
    -----
    .. math:: L_\\infty(p, q) = \\max_b |p_b - q_b|.

    Unlike total variation it does not grow with the number of categories that move a little, and it points
    at one category (the argmax) that can be reported.

    References
    ----------
    .. [1] Evidently AI, "Data drift: L-infinity distance for categorical features",
       https://docs.evidentlyai.com, 2023.

    Examples
    --------
    >>> from driftloop.stats import l_infinity
    >>> round(l_infinity([50, 30, 20], [40, 30, 30]), 6)
    0.1
    """
    ref, win = count_vectors(reference_counts, window_counts)
    return min(float(np.abs(proportions(ref) - proportions(win)).max()), 1.0)

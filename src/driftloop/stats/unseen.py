"""Share of the window that falls in categories the reference never saw."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

from driftloop.stats._validation import count_vector, count_vectors


def unseen_share(window_counts: ArrayLike, unseen_index: int | Sequence[int]) -> float:
    """Share of window rows counted in the "unseen" slot(s) of a category table.

    Parameters
    ----------
    window_counts : array_like
        Counts per category of the window, in the order of the reference's category table: 1-D, finite,
        non-negative, positive total.
    unseen_index : int or sequence of int
        Position(s) of the slot(s) that collect window values absent from the reference (usually one slot,
        the last). Negative positions count from the end, as in numpy.

    Returns
    -------
    float
        The share in [0, 1].

    Raises
    ------
    ValueError
        If ``window_counts`` is not a 1-D non-negative vector with a positive total, or an index is out of
        range.

    Notes
    -----
    .. math:: u = \\frac{\\sum_{c \\in U} q_c}{\\sum_c q_c}

    with ``U`` the unseen slot(s) and ``q`` the window counts. A new category is the bluntest kind of drift: the
    model never saw it. See :func:`absent_share` for tables without a dedicated slot.

    References
    ----------
    .. [1] E. Breck et al., "Data validation for machine learning", Proceedings of SysML, 2019 (schema drift:
       new values of a categorical feature).

    Examples
    --------
    >>> from driftloop.stats import unseen_share
    >>> unseen_share([40, 50, 10], unseen_index=-1)
    0.1
    """
    counts = count_vector("window_counts", window_counts)
    indices = np.atleast_1d(np.asarray(unseen_index))
    if indices.ndim != 1 or (indices.size and not np.issubdtype(indices.dtype, np.integer)):
        raise ValueError(f"unseen_index must be an int or a sequence of ints; got {unseen_index!r}")
    out_of_range = (indices >= counts.size) | (indices < -counts.size)
    if out_of_range.any():
        raise ValueError(
            f"unseen_index must be within [-{counts.size}, {counts.size - 1}] for {counts.size} categories; "
            f"got {unseen_index!r}"
        )
    slots = np.unique(indices % counts.size)
    return float(counts[slots].sum() / counts.sum())


def absent_share(reference_counts: ArrayLike, window_counts: ArrayLike) -> float:
    """Share of window rows in categories whose reference count is zero.

    Parameters
    ----------
    reference_counts : array_like
        Counts per category of the reference: 1-D, finite, non-negative, positive total.
    window_counts : array_like
        Counts of the window in the same categories, same length.

    Returns
    -------
    float
        The share in [0, 1]; an "unseen" slot (reference count 0 by construction) is included.

    Raises
    ------
    ValueError
        If the counts are not aligned 1-D non-negative vectors with positive totals.

    Notes
    -----
    .. math:: u = \\frac{\\sum_{c : p_c = 0} q_c}{\\sum_c q_c}.

    References
    ----------
    .. [1] E. Breck et al., "Data validation for machine learning", Proceedings of SysML, 2019.

    Examples
    --------
    >>> from driftloop.stats import absent_share
    >>> absent_share([60, 40, 0], [40, 50, 10])
    0.1
    """
    ref, win = count_vectors(reference_counts, window_counts)
    return float(win[ref == 0].sum() / win.sum())

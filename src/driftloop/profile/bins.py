"""Bin edges fixed on the reference, with an underflow and an overflow bin, and counts from sorted values."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray


def quantile_edges(sorted_values: NDArray[np.float64], n_bins: int) -> NDArray[np.float64]:
    """Edges at the reference quantiles ``0, 1/n_bins, ..., 1`` (observed values, ``inverted_cdf``; duplicates removed,
    so ties give fewer bins).

    The values being sorted, the quantile :math:`q` is read at index :math:`\lceil q n \rceil - 1` (at least 0):
    ``numpy.quantile(sorted_values, q, method="inverted_cdf")`` without its O(n) partition (the calibration computes
    edges for every draw).

    >>> quantile_edges(np.arange(11.0), 5).tolist()
    [0.0, 2.0, 4.0, 6.0, 8.0, 10.0]
    >>> quantile_edges(np.array([1.0, 1.0, 1.0, 2.0]), 4).tolist()
    [1.0, 2.0]
    """
    return np.unique(sorted_values[quantile_ranks(len(sorted_values), n_bins)])


def quantile_ranks(n: int, n_bins: int) -> NDArray[np.int64]:
    """The 0-based ranks (in a sorted sample of ``n`` values) of the edges of :func:`quantile_edges`.

    >>> quantile_ranks(11, 5).tolist()
    [0, 2, 4, 6, 8, 10]
    """
    index = np.ceil(np.linspace(0.0, 1.0, n_bins + 1) * n).astype(np.int64) - 1
    return np.clip(index, 0, n - 1)


def bin_counts(sorted_values: NDArray[np.float64], edges: NDArray[np.float64]) -> NDArray[np.int64]:
    """Counts per bin: ``(-inf, e0)``, ``[e0, e1)``, ..., ``[e(k-1), ek]``, ``(ek, +inf)`` — underflow, k bins, overflow.

    One ``searchsorted`` of the ``k + 1`` edges into the sorted values: O(k log n), independent of n otherwise.
    A single edge (constant reference) gives three bins: below, equal, above.

    >>> bin_counts(np.array([-5.0, 0.0, 1.0, 1.5, 2.0, 9.0]), np.array([0.0, 1.0, 2.0])).tolist()
    [1, 1, 3, 1]
    >>> bin_counts(np.array([0.0, 3.0, 3.0, 4.0]), np.array([3.0])).tolist()
    [1, 2, 1]
    """
    n = len(sorted_values)
    if len(edges) == 1:
        inner = np.searchsorted(sorted_values, [edges[0], edges[0]], side="left")
        inner[1] = np.searchsorted(sorted_values, edges[0], side="right")
    else:
        inner = np.empty(len(edges), dtype=np.int64)
        inner[:-1] = np.searchsorted(sorted_values, edges[:-1], side="left")
        inner[-1] = np.searchsorted(sorted_values, edges[-1], side="right")
    return np.diff(np.concatenate([[0], inner, [n]])).astype(np.int64)

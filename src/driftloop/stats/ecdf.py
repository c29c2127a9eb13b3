"""The shared kernel of the numeric two-sample statistics: both empirical CDFs on the pooled distinct values."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from driftloop.stats._validation import sorted_sample


class MergedECDF(NamedTuple):
    """Two sorted samples merged: their empirical CDFs, as counts, at every distinct pooled value.

    Attributes
    ----------
    values : numpy.ndarray
        The distinct values of the pooled sample, float64, strictly ascending, shape ``(K,)``.
    reference_cdf : numpy.ndarray
        ``reference_cdf[k]`` is the number of reference values ``<= values[k]`` (int64, non-decreasing).
    window_cdf : numpy.ndarray
        ``window_cdf[k]`` is the number of window values ``<= values[k]`` (int64, non-decreasing).
    n_reference : int
        Size of the reference sample (``reference_cdf[-1]``).
    n_window : int
        Size of the window sample (``window_cdf[-1]``).
    """

    values: NDArray[np.float64]
    reference_cdf: NDArray[np.int64]
    window_cdf: NDArray[np.int64]
    n_reference: int
    n_window: int

    def reference_counts(self) -> NDArray[np.int64]:
        """How many reference values equal each distinct pooled value."""
        return np.diff(self.reference_cdf, prepend=0)

    def window_counts(self) -> NDArray[np.int64]:
        """How many window values equal each distinct pooled value."""
        return np.diff(self.window_cdf, prepend=0)


def merge_ecdfs(reference: ArrayLike, window: ArrayLike, *, check: bool = True) -> MergedECDF:
    """Merge two sorted samples into their empirical CDFs evaluated at every distinct pooled value.

    Parameters
    ----------
    reference : array_like
        The reference sample: 1-D, finite, sorted ascending, not empty.
    window : array_like
        The window sample: 1-D, finite, sorted ascending, not empty.
    check : bool, default True
        Verify that both samples are finite and sorted (two O(n) passes each). Callers that sorted the samples
        themselves (with :func:`~driftloop.stats.sort_finite`) pass ``False``.

    Returns
    -------
    MergedECDF
        The distinct pooled values ``z_1 < ... < z_K`` and the counts ``n F(z_k)`` and ``m G(z_k)``.

    Raises
    ------
    ValueError
        If a sample is empty, not 1-D, or (with ``check``) not finite or not sorted.

    Notes
    -----
    With ``F`` the empirical CDF of the reference (size ``n``) and ``G`` that of the window (size ``m``), every
    two-sample statistic of this package that works on values is a function of the step functions ``F - G``,
    which change only at the pooled distinct values ``z_k``:

    .. math:: F(z_k) = \\#\\{i : x_i \\le z_k\\} / n, \\qquad G(z_k) = \\#\\{j : y_j \\le z_k\\} / m.

    The merge concatenates the two sorted runs and applies a *stable* argsort; numpy's stable sort is timsort,
    which detects the two ascending runs and merges them in one linear pass (O(n + m) comparisons, no binary
    search), with reference values placed before equal window values. A running count of the reference labels
    gives ``n F``; ``m G`` is the position minus that count. Ties, within or across the samples, are collapsed to
    the last position of each run of equal values, so that the counts are those of ``<=``.

    References
    ----------
    .. [1] T. Peters, "listsort.txt: the timsort algorithm", CPython source, 2002.
    .. [2] G. R. Shorack and J. A. Wellner, *Empirical Processes with Applications to Statistics*, Wiley, 1986,
       chapter 3 (empirical distribution functions).

    Examples
    --------
    >>> import numpy as np
    >>> from driftloop.stats import merge_ecdfs
    >>> rng = np.random.default_rng(0)
    >>> reference = np.sort(rng.integers(0, 4, size=6).astype(float))
    >>> window = np.sort(rng.integers(0, 4, size=4).astype(float))
    >>> reference.tolist(), window.tolist()
    ([0.0, 1.0, 1.0, 2.0, 2.0, 3.0], [0.0, 0.0, 0.0, 3.0])
    >>> merged = merge_ecdfs(reference, window)
    >>> merged.values.tolist(), merged.reference_cdf.tolist(), merged.window_cdf.tolist()
    ([0.0, 1.0, 2.0, 3.0], [1, 3, 5, 6], [3, 3, 3, 4])
    """
    ref = sorted_sample("reference", reference, check=check)
    win = sorted_sample("window", window, check=check)
    n_ref = ref.size
    pooled = np.concatenate((ref, win))
    order = np.argsort(pooled, kind="stable")
    values = pooled[order]
    del pooled
    reference_cdf = np.cumsum(order < n_ref, dtype=np.int64)
    del order
    last = np.empty(values.size, dtype=bool)
    np.not_equal(values[1:], values[:-1], out=last[:-1])
    last[-1] = True
    if last.all():
        window_cdf = np.arange(1, values.size + 1, dtype=np.int64)
        window_cdf -= reference_cdf
    else:
        ends = np.flatnonzero(last)
        values = values[ends]
        reference_cdf = reference_cdf[ends]
        window_cdf = ends + 1
        window_cdf -= reference_cdf
    return MergedECDF(values, reference_cdf, window_cdf.astype(np.int64, copy=False), n_ref, win.size)

"""The shared kernel of the numeric two-sample statistics: both empirical CDFs on the pooled distinct values."""

from __future__ import annotations

from typing import NamedTuple

import numba
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

    The merge is a compiled (numba) two-pointer walk over the two sorted runs, in one pass: each distinct
    pooled value is written with the running positions in each sample, which are ``n F`` and ``m G``. Ties, within or across the samples, are collapsed to one entry per run of equal values, so that
    the counts are those of ``<=``; the value kept is the last of the run in the order of a stable merge
    (reference values before equal window values). O(n + m) time, no memory beyond the result.

    References
    ----------
    .. [1] D. E. Knuth, *The Art of Computer Programming*, vol. 3, 2nd ed., Addison-Wesley, 1998, section 5.2.4
       (merging two sorted sequences).
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
    ref = np.ascontiguousarray(sorted_sample("reference", reference, check=check))
    win = np.ascontiguousarray(sorted_sample("window", window, check=check))
    # Output buffers are allocated here, not inside the compiled kernel, so that numpy's allocator (and
    # tracemalloc) accounts for them; the kernel releases the GIL, so the profile's threads merge in parallel.
    # They are sized for the no-tie case and shrunk in place (realloc) when ties collapse entries.
    total = ref.size + win.size
    values = np.empty(total, dtype=np.float64)
    reference_cdf = np.empty(total, dtype=np.int64)
    window_cdf = np.empty(total, dtype=np.int64)
    size = int(_merge_into(ref, win, values, reference_cdf, window_cdf))
    if size < total:
        for array in (values, reference_cdf, window_cdf):
            array.resize(size, refcheck=False)
    return MergedECDF(values, reference_cdf, window_cdf, ref.size, win.size)


@numba.njit(cache=True, nogil=True)
def _merge_into(
    ref: NDArray[np.float64],
    win: NDArray[np.float64],
    values: NDArray[np.float64],
    reference_cdf: NDArray[np.int64],
    window_cdf: NDArray[np.int64],
) -> int:  # pragma: no cover - compiled
    """Fill the distinct pooled values and both cumulative counts, in one linear two-pointer pass.

    Equal values (``==``, within or across the samples) form one run; the value kept is the last of the run in
    the stable merged order (reference values before equal window values), as a stable sort would give.
    Returns the number of distinct values written.
    """
    n, m = ref.size, win.size
    i = j = k = 0
    while i < n and j < m:
        a = ref[i]
        b = win[j]
        if a < b:
            last = a
            i += 1
            while i < n and ref[i] == a:
                last = ref[i]
                i += 1
        elif b < a:
            last = b
            j += 1
            while j < m and win[j] == b:
                last = win[j]
                j += 1
        else:
            i += 1
            while i < n and ref[i] == a:
                i += 1
            last = b
            j += 1
            while j < m and win[j] == b:
                last = win[j]
                j += 1
        values[k] = last
        reference_cdf[k] = i
        window_cdf[k] = j
        k += 1
    while i < n:
        a = ref[i]
        last = a
        i += 1
        while i < n and ref[i] == a:
            last = ref[i]
            i += 1
        values[k] = last
        reference_cdf[k] = i
        window_cdf[k] = m
        k += 1
    while j < m:
        b = win[j]
        last = b
        j += 1
        while j < m and win[j] == b:
            last = win[j]
            j += 1
        values[k] = last
        reference_cdf[k] = n
        window_cdf[k] = j
        k += 1
    return k

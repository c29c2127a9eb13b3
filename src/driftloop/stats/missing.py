"""Missing and non-finite values: counted apart, removed before any statistic, the rest sorted once."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from driftloop.stats._validation import as_float_vector


class SortedSample(NamedTuple):
    """A numeric sample ready for the two-sample statistics.

    Attributes
    ----------
    values : numpy.ndarray
        The finite values, float64, sorted ascending.
    n_missing : int
        How many values were NaN (missing).
    n_nonfinite : int
        How many values were +inf or -inf (present, but unusable by a statistic).
    """

    values: NDArray[np.float64]
    n_missing: int
    n_nonfinite: int


def sort_finite(values: ArrayLike) -> SortedSample:
    """Split a numeric sample into its sorted finite values, a count of NaN and a count of infinities.

    Parameters
    ----------
    values : array_like
        A 1-D numeric sample; anything numpy reads as float64.

    Returns
    -------
    SortedSample
        ``values`` (finite, float64, ascending), ``n_missing`` (NaN) and ``n_nonfinite`` (+inf and -inf).

    Raises
    ------
    ValueError
        If ``values`` is not 1-D or cannot be read as float64.

    Notes
    -----
    NaN is treated as *missing* and infinities as *non-finite*; both are reported apart and neither ever reaches a
    statistic, so that ``len(values) == len(result.values) + n_missing + n_nonfinite``. The sort is numpy's default
    (introsort, vectorised on x86), done once per sample; the two-sample statistics then merge sorted samples
    in linear time.

    References
    ----------
    .. [1] IEEE 754-2019, *Standard for Floating-Point Arithmetic*, section 6.2 (NaN) and 6.1 (infinities).

    Examples
    --------
    >>> import numpy as np
    >>> from driftloop.stats import sort_finite
    >>> rng = np.random.default_rng(0)
    >>> raw = np.append(rng.integers(0, 5, size=5).astype(float), [np.nan, np.inf, -np.inf])
    >>> sample = sort_finite(raw)
    >>> sample.values.tolist(), sample.n_missing, sample.n_nonfinite
    ([1.0, 1.0, 2.0, 3.0, 4.0], 1, 2)
    """
    array = as_float_vector("values", values)
    finite = np.isfinite(array)
    n_finite = int(np.count_nonzero(finite))
    if n_finite == array.size:
        return SortedSample(np.sort(array), 0, 0)
    n_missing = int(np.count_nonzero(np.isnan(array)))
    return SortedSample(np.sort(array[finite]), n_missing, array.size - n_finite - n_missing)

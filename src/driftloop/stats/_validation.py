"""Argument checks shared by the statistics: sorted finite samples and aligned count vectors.

Every check raises :class:`ValueError` naming the parameter, what was expected and what was received.
The checks of a sorted sample are O(n) and can be skipped by callers in the hot path (``check=False``), who
guarantee the contract themselves (the profile sorts the reference once and each window once).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]


def as_float_vector(name: str, values: ArrayLike) -> FloatArray:
    """``values`` as a 1-D float64 array (no copy when it already is one), or a ValueError naming ``name``.

    Text is refused even when it looks like numbers: a string in a numeric column is an input error.
    """
    if not isinstance(values, np.ndarray):
        values = np.asarray(values)
    if values.dtype.kind in "USV":
        raise ValueError(f"{name} must be a 1-D array of numbers; got text or bytes (dtype {values.dtype})")
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"{name} must be a 1-D array of numbers; got {type(values).__name__} that cannot be read as float64 "
            f"({error})"
        ) from None
    if array.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array; got an array of shape {array.shape}")
    return array


def sorted_sample(name: str, values: ArrayLike, *, check: bool, min_size: int = 1) -> FloatArray:
    """Return ``values`` as a 1-D float64 array, checking size, and (when ``check``) finiteness and order.

    Parameters
    ----------
    name : str
        The parameter's name, used in the error message.
    values : array_like
        The sample, expected sorted ascending and finite.
    check : bool
        Verify finiteness and order (two O(n) passes). The size is always checked.
    min_size : int, default 1
        Smallest accepted number of values.
    """
    array = as_float_vector(name, values)
    if array.size < min_size:
        if array.size == 0:
            raise ValueError(f"{name} must not be empty; got an empty array")
        raise ValueError(f"{name} must have at least {min_size} values; got {array.size}")
    if check:
        finite = np.isfinite(array)
        if not finite.all():
            n_nan = int(np.isnan(array).sum())
            n_inf = int(array.size - finite.sum()) - n_nan
            raise ValueError(
                f"{name} must contain only finite values; got {n_nan} NaN and {n_inf} infinite value(s) "
                "(pass raw data through driftloop.stats.sort_finite first)"
            )
        decrease = np.flatnonzero(array[1:] < array[:-1])
        if decrease.size:
            i = int(decrease[0])
            raise ValueError(
                f"{name} must be sorted ascending; got {float(array[i])!r} at index {i} "
                f"followed by {float(array[i + 1])!r}"
            )
    return array


def count_vector(name: str, counts: ArrayLike) -> FloatArray:
    """One count vector as float64: 1-D, not empty, finite, non-negative, with a positive total."""
    array = as_float_vector(name, counts)
    if array.size == 0:
        raise ValueError(f"{name} must not be empty; got an empty array")
    if not np.isfinite(array).all():
        i = int(np.flatnonzero(~np.isfinite(array))[0])
        raise ValueError(f"{name} must contain only finite counts; got {float(array[i])!r} at index {i}")
    if (array < 0).any():
        i = int(np.flatnonzero(array < 0)[0])
        raise ValueError(f"{name} must be non-negative; got {float(array[i])!r} at index {i}")
    if not array.sum() > 0:
        raise ValueError(f"{name} must have a positive total; got all zeros")
    return array


def count_vectors(reference_counts: ArrayLike, window_counts: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Validate two aligned count vectors (see :func:`count_vector`, plus equal lengths) as float64 arrays."""
    ref = count_vector("reference_counts", reference_counts)
    win = count_vector("window_counts", window_counts)
    if ref.size != win.size:
        raise ValueError(
            f"window_counts must have the same length as reference_counts ({ref.size}); got length {win.size}"
        )
    return ref, win


def proportions(counts: FloatArray) -> FloatArray:
    """Counts divided by their total."""
    return counts / counts.sum()


def check_epsilon(epsilon: float) -> float:
    """``epsilon`` as a float in [0, 1), or a ValueError."""
    value = float(epsilon)
    if not 0.0 <= value < 1.0:
        raise ValueError(f"epsilon must be in [0, 1); got {epsilon!r}")
    return value

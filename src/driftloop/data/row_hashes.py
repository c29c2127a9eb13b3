"""One 64-bit hash per row of a table, equal to pandas' ``hash_pandas_object(frame, index=False)``, with one
compiled pass per numeric column.

pandas hashes each cell, then combines a row's cell hashes as CPython's tuple hash does [1]_:

- a cell of a 64-bit number column (float, integer, date-time) is its bit pattern ``x`` as an unsigned integer
  (a float's NaN as NumPy's NaN, ``-0.0`` as ``0.0``), mixed by the finaliser of splitmix64 [2]_:
  ``x ^= x >> 30; x *= 0xBF58476D1CE4E5B9; x ^= x >> 27; x *= 0x94D049BB133111EB; x ^= x >> 31``;
- the row hash of cell hashes ``h_0 .. h_{k-1}`` is ``out = 0x345678``, then for ``i = 0 .. k-1``:
  ``out = (out ^ h_i) * m_i`` with ``m_0 = 1000003``, ``m_{i+1} = m_i + 82520 + 2 (k - i)``; finally
  ``out + 97531`` (all modulo 2**64).

pandas computes each step as a separate pass over the column (a dozen for a float column); here a numeric
column's cells are canonicalised, mixed and folded into the row hashes in one compiled pass
(:func:`_fold_numbers`). Other columns (text, categories, booleans, nullable and time-zone-aware types) are hashed
by pandas itself (:func:`pandas.util.hash_pandas_object` of the column) and folded in the same way (:func:`_fold_hashes`), so the result
equals pandas' for every column type (``tests/data/test_row_hashes.py`` checks it against pandas).

References
----------
.. [1] CPython, ``Objects/tupleobject.c`` (``tuplehash``, before Python 3.8); pandas,
   ``pandas/core/util/hashing.py`` (``combine_hash_arrays``, ``_hash_ndarray``).
.. [2] S. Vigna, "splitmix64.c", https://prng.di.unimi.it/splitmix64.c (2015).
"""

from __future__ import annotations

import numba
import numpy as np
import pandas as pd
from numpy.typing import NDArray

_START = np.uint64(0x345678)
_END = np.uint64(97531)
_FIRST_MULTIPLIER = 1000003
_NAN_BITS = np.uint64(np.array(np.nan, dtype=np.float64).view(np.uint64))
_NEGATIVE_ZERO_BITS = np.uint64(np.array(-0.0, dtype=np.float64).view(np.uint64))


def row_hashes(frame: pd.DataFrame) -> NDArray[np.uint64]:
    """The hash of every row of ``frame`` over its columns in order: ``pandas.util.hash_pandas_object(frame,
    index=False)`` (see the module docstring); raises ``TypeError`` where pandas does (unhashable cells).

    >>> frame = pd.DataFrame({"a": [1.5, np.nan, -0.0], "b": ["x", None, "z"], "c": [1, 2, 3]})
    >>> bool((row_hashes(frame) == pd.util.hash_pandas_object(frame, index=False).to_numpy()).all())
    True
    """
    out = np.full(len(frame), _START, dtype=np.uint64)
    count = frame.shape[1]
    if count == 0:
        return out + _END  # pandas: each row hashes as an empty tuple
    multiplier = np.uint64(_FIRST_MULTIPLIER)
    for position in range(count):
        column = frame.iloc[:, position]
        kind = column.dtype.kind if isinstance(column.dtype, np.dtype) and column.dtype.itemsize == 8 else None
        if kind in ("f", "i", "u", "M", "m"):
            _fold_numbers(out, column.to_numpy().view(np.uint64), kind == "f", multiplier)
        else:
            _fold_hashes(out, pd.util.hash_pandas_object(column, index=False).to_numpy(np.uint64), multiplier)
        multiplier += np.uint64(82520 + 2 * (count - position))
    return out + _END


@numba.njit(cache=True, nogil=True)
def _mix(x: np.uint64) -> np.uint64:  # pragma: no cover - compiled
    """The finaliser of splitmix64 (as pandas mixes a number's bits)."""
    x ^= x >> np.uint64(30)
    x *= np.uint64(0xBF58476D1CE4E5B9)
    x ^= x >> np.uint64(27)
    x *= np.uint64(0x94D049BB133111EB)
    x ^= x >> np.uint64(31)
    return x


@numba.njit(cache=True, nogil=True)
def _fold_numbers(out: NDArray[np.uint64], bits: NDArray[np.uint64], is_float: bool,
                  multiplier: np.uint64) -> None:  # pragma: no cover - compiled
    """``out = (out ^ mix(x)) * multiplier`` for the bit patterns ``bits`` of a 64-bit number column (floats
    canonicalised: every NaN as NumPy's NaN, -0.0 as 0.0)."""
    exponent = np.uint64(0x7FF0000000000000)
    fraction = np.uint64(0x000FFFFFFFFFFFFF)
    for row in range(out.size):
        x = bits[row]
        if is_float:
            if (x & exponent) == exponent and (x & fraction) != np.uint64(0):
                x = _NAN_BITS
            elif x == _NEGATIVE_ZERO_BITS:
                x = np.uint64(0)
        out[row] = (out[row] ^ _mix(x)) * multiplier


@numba.njit(cache=True, nogil=True)
def _fold_hashes(out: NDArray[np.uint64], hashes: NDArray[np.uint64],
                 multiplier: np.uint64) -> None:  # pragma: no cover - compiled
    """``out = (out ^ hash) * multiplier`` for a column hashed by pandas."""
    for row in range(out.size):
        out[row] = (out[row] ^ hashes[row]) * multiplier

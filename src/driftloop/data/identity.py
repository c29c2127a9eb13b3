"""The identity of the data a monitoring run's count windows are cut from: a digest of its first rows.

Windows cut by count are numbered by their place in the data (window ``i`` holds rows ``i*N+1 .. (i+1)*N``), so
they only mean the same thing from pass to pass when each pass reads the same data, grown at its end (a log that
rows are appended to). A monitoring run of count windows records the digest of the data's first ``k`` rows; a
later pass belongs to that run only when its data's first ``k`` rows have the same digest.

The digest covers the values of the given columns (the model's inputs: labels arriving later do not change it), in
sorted column order, in a form that does not depend on how a reader typed them: a numeric column (integers,
floats, booleans) as float64 (so ``7`` read as an integer in one pass and as ``7.0`` once a missing value appears
further down the file digest alike), any other column as text with missing values marked apart.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
import pandas as pd
from pandas.api.types import is_numeric_dtype

DIGEST_HEX_DIGITS = 16
"""Length of a digest (hexadecimal digits of SHA-256): 64 bits, ample to tell data sources apart."""


def rows_digest(frame: pd.DataFrame, columns: Sequence[str], rows: int) -> str:
    """The digest of the first ``rows`` rows of ``frame`` over ``columns`` (those present), see the module docstring.

    >>> a = pd.DataFrame({"x": [1, 2, 3], "c": ["u", "v", None]})
    >>> b = pd.DataFrame({"c": ["u", "v", "w"], "x": [1.0, 2.0, float("nan")], "label": [0, 1, 1]})
    >>> rows_digest(a, ["x", "c"], 2) == rows_digest(b, ["c", "x"], 2)  # order, dtypes, other columns: alike
    True
    >>> rows_digest(a, ["x", "c"], 3) == rows_digest(b, ["x", "c"], 3)
    False
    """
    digest = hashlib.sha256()
    head = frame.iloc[:rows]
    for column in sorted(c for c in set(columns) if c in head.columns):
        values = head[column]
        digest.update(f"{len(column)}:{column}".encode())
        if is_numeric_dtype(values.dtype):
            numbers = values.to_numpy(dtype="float64", na_value=np.nan)
            numbers = np.where(np.isnan(numbers), np.nan, numbers)  # one NaN bit pattern
            digest.update(b"n" + numbers.astype("<f8").tobytes())
        else:
            texts = ["\x00" if pd.isna(value) else str(value) for value in values]
            digest.update(b"t" + "\x1f".join(texts).encode("utf-8", "surrogatepass"))
    digest.update(f"rows:{len(head)}".encode())
    return digest.hexdigest()[:DIGEST_HEX_DIGITS]

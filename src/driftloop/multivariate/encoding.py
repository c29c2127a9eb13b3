r"""Rows of a table as standardised numbers, the common input of the multivariate detectors.

Every column becomes one number per row, standardised with the *reference's* statistics (never the window's, so
that a shift of the window stays visible):

* a numeric column (pandas ``is_numeric_dtype``, booleans excepted): :math:`z = (x - \bar x_{ref}) / s_{ref}`
  (:math:`s` the population standard deviation, as scikit-learn's ``StandardScaler``; a constant reference column
  is divided by 1, so a departure from its constant stays in the column's units); values that are not numbers
  (text in a numeric column) are missing;
* a categorical column (text, booleans, or a column named in ``categorical_columns``): *frequency encoding*, the
  share of the reference rows holding the row's category (a category never seen in the reference gets 0), then
  standardised the same way. This is NannyML's encoding for its reconstruction error (``CountEncoder(normalize=
  True)``): one number per column whatever its cardinality, so that 35 levels do not become 35 dimensions that
  dominate the distances of MMD and the components of PCA, and a shift of the mix towards rarer (or unseen)
  categories moves the encoded value.

Missing values stay NaN in :meth:`FittedEncoder.transform`; the detectors that need complete rows (PCA, MMD) read
them as the reference mean (0 once standardised, :func:`impute`), the domain classifier keeps them as NaN (its
gradient-boosted trees learn on which side missing values go), so a row with a missing cell is never dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from pandas.api.types import is_bool_dtype, is_numeric_dtype

from driftloop.errors import DriftloopError

NUMERIC = "numeric"
CATEGORICAL = "categorical"


@dataclass(frozen=True)
class EncodedColumn:
    """How one column is encoded: its kind, the reference mean and scale of its encoded values, and for a
    categorical column its categories with their reference shares."""

    name: str
    kind: str
    mean: float
    scale: float
    categories: tuple[Any, ...] = ()
    shares: tuple[float, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "mean": self.mean, "scale": self.scale,
                "categories": list(self.categories), "shares": list(self.shares)}

    @classmethod
    def from_dict(cls, entry: dict[str, Any]) -> EncodedColumn:
        return cls(entry["name"], entry["kind"], float(entry["mean"]), float(entry["scale"]),
                   tuple(entry["categories"]), tuple(float(s) for s in entry["shares"]))


def _numbers(series: pd.Series) -> NDArray[np.float64]:
    """The values as a new float64 array (NaN where missing or not a number)."""
    if not (is_numeric_dtype(series.dtype) and not is_bool_dtype(series.dtype)):
        series = pd.to_numeric(series, errors="coerce")
    return np.array(series.to_numpy(dtype=np.float64, na_value=np.nan), dtype=np.float64)  # a writable copy


def _frequencies(series: pd.Series, categories: Sequence[Any], shares: Sequence[float]) -> NDArray[np.float64]:
    """Each value's reference share: 0 for a category the reference never saw, NaN where missing. The window is
    factorised once (one hash per value), and only its distinct values are looked up in the reference's table."""
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    table = pd.Series(np.asarray(shares, dtype=np.float64), index=pd.Index(list(categories), dtype=object))
    per_unique = table.reindex(pd.Index(list(uniques), dtype=object)).fillna(0.0).to_numpy(dtype=np.float64)
    return np.append(per_unique, np.nan)[codes]  # code -1 (missing) takes the NaN at the end


def _is_categorical(series: pd.Series, forced: set[str], name: str) -> bool:
    return name in forced or not is_numeric_dtype(series.dtype) or is_bool_dtype(series.dtype)


def fit_column(series: pd.Series, name: str, categorical: bool) -> EncodedColumn:
    """Fit the encoding of one reference column (a clear error when it has no usable value)."""
    if categorical:
        present = series.dropna()
        if present.empty:
            raise DriftloopError(f"Column {name!r} of the reference must have non-missing values for the "
                                 f"multivariate detectors; got none ({len(series)} rows).")
        counts = present.value_counts(sort=True)
        categories = tuple(v.item() if isinstance(v, np.generic) else v for v in counts.index)
        shares = tuple(float(c) / len(present) for c in counts.to_numpy())
        encoded = _frequencies(series, categories, shares)
        kind = CATEGORICAL
    else:
        encoded, categories, shares, kind = _numbers(series), (), (), NUMERIC
    finite = encoded[np.isfinite(encoded)]
    if finite.size == 0:
        raise DriftloopError(f"Column {name!r} of the reference must have finite values for the multivariate "
                             f"detectors; got none ({len(series)} rows).")
    mean, scale = float(finite.mean()), float(finite.std())
    return EncodedColumn(name, kind, mean, scale if scale > 0.0 else 1.0, categories, shares)


@dataclass(frozen=True)
class FittedEncoder:
    """The encoding of every column, fitted on the reference (see the module docstring)."""

    columns: tuple[EncodedColumn, ...]

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def missing_from(self, frame: pd.DataFrame) -> list[str]:
        """The encoded columns that ``frame`` lacks."""
        return [c.name for c in self.columns if c.name not in frame.columns]

    def transform(self, frame: pd.DataFrame) -> NDArray[np.float64]:
        """``rows x columns`` standardised values of ``frame`` (which must hold every column), NaN where missing
        or not a number (infinities included). Column-major, so that each column is written in one pass."""
        out = np.empty((len(frame), len(self.columns)), dtype=np.float64, order="F")
        for j, column in enumerate(self.columns):
            series = frame[column.name]
            target = out[:, j]
            if column.kind == NUMERIC:
                if not (is_numeric_dtype(series.dtype) and not is_bool_dtype(series.dtype)):
                    series = pd.to_numeric(series, errors="coerce")
                np.subtract(series.to_numpy(dtype=np.float64, na_value=np.nan), column.mean, out=target)
            else:
                np.subtract(_frequencies(series, column.categories, column.shares), column.mean, out=target)
            target /= column.scale
            bad = ~np.isfinite(target)
            if bad.any():
                target[bad] = np.nan
        return out


def fit_encoder(frame: pd.DataFrame, columns: Sequence[str], categorical_columns: Sequence[str] = ()) -> FittedEncoder:
    """Fit a :class:`FittedEncoder` on the reference ``frame`` for ``columns``.

    >>> frame = pd.DataFrame({"x": [1.0, 2.0, 3.0, None], "color": ["red", "red", "blue", "red"]})
    >>> encoder = fit_encoder(frame, ["x", "color"])
    >>> [(c.kind, c.categories, c.shares) for c in encoder.columns]
    [('numeric', (), ()), ('categorical', ('red', 'blue'), (0.75, 0.25))]
    >>> encoder.transform(pd.DataFrame({"x": [2.0], "color": ["green"]})).round(3).tolist()   # unseen: share 0
    [[0.0, -2.887]]
    """
    forced = set(categorical_columns)
    return FittedEncoder(tuple(fit_column(frame[name], name, _is_categorical(frame[name], forced, name))
                               for name in columns))


def impute(matrix: NDArray[np.float64]) -> NDArray[np.float64]:
    """``matrix`` with its missing (NaN) cells at the reference mean, which is 0 once standardised (in place)."""
    matrix[np.isnan(matrix)] = 0.0
    return matrix

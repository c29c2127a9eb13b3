"""What a profile keeps per column, fitted once on the reference."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from driftloop import stats
from driftloop.profile.bins import bin_counts, quantile_edges
from driftloop.profile.quantiles import quantile_summary
from driftloop.stats.constant import constant_value


def strided(values: NDArray[Any], max_rows: int) -> NDArray[Any]:
    """At most ``max_rows`` rows by an even stride through ``values`` (row order kept).

    >>> strided(np.arange(10), 4).tolist()
    [0, 2, 5, 7]
    """
    if len(values) <= max_rows:
        return np.array(values)
    return values[strided_positions(len(values), max_rows)]


def strided_positions(n: int, max_rows: int) -> NDArray[np.int64]:
    """The positions :func:`strided` keeps of ``n`` rows.

    >>> strided_positions(10, 4).tolist(), strided_positions(3, 4).tolist()
    ([0, 2, 5, 7], [0, 1, 2])
    """
    if n <= max_rows:
        return np.arange(n, dtype=np.int64)
    return np.linspace(0, n, max_rows, endpoint=False).astype(np.int64)


@dataclass
class NumericColumn:
    """A numeric reference column.

    ``values`` are all finite values sorted (``exact``) or, above ``max_exact_size``, a quantile summary whose error
    on KS and Wasserstein-1 is bounded by ``ks_error`` and ``wasserstein_error`` (see
    :mod:`driftloop.profile.quantiles`). ``edges`` and ``counts`` are the bins (underflow, bins, overflow);
    ``calibration`` the finite values in row order (thinned) used by the threshold calibration.
    """

    name: str
    n: int
    n_missing: int
    n_nonfinite: int
    minimum: float
    maximum: float
    mean: float
    std: float
    edges: NDArray[np.float64]
    counts: NDArray[np.int64]
    values: NDArray[np.float64]
    exact: bool
    ks_error: float
    wasserstein_error: float
    calibration: NDArray[np.float64]
    kind: str = field(default="numeric", init=False)

    @property
    def constant(self) -> bool:
        """Whether the reference holds one value (stored exactly: ``minimum == maximum``, see :func:`fit_numeric`)."""
        return self.minimum == self.maximum

    @property
    def missing_rate(self) -> float:
        total = self.n + self.n_missing + self.n_nonfinite
        return (self.n_missing + self.n_nonfinite) / total if total else float("nan")


@dataclass
class CategoricalColumn:
    """A categorical reference column: ``categories`` and their ``counts``, plus a last, empty, unseen slot.

    ``calibration`` holds the category codes of the non-missing rows in row order (thinned).
    """

    name: str
    n: int
    n_missing: int
    categories: list[Any]
    counts: NDArray[np.int64]
    calibration: NDArray[np.int64]
    kind: str = field(default="categorical", init=False)

    def __post_init__(self) -> None:
        self.index = {value: code for code, value in enumerate(self.categories)}

    @property
    def missing_rate(self) -> float:
        total = self.n + self.n_missing
        return self.n_missing / total if total else float("nan")

    def align(self, values: list[Any], counts: NDArray[np.int64]) -> NDArray[np.int64]:
        """Counts of a window aligned with the reference's categories; unknown values go to the unseen slot."""
        aligned = np.zeros(len(self.categories) + 1, dtype=np.int64)
        unseen = len(self.categories)
        index = self.index
        for value, count in zip(values, counts, strict=True):
            aligned[index.get(value, unseen)] += count
        return aligned


def fit_numeric(
    name: str, values: NDArray[np.float64], *, n_bins: int, max_exact_size: int | None, max_calibration_rows: int
) -> NumericColumn:
    """Sort once; keep bins, moments, the sorted values (or a quantile summary) and the calibration rows.

    A column held at one value up to round-off (:func:`driftloop.stats.constant.constant_value`: ``0.1 * 3`` beside
    ``0.3``) is stored as exactly that value, so that its spread is exactly 0 and its statistics do not depend on
    round-off: see :attr:`NumericColumn.constant`.
    """
    sample = stats.sort_finite(values)
    ordered = sample.values
    finite = values[np.isfinite(values)]
    held = constant_value(ordered[0], ordered[-1])
    if held is not None:
        ordered = np.full(len(ordered), held)
        finite = np.full(len(finite), held)
    edges = quantile_edges(ordered, n_bins)
    if max_exact_size is not None and len(ordered) > max_exact_size:
        summary = quantile_summary(ordered, max_exact_size)
        kept, exact, ks_error, w_error = summary.values, False, summary.ks_error, summary.wasserstein_error
    else:
        kept, exact, ks_error, w_error = ordered, True, 0.0, 0.0
    return NumericColumn(
        name=name,
        n=len(ordered),
        n_missing=int(sample.n_missing),
        n_nonfinite=int(sample.n_nonfinite),
        minimum=float(ordered[0]),
        maximum=float(ordered[-1]),
        mean=float(ordered.mean()),
        std=float(ordered.std()),
        edges=edges,
        counts=bin_counts(ordered, edges),
        values=kept,
        exact=exact,
        ks_error=float(ks_error),
        wasserstein_error=float(w_error),
        calibration=strided(finite, max_calibration_rows),
    )


def fit_categorical(
    name: str, codes: NDArray[np.int64], uniques: list[Any], *, max_calibration_rows: int
) -> CategoricalColumn:
    """Frequency table (most frequent first, ties in order of appearance) from factorized codes."""
    present = codes >= 0
    raw_counts = np.bincount(codes[present], minlength=len(uniques))
    order = np.argsort(-raw_counts, kind="stable")
    recode = np.empty(len(uniques), dtype=np.int64)
    recode[order] = np.arange(len(uniques))
    return CategoricalColumn(
        name=name,
        n=int(present.sum()),
        n_missing=int((~present).sum()),
        categories=[uniques[i] for i in order],
        counts=np.append(raw_counts[order], 0).astype(np.int64),
        calibration=strided(recode[codes[present]], max_calibration_rows),
    )

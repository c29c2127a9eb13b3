"""Reference-versus-window distributions of a column on the reference's own bins, for the report."""

from __future__ import annotations

import numpy as np
import pandas as pd

from driftloop.monitor.results import FeatureDistribution
from driftloop.profile.bins import bin_counts
from driftloop.profile.columns import CategoricalColumn, NumericColumn
from driftloop.stats import sort_finite


def _shares(counts: np.ndarray) -> list[float]:
    total = counts.sum()
    return (counts / total).tolist() if total else [0.0] * len(counts)


def bin_labels(edges: np.ndarray) -> list[str]:
    """Labels of the bins of :func:`driftloop.profile.bins.bin_counts`: underflow, the bins, overflow.

    >>> bin_labels(np.array([0.0, 1.0, 2.0]))
    ['< 0', '[0, 1)', '[1, 2]', '> 2']
    """
    if len(edges) == 1:
        return [f"< {edges[0]:.4g}", f"= {edges[0]:.4g}", f"> {edges[0]:.4g}"]
    inner = [f"[{low:.4g}, {high:.4g})" for low, high in zip(edges[:-2], edges[1:-1], strict=True)]
    inner.append(f"[{edges[-2]:.4g}, {edges[-1]:.4g}]")
    return [f"< {edges[0]:.4g}", *inner, f"> {edges[-1]:.4g}"]


def distribution(
    column: NumericColumn | CategoricalColumn, values: pd.Series, statistic: str, value: float
) -> FeatureDistribution:
    """The reference's and the window's shares per reference bin (numeric) or category (categorical)."""
    if isinstance(column, NumericColumn):
        numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
        window_counts = bin_counts(sort_finite(numbers).values, column.edges)
        labels = bin_labels(column.edges)
        reference_counts = column.counts
    else:
        observed = values.dropna()
        uniques, counts = np.unique(observed.astype(str).to_numpy(), return_counts=True) if len(observed) else ([], [])
        as_text = {str(category): category for category in column.categories}
        window_counts = column.align([as_text.get(u, u) for u in uniques], np.asarray(counts, dtype=np.int64))
        labels = [str(c) for c in column.categories] + ["(unseen)"]
        reference_counts = np.append(column.counts, 0)
    return FeatureDistribution(
        column.name, labels, _shares(np.asarray(reference_counts)), _shares(np.asarray(window_counts)), statistic, value
    )

"""Reference-versus-window distributions of a column on the reference's own bins, for the report."""

from __future__ import annotations

import numpy as np

from driftloop.monitor.results import FeatureDistribution
from driftloop.profile.columns import CategoricalColumn, NumericColumn


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
    column: NumericColumn | CategoricalColumn, window_counts: np.ndarray, statistic: str, value: float
) -> FeatureDistribution:
    """The reference's and the window's shares per reference bin (numeric) or category (categorical), from the
    window's counts that the drift statistics were computed from
    (:attr:`driftloop.profile.reference.Comparison.window_counts`: per bin with the underflow and overflow bins, or
    per category with the unseen slot last), so that the chart shows what ``statistic`` measured.

    >>> from driftloop.profile.columns import fit_numeric
    >>> column = fit_numeric("x", np.arange(10.0), n_bins=2, max_exact_size=None, max_calibration_rows=10)
    >>> shown = distribution(column, np.array([0, 1, 2, 1]), "psi", 0.3)
    >>> shown.labels, shown.window_share
    (['< 0', '[0, 4)', '[4, 9]', '> 9'], [0.0, 0.25, 0.5, 0.25])
    """
    if isinstance(column, NumericColumn):
        labels = bin_labels(column.edges)
        reference_counts = column.counts
    else:
        labels = [str(c) for c in column.categories] + ["(unseen)"]
        reference_counts = np.append(column.counts, 0)
    return FeatureDistribution(
        column.name, labels, _shares(np.asarray(reference_counts)), _shares(np.asarray(window_counts)), statistic, value
    )

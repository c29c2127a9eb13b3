"""The statistics a profile can compute, listed literally (no registry, nothing added by importing a module).

Each entry says what the statistic needs (one pass over both sorted samples for the largest CDF gap and the area
between the CDFs, both CDFs stored at every pooled value, or counts aligned with the reference's bins or
categories), whether its verdict comes from a p-value (``test``) or a calibrated threshold (``distance``), and the
power :math:`a` that makes :math:`n_{\\mathrm{eff}}\\,d^a` behave like a chi-squared under no drift
(see :mod:`driftloop.thresholds.null`).

Numeric columns: the sorted-sample statistics below, plus every count statistic over the reference's quantile bins
(``n_bins`` bins with an underflow and an overflow bin). Categorical columns: the count statistics over the
reference's category table plus one slot for categories the reference never saw.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, NamedTuple

import numpy as np
from numpy.typing import NDArray
from scipy import stats as _scipy_stats

from driftloop import stats


class Pair(NamedTuple):
    """What one column's statistics are computed from. ``reference_sorted`` may be a quantile summary (shorter than
    ``n_reference``); counts are always exact and aligned (same bins or categories, last slot overflow/unseen).
    ``gaps`` is the one pass over both sorted samples that KS and Wasserstein share; ``merged`` the one stored merge
    that Cramér–von Mises, Anderson–Darling and energy share (made only when one of them is asked for)."""

    reference_sorted: NDArray[np.float64] | None
    window_sorted: NDArray[np.float64] | None
    reference_counts: NDArray[np.int64] | None
    window_counts: NDArray[np.int64] | None
    n_reference: int
    reference_std: float
    gaps: stats.ECDFGaps | None = None
    merged: stats.MergedECDF | None = None


class WindowSummary(NamedTuple):
    """What one column's statistics need from a window, however it was computed: the :class:`Pair`, ``n``
    finite non-missing values, ``n_missing`` missing or non-finite ones, and, for a constant reference column,
    the ``departures`` (window values away from the constant, :func:`~driftloop.stats.constant.snap_sorted`);
    or only a ``reason`` why the column could not be summarised."""

    pair: Pair | None
    n: int
    n_missing: int
    departures: int = 0
    reason: str | None = None

    @classmethod
    def failed(cls, reason: str) -> WindowSummary:
        return cls(None, 0, 0, 0, reason)


def sorted_pair(
    reference_sorted: NDArray[np.float64],
    window_sorted: NDArray[np.float64],
    reference_counts: NDArray[np.int64] | None,
    window_counts: NDArray[np.int64] | None,
    n_reference: int,
    reference_std: float,
    chosen: Sequence[Statistic],
) -> Pair:
    """The pair of a numeric column, with the one walk over both sorted samples that the ``chosen`` statistics need:
    ``gaps`` (O(1) memory) for KS and Wasserstein, the stored ``merged`` CDFs only for CvM, AD or energy."""
    needs = {s.needs for s in chosen}
    gaps = stats.ecdf_gaps(reference_sorted, window_sorted, check=False) if "gaps" in needs else None
    merged = stats.merge_ecdfs(reference_sorted, window_sorted, check=False) if "merged" in needs else None
    return Pair(reference_sorted, window_sorted, reference_counts, window_counts, n_reference, reference_std,
                gaps, merged)


@dataclass(frozen=True)
class Statistic:
    name: str
    verdict: Literal["test", "distance"]
    needs: Literal["gaps", "merged", "counts"]
    power: float
    compute: Callable[[Pair], tuple[float, float]]
    doc: str


NAN = float("nan")


def _ks(p: Pair) -> tuple[float, float]:
    r = stats.ks_2samp_sorted(p.reference_sorted, p.window_sorted, check=False, gaps=p.gaps)
    if len(p.reference_sorted) == p.n_reference:
        return float(r.statistic), float(r.p_value)
    # quantile summary: the p-value with the reference's true size (scipy's asymptotic branch)
    m, n = sorted([float(p.n_reference), float(p.gaps.n_window)], reverse=True)
    return float(r.statistic), float(_scipy_stats.kstwo.sf(r.statistic, np.round(m * n / (m + n))))


def _cvm(p: Pair) -> tuple[float, float]:
    r = stats.cramer_von_mises_sorted(p.reference_sorted, p.window_sorted, check=False, merged=p.merged)
    return float(r.statistic), float(r.p_value)


def _ad(p: Pair) -> tuple[float, float]:
    r = stats.anderson_darling_sorted(p.reference_sorted, p.window_sorted, check=False, merged=p.merged)
    return float(r.statistic), float(r.p_value)


def _chi2(p: Pair) -> tuple[float, float]:
    r = stats.chi_squared(p.reference_counts, p.window_counts)
    return float(r.statistic), float(r.p_value)


def _distance(function: Callable[..., float], needs: str) -> Callable[[Pair], tuple[float, float]]:
    if needs == "gaps":
        return lambda p: (float(function(p.reference_sorted, p.window_sorted, check=False, gaps=p.gaps)), NAN)
    if needs == "merged":
        return lambda p: (float(function(p.reference_sorted, p.window_sorted, check=False, merged=p.merged)), NAN)
    return lambda p: (float(function(p.reference_counts, p.window_counts)), NAN)


def _wasserstein(p: Pair) -> tuple[float, float]:
    value = stats.wasserstein_normalized(
        p.reference_sorted, p.window_sorted, reference_std=p.reference_std, check=False, gaps=p.gaps
    )
    return float(value), NAN


SORTED_STATISTICS: dict[str, Statistic] = {
    "ks": Statistic("ks", "test", "gaps", 2.0, _ks, "Kolmogorov–Smirnov statistic and p-value"),
    "wasserstein": Statistic(
        "wasserstein", "distance", "gaps", 2.0, _wasserstein,
        "Wasserstein-1 divided by the reference's standard deviation"),
    "wasserstein_raw": Statistic(
        "wasserstein_raw", "distance", "gaps", 2.0, _distance(stats.wasserstein_sorted, "gaps"),
        "Wasserstein-1 in the column's units"),
    "cramer_von_mises": Statistic("cramer_von_mises", "test", "merged", 1.0, _cvm, "Cramér–von Mises two-sample test"),
    "anderson_darling": Statistic(
        "anderson_darling", "test", "merged", 1.0, _ad, "Anderson–Darling k-sample test (k = 2)"),
    "energy": Statistic(
        "energy", "distance", "merged", 2.0, _distance(stats.energy_distance_sorted, "merged"), "energy distance"),
}

COUNT_STATISTICS: dict[str, Statistic] = {
    "chi2": Statistic("chi2", "test", "counts", 1.0, _chi2, "chi-squared test of the 2 x k contingency table"),
    "psi": Statistic("psi", "distance", "counts", 1.0, _distance(stats.psi, "counts"), "population stability index"),
    "js": Statistic(
        "js", "distance", "counts", 2.0, _distance(stats.jensen_shannon, "counts"), "Jensen–Shannon distance, base 2"),
    "hellinger": Statistic(
        "hellinger", "distance", "counts", 2.0, _distance(stats.hellinger, "counts"), "Hellinger distance"),
    "kl": Statistic(
        "kl", "distance", "counts", 1.0, _distance(stats.kl_divergence, "counts"), "Kullback–Leibler divergence"),
    "total_variation": Statistic(
        "total_variation", "distance", "counts", 2.0, _distance(stats.total_variation, "counts"),
        "total variation distance"),
    "l_infinity": Statistic(
        "l_infinity", "distance", "counts", 2.0, _distance(stats.l_infinity, "counts"),
        "largest absolute difference of shares"),
}

def _unseen(p: Pair) -> tuple[float, float]:
    return stats.unseen_share(p.window_counts, unseen_index=-1), NAN


UNSEEN = Statistic(
    "unseen_share", "distance", "counts", 1.0, _unseen,
    "share of window rows in categories the reference never saw")

#: Statistics available for numeric columns (count statistics use the reference's quantile bins).
NUMERIC_STATISTICS: dict[str, Statistic] = {**SORTED_STATISTICS, **COUNT_STATISTICS}
#: Statistics available for categorical columns.
CATEGORICAL_STATISTICS: dict[str, Statistic] = {**COUNT_STATISTICS, "unseen_share": UNSEEN}

DEFAULT_NUMERIC = ("ks", "wasserstein", "psi", "js")
DEFAULT_CATEGORICAL = ("chi2", "psi", "js")

"""Drift statistics: pure functions over numpy arrays, one statistic per module, each checked against scipy.

Numeric two-sample statistics take the reference and the window as 1-D float64 arrays, **sorted ascending and
finite** (see :func:`sort_finite`, which counts NaN and infinities apart); pass ``check=False`` when the caller
guarantees it. Binned and categorical statistics take two aligned count vectors (bins fixed on the reference,
including underflow and overflow bins, or a category table including an "unseen" slot).
"""

from driftloop.stats.anderson_darling import ADResult, anderson_darling_sorted
from driftloop.stats.chi_squared import ChiSquaredResult, chi_squared
from driftloop.stats.cramer_von_mises import CvMResult, cramer_von_mises_sorted
from driftloop.stats.ecdf import ECDFGaps, MergedECDF, ecdf_gaps, merge_ecdfs
from driftloop.stats.energy import energy_distance_sorted
from driftloop.stats.hellinger import hellinger
from driftloop.stats.jensen_shannon import jensen_shannon
from driftloop.stats.kl_divergence import kl_divergence
from driftloop.stats.ks import KSResult, ks_2samp_sorted
from driftloop.stats.l_infinity import l_infinity
from driftloop.stats.missing import SortedSample, sort_finite
from driftloop.stats.psi import psi
from driftloop.stats.total_variation import total_variation
from driftloop.stats.unseen import absent_share, unseen_share
from driftloop.stats.wasserstein import wasserstein_normalized, wasserstein_sorted

__all__ = [
    "ADResult",
    "ChiSquaredResult",
    "CvMResult",
    "ECDFGaps",
    "KSResult",
    "MergedECDF",
    "SortedSample",
    "absent_share",
    "anderson_darling_sorted",
    "chi_squared",
    "cramer_von_mises_sorted",
    "ecdf_gaps",
    "energy_distance_sorted",
    "hellinger",
    "jensen_shannon",
    "kl_divergence",
    "ks_2samp_sorted",
    "l_infinity",
    "merge_ecdfs",
    "psi",
    "sort_finite",
    "total_variation",
    "unseen_share",
    "wasserstein_normalized",
    "wasserstein_sorted",
]

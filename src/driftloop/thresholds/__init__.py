"""Calibrated verdicts, kept apart from the statistics they judge.

* :mod:`~driftloop.thresholds.fdr` — tests: Benjamini–Hochberg across the p-values of one window.
* :mod:`~driftloop.thresholds.null` — distances: a leave-one-chunk-out null and an exchangeable (random-split) null
  measured on the reference itself, a scaled chi-squared fitted to each, and the threshold at the size of the window
  being judged.
* :mod:`~driftloop.thresholds.policy` — :class:`DriftThresholds`, the named parameters with their defaults.
"""

from driftloop.thresholds.fdr import BHResult, benjamini_hochberg
from driftloop.thresholds.null import (
    NullModel,
    NullSample,
    chunk_bounds,
    distance_threshold,
    effective_size,
    fit_null,
    leave_one_chunk_out,
    random_splits,
)
from driftloop.thresholds.policy import DriftThresholds

__all__ = [
    "BHResult",
    "DriftThresholds",
    "NullModel",
    "NullSample",
    "benjamini_hochberg",
    "chunk_bounds",
    "distance_threshold",
    "effective_size",
    "fit_null",
    "leave_one_chunk_out",
    "random_splits",
]

"""Drift that one column at a time cannot see: detectors over all columns at once.

* :mod:`~driftloop.multivariate.pca` — PCA reconstruction error, its threshold from the leave-one-chunk-out null of
  the reference at the window's size;
* :mod:`~driftloop.multivariate.classifier` — a domain classifier (gradient-boosted trees) with the exact
  Mann–Whitney p-value of its held-out ROC AUC, and the columns carrying the drift;
* :mod:`~driftloop.multivariate.mmd` — the kernel two-sample test (MMD, Gaussian kernel, median heuristic) with a
  permutation p-value;
* :mod:`~driftloop.multivariate.encoding` — the shared encoding (standardised numbers, frequency-encoded
  categories, missing values);
* :mod:`~driftloop.multivariate.drift` — :class:`MultivariateDrift`, the detectors fitted together on a reference;
* :mod:`~driftloop.multivariate.storage` — their versioned folder format, saved inside the reference profile's.

Pure computation (numpy, scipy, scikit-learn): no MLflow. Each detector gives a p-value per window; the monitor
judges them in the window's Benjamini–Hochberg procedure with the univariate tests.
"""

from driftloop.multivariate.classifier import DomainClassifier
from driftloop.multivariate.drift import DEFAULT_DETECTORS, DETECTORS, MultivariateDrift, RowSums
from driftloop.multivariate.mmd import MMDDetector
from driftloop.multivariate.pca import PCAReconstruction
from driftloop.multivariate.results import LABELS, DetectorResult

__all__ = [
    "DEFAULT_DETECTORS",
    "DETECTORS",
    "LABELS",
    "DetectorResult",
    "DomainClassifier",
    "MMDDetector",
    "MultivariateDrift",
    "PCAReconstruction",
    "RowSums",
]

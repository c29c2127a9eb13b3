"""Performance without labels, fitted on the reference and applied to each window in one pass.

* :mod:`~driftloop.estimate.cbpe` — confidence-based performance estimation for classifiers (over
  :mod:`~driftloop.estimate.calibration` and :mod:`~driftloop.estimate.confusion`);
* :mod:`~driftloop.estimate.dle` — direct loss estimation for regressors (over :mod:`~driftloop.estimate.trees`);
* :mod:`~driftloop.estimate.bands` — the lower and upper bound of every estimate;
* :mod:`~driftloop.estimate.storage` — saving an estimator beside the reference profile, without pickle.
"""

from driftloop.estimate.cbpe import ConfidenceEstimator, Estimate, ModelOutputError
from driftloop.estimate.confusion import CLASSIFICATION_METRICS
from driftloop.estimate.dle import REGRESSION_METRICS, LossEstimator
from driftloop.estimate.storage import load_estimator, save_estimator

__all__ = [
    "CLASSIFICATION_METRICS",
    "REGRESSION_METRICS",
    "ConfidenceEstimator",
    "Estimate",
    "LossEstimator",
    "ModelOutputError",
    "load_estimator",
    "save_estimator",
]

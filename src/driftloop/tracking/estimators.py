"""The performance estimator as MLflow artifacts, in the reference profile's folder of the model version.

:func:`driftloop.estimate.save_estimator` writes ``estimator.json`` and ``estimator.npz``; they are logged under
the same artifact path as the profile (``reference_profile``), beside ``profile.json``, so that the profile's folder
holds everything fitted on the reference. A model version whose profile was fitted without labels has no
estimator there, and :func:`load_model_estimator` returns ``None``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlflow import MlflowClient

from driftloop.tracking.monitoring import ModelVersionRef
from driftloop.tracking.profiles import download_with_profile, log_with_profile

if TYPE_CHECKING:  # imported where used: a model without an estimator never loads scikit-learn's boosting
    from driftloop.estimate import ConfidenceEstimator, LossEstimator

#: The estimator's files in the profile folder (:mod:`driftloop.estimate.storage`).
JSON_FILE, ARRAYS_FILE = "estimator.json", "estimator.npz"


def log_estimator(client: MlflowClient, model: ModelVersionRef, estimator: ConfidenceEstimator | LossEstimator,
                  classes: list[Any] | None) -> None:
    """Log ``estimator`` (and the model's ``classes``) into the profile folder of the model version (its LoggedModel,
    else its source run: :func:`~driftloop.tracking.profiles.log_with_profile`)."""
    from driftloop.estimate import save_estimator

    with tempfile.TemporaryDirectory(prefix="driftloop-estimator-") as tmp:
        log_with_profile(client, model, save_estimator(estimator, Path(tmp), classes=classes))


def load_model_estimator(client: MlflowClient, model: ModelVersionRef,
                         ) -> tuple[ConfidenceEstimator | LossEstimator, list[Any] | None] | None:
    """The estimator in the profile folder of the model version and the model's classes, or ``None`` when there is
    none."""
    with tempfile.TemporaryDirectory(prefix="driftloop-estimator-") as tmp:
        local = download_with_profile(client, model, "", (JSON_FILE, ARRAYS_FILE), tmp)
        if local is None:
            return None
        from driftloop.estimate import load_estimator

        return load_estimator(local)

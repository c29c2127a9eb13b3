"""The performance estimator as MLflow artifacts, in the reference profile's folder of the model version.

:func:`driftloop.estimate.save_estimator` writes ``estimator.json`` and ``estimator.npz``; they are logged under
the same artifact path as the profile (``reference_profile``), beside ``profile.json``, so that the profile's folder
holds everything fitted on the reference. A model version whose profile was fitted without labels has no
estimator there, and :func:`load_estimator_for_run` returns ``None``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from driftloop.errors import DriftloopError
from driftloop.tracking.profiles import DEFAULT_ARTIFACT_PATH

if TYPE_CHECKING:  # imported where used: a model without an estimator never loads scikit-learn's boosting
    from driftloop.estimate import ConfidenceEstimator, LossEstimator

#: The estimator's files in the profile folder (:mod:`driftloop.estimate.storage`).
JSON_FILE, ARRAYS_FILE = "estimator.json", "estimator.npz"


def log_estimator(client: MlflowClient, run_id: str, estimator: ConfidenceEstimator | LossEstimator,
                  classes: list[Any] | None, artifact_path: str = DEFAULT_ARTIFACT_PATH) -> None:
    """Log ``estimator`` (and the model's ``classes``) into the profile folder ``artifact_path`` of ``run_id``."""
    from driftloop.estimate import save_estimator

    with tempfile.TemporaryDirectory(prefix="driftloop-estimator-") as tmp:
        folder = save_estimator(estimator, Path(tmp), classes=classes)
        client.log_artifacts(run_id, str(folder), artifact_path)


def load_estimator_for_run(client: MlflowClient, run_id: str, artifact_path: str = DEFAULT_ARTIFACT_PATH,
                           ) -> tuple[ConfidenceEstimator | LossEstimator, list[Any] | None] | None:
    """The estimator in the profile folder of ``run_id`` and the model's classes, or ``None`` when there is none."""
    try:
        names = {Path(f.path).name for f in client.list_artifacts(run_id, artifact_path)}
    except MlflowException as exc:
        raise DriftloopError(f"Could not list the reference profile of run {run_id}: {exc}") from exc
    if JSON_FILE not in names:
        return None
    from driftloop.estimate import load_estimator

    with tempfile.TemporaryDirectory(prefix="driftloop-estimator-") as tmp:
        for name in (JSON_FILE, ARRAYS_FILE):
            client.download_artifacts(run_id, f"{artifact_path}/{name}", tmp)
        return load_estimator(Path(tmp))

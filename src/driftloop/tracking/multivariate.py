"""The multivariate detectors as MLflow artifacts, inside the reference profile's artifact folder.

They are logged under ``reference_profile/multivariate`` (:data:`driftloop.multivariate.storage.SUBFOLDER`) of the
model version's source run, beside the profile's own files, in their own versioned format
(:mod:`driftloop.multivariate.storage`). ``driftloop profile`` always logs the folder, with no detector when none
was asked for, so that a refitted profile never leaves an older profile's detectors behind; a profile logged before
the detectors existed has no folder and is monitored without them.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from driftloop.errors import DriftloopError
from driftloop.multivariate import MultivariateDrift
from driftloop.multivariate.storage import JSON_FILE, SUBFOLDER
from driftloop.tracking.profiles import DEFAULT_ARTIFACT_PATH, resolve_run_id


def log_multivariate(client: MlflowClient, run_id: str, detectors: MultivariateDrift,
                     artifact_path: str = DEFAULT_ARTIFACT_PATH) -> None:
    """Save ``detectors`` and log them under ``<artifact_path>/multivariate`` of ``run_id``."""
    with tempfile.TemporaryDirectory(prefix="driftloop-multivariate-") as tmp:
        folder = detectors.save(Path(tmp) / SUBFOLDER)
        client.log_artifacts(run_id, str(folder), f"{artifact_path}/{SUBFOLDER}")


def load_multivariate_for_model(client: MlflowClient, model_uri: str,
                                artifact_path: str = DEFAULT_ARTIFACT_PATH) -> MultivariateDrift | None:
    """The detectors logged with the model at ``model_uri``; ``None`` when its profile has none."""
    run_id = resolve_run_id(client, model_uri)
    folder = f"{artifact_path}/{SUBFOLDER}"
    try:
        listed = {Path(item.path).name for item in client.list_artifacts(run_id, folder)}
    except MlflowException as exc:
        raise DriftloopError(f"The artifacts of run {run_id} of model {model_uri!r} could not be listed: "
                             f"{exc.message}") from exc
    if JSON_FILE not in listed:
        return None
    with tempfile.TemporaryDirectory(prefix="driftloop-multivariate-") as tmp:
        try:
            local = client.download_artifacts(run_id, folder, tmp)
        except (MlflowException, OSError) as exc:
            raise DriftloopError(f"The multivariate detectors of run {run_id} of model {model_uri!r} could not be "
                                 f"downloaded from {folder!r}: {exc}") from exc
        return MultivariateDrift.load(local)

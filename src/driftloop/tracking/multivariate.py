"""The multivariate detectors as MLflow artifacts, inside the reference profile's artifact folder.

They are logged under ``reference_profile/multivariate`` (:data:`driftloop.multivariate.storage.SUBFOLDER`) of the
model version's LoggedModel (else its source run), beside the profile's own files, in their own versioned format
(:mod:`driftloop.multivariate.storage`). ``driftloop profile`` always logs the folder, with no detector when none
was asked for, so that a refitted profile never leaves an older profile's detectors behind; a profile logged before
the detectors existed has no folder and is monitored without them.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from mlflow import MlflowClient

from driftloop.multivariate import MultivariateDrift
from driftloop.multivariate.storage import ARRAYS_FILE, JSON_FILE, SUBFOLDER
from driftloop.tracking.monitoring import ModelVersionRef
from driftloop.tracking.profiles import download_with_profile, log_with_profile


def log_multivariate(client: MlflowClient, model: ModelVersionRef, detectors: MultivariateDrift) -> None:
    """Save ``detectors`` and log them under ``reference_profile/multivariate`` of the model version (its
    LoggedModel, else its source run: :func:`~driftloop.tracking.profiles.log_with_profile`)."""
    with tempfile.TemporaryDirectory(prefix="driftloop-multivariate-") as tmp:
        log_with_profile(client, model, detectors.save(Path(tmp) / SUBFOLDER), SUBFOLDER)


def load_model_multivariate(client: MlflowClient, model: ModelVersionRef) -> MultivariateDrift | None:
    """The detectors logged with the model version; ``None`` when its profile has none."""
    with tempfile.TemporaryDirectory(prefix="driftloop-multivariate-") as tmp:
        local = download_with_profile(client, model, SUBFOLDER, (JSON_FILE, ARRAYS_FILE), tmp)
        return None if local is None else MultivariateDrift.load(local)

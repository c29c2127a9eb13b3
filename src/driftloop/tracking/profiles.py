"""The reference profile as an MLflow artifact: logged in the run that logged the model, found from a model URI.

A profile is the folder written by :meth:`driftloop.profile.ReferenceProfile.save` (``profile.json`` +
``arrays.npz``), logged under the artifact path ``reference_profile`` of the model version's source run, so that
every model version carries the reference it must be compared with.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import mlflow
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from driftloop.errors import DriftloopError, invalid_parameter
from driftloop.profile import ReferenceProfile

DEFAULT_ARTIFACT_PATH = "reference_profile"

_ALIAS = re.compile(r"^models:/(?P<name>[^/@]+)@(?P<alias>[^/]+)$")
_VERSION = re.compile(r"^models:/(?P<name>[^/@]+)/(?P<version>\d+)$")
_RUN = re.compile(r"^runs:/(?P<run_id>[^/]+)/?$")


def log_profile(
    client: MlflowClient | None,
    run_id: str | None,
    profile: ReferenceProfile,
    artifact_path: str = DEFAULT_ARTIFACT_PATH,
) -> str:
    """Save ``profile`` and log the folder as artifacts of ``run_id`` under ``artifact_path``; return the run id.

    ``client=None`` uses ``MlflowClient()`` on the current tracking URI; ``run_id=None`` uses the active run of
    MLflow's fluent API (as inside ``with mlflow.start_run():`` in a training script).
    """
    if run_id is None:
        active = mlflow.active_run()
        if active is None:
            raise invalid_parameter("run_id", "log_profile", "a run id, or an active MLflow run", None)
        run_id = active.info.run_id
    client = client or MlflowClient()
    with tempfile.TemporaryDirectory(prefix="driftloop-profile-") as tmp:
        folder = profile.save(Path(tmp) / "profile")
        client.log_artifacts(run_id, str(folder), artifact_path)
    return run_id


def log_reference_performance(client: MlflowClient, run_id: str, metrics: dict[str, float]) -> None:
    """Log the model's performance on its labelled reference data in the model version's source run, under the
    monitor's own keys (``performance/mae``...), in one ``log_batch``: alert rules ``relative_to = "training"``
    compare each window with it (:func:`driftloop.monitor.alerts.training_value` looks the full key up first)."""
    import time

    from mlflow.entities import Metric

    now = int(time.time() * 1000)
    client.log_batch(run_id, metrics=[Metric(key, float(value), now, 0) for key, value in sorted(metrics.items())])


def resolve_run_id(client: MlflowClient, model_uri: str) -> str:
    """The run holding a model's artifacts: ``models:/name@alias``, ``models:/name/<version>`` or ``runs:/<id>``."""
    try:
        if match := _ALIAS.match(model_uri):
            version = client.get_model_version_by_alias(match["name"], match["alias"])
        elif match := _VERSION.match(model_uri):
            version = client.get_model_version(match["name"], match["version"])
        elif match := _RUN.match(model_uri):
            return match["run_id"]
        else:
            raise invalid_parameter(
                "model_uri", "load_profile_for_model",
                "'models:/<name>@<alias>', 'models:/<name>/<version>' or 'runs:/<run_id>'", model_uri)
    except MlflowException as exc:
        raise DriftloopError(f"The model {model_uri!r} was not found in the registry: {exc.message}") from exc
    if not version.run_id:
        raise DriftloopError(f"The model version {model_uri!r} has no source run, so it has no reference profile.")
    return str(version.run_id)


def load_profile_for_model(
    client: MlflowClient, model_uri: str, artifact_path: str = DEFAULT_ARTIFACT_PATH
) -> ReferenceProfile:
    """Download and load the reference profile logged with the model at ``model_uri``."""
    run_id = resolve_run_id(client, model_uri)
    with tempfile.TemporaryDirectory(prefix="driftloop-profile-") as tmp:
        try:
            local = client.download_artifacts(run_id, artifact_path, tmp)
        except (MlflowException, OSError) as exc:
            raise DriftloopError(f"The run {run_id} of model {model_uri!r} has no reference profile at artifact "
                                 f"path {artifact_path!r}: {exc}") from exc
        return ReferenceProfile.load(local)

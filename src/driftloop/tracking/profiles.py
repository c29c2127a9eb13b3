"""The reference profile and the reference performance, kept with the model they describe.

A profile is the folder written by :meth:`driftloop.profile.ReferenceProfile.save` (``profile.json`` +
``arrays.npz``), logged under the artifact path ``reference_profile`` of the model's *home*, so that every model
version carries the reference it must be compared with:

* a version made from an MLflow 3 LoggedModel (``models:/m-<id>``, logged inside or outside a run): the
  LoggedModel's own artifacts (``MlflowClient.log_model_artifacts``), beside ``MLmodel``;
* a version registered from a run's artifacts (MLflow 2 style): the source run's artifacts.

Reading looks in the LoggedModel first, then in the source run, so that profiles logged in runs before MLflow 3
(or by a training script, as ``examples/wine/train.py`` does) stay readable. The profile's folder format is the
same in both places (:mod:`driftloop.profile.storage`).

The reference performance (:func:`attach_reference_performance`) is logged as metrics of the source run and, for
a LoggedModel, linked to the model (``Metric.model_id``) so that its page shows them; a LoggedModel without a
source run gets a run of its own in its experiment (``reference performance of NAME vN``), named by the model's tag
``driftloop.reference_run_id``. :func:`training_metrics` reads both back for the alert rules relative to training.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import mlflow
from mlflow import MlflowClient
from mlflow.entities import Metric
from mlflow.exceptions import MlflowException

from driftloop.errors import DriftloopError, invalid_parameter
from driftloop.profile import ReferenceProfile
from driftloop.tracking.models import home_of, resolve_model
from driftloop.tracking.monitoring import ModelVersionRef

DEFAULT_ARTIFACT_PATH = "reference_profile"
PROFILE_FILE = "profile.json"  # driftloop.profile.storage.JSON_FILE
REFERENCE_RUN_TAG = "driftloop.reference_run_id"

_RUN = re.compile(r"^runs:/(?P<run_id>[^/]+)/?$")


def log_profile(
    client: MlflowClient | None,
    run_id: str | None,
    profile: ReferenceProfile,
    artifact_path: str = DEFAULT_ARTIFACT_PATH,
    *,
    model_id: str | None = None,
) -> str:
    """Save ``profile`` and log the folder under ``artifact_path`` as artifacts of the LoggedModel ``model_id``
    when given, else of run ``run_id``; return the id written to.

    ``client=None`` uses ``MlflowClient()`` on the current tracking URI; ``run_id=None`` (and no ``model_id``)
    uses the active run of MLflow's fluent API (as inside ``with mlflow.start_run():`` in a training script).
    """
    if run_id is None and model_id is None:
        active = mlflow.active_run()
        if active is None:
            raise invalid_parameter("run_id", "log_profile", "a run id, or an active MLflow run", None)
        run_id = active.info.run_id
    client = client or MlflowClient()
    with tempfile.TemporaryDirectory(prefix="driftloop-profile-") as tmp:
        folder = profile.save(Path(tmp) / "profile")
        if model_id is not None:
            client.log_model_artifacts(model_id, str(folder), artifact_path)
            return model_id
        client.log_artifacts(run_id, str(folder), artifact_path)
    return str(run_id)


def _homeless(model: ModelVersionRef, what: str) -> DriftloopError:
    return DriftloopError(
        f"Model {model.name} version {model.version} was registered without a source run or an MLflow 3 logged "
        f"model, so {what}. Log the model with mlflow.<flavor>.log_model(model, name='model', "
        f"registered_model_name={model.name!r}) and use the new version.")


def attach_profile(client: MlflowClient, model: ModelVersionRef, profile: ReferenceProfile) -> str:
    """Log ``profile`` with the model version (its LoggedModel, else its source run); return where, as
    ``logged model m-<id>`` or ``run <id>``."""
    if model.model_id is None and model.run_id is None:
        raise _homeless(model, "driftloop has nowhere to keep its reference profile")
    log_profile(client, model.run_id, profile, model_id=model.model_id)
    return home_of(model)


def log_reference_performance(client: MlflowClient, run_id: str, metrics: dict[str, float], *,
                              model_id: str | None = None) -> None:
    """Log the model's performance on its labelled reference data in run ``run_id``, under the monitor's own keys
    (``performance/mae``...), in one ``log_batch``, linked to the LoggedModel ``model_id`` when given: alert rules
    ``relative_to = "training"`` compare each window with it (:func:`driftloop.monitor.alerts.training_value` looks
    the full key up first)."""
    now = int(time.time() * 1000)
    client.log_batch(run_id, metrics=[Metric(key, float(value), now, 0, model_id=model_id)
                                      for key, value in sorted(metrics.items())], synchronous=True)


def attach_reference_performance(client: MlflowClient, model: ModelVersionRef, metrics: dict[str, float]) -> str:
    """Log the reference performance of a model version (see the module docstring); return the run's id."""
    run_id = model.run_id
    if run_id is None:
        if model.model_id is None:
            raise _homeless(model, "driftloop has nowhere to keep its reference performance")
        logged = client.get_logged_model(model.model_id)
        run_id = logged.tags.get(REFERENCE_RUN_TAG)
        if run_id is None:
            run_id = client.create_run(
                logged.experiment_id, run_name=f"reference performance of {model.name} v{model.version}",
                tags={"driftloop.kind": "reference", "driftloop.model_name": model.name,
                      "driftloop.model_version": model.version, "driftloop.model_id": model.model_id}).info.run_id
            client.set_terminated(run_id, "FINISHED")
            client.set_logged_model_tags(model.model_id, {REFERENCE_RUN_TAG: run_id})
    log_reference_performance(client, run_id, metrics, model_id=model.model_id)
    return run_id


def training_metrics(client: MlflowClient, model: ModelVersionRef) -> dict[str, float]:
    """The model's training figures: the latest metrics of its source run, with the reference performance of a
    LoggedModel without a source run (:func:`attach_reference_performance`)."""
    found: dict[str, float] = dict(client.get_run(model.run_id).data.metrics) if model.run_id else {}
    if model.model_id is not None and model.run_id is None:
        reference_run = client.get_logged_model(model.model_id).tags.get(REFERENCE_RUN_TAG)
        if reference_run:
            found.update(client.get_run(reference_run).data.metrics)
    return found


def _download_from_model(client: MlflowClient, model_id: str, artifact_path: str, destination: str) -> str | None:
    from mlflow.artifacts import download_artifacts

    if not client.list_logged_model_artifacts(model_id, artifact_path):
        return None
    location = client.get_logged_model(model_id).artifact_location.rstrip("/")
    return download_artifacts(artifact_uri=f"{location}/{artifact_path}", dst_path=destination,
                              tracking_uri=client.tracking_uri)


def _download_from_run(client: MlflowClient, run_id: str, artifact_path: str, destination: str) -> str | None:
    if not client.list_artifacts(run_id, artifact_path):
        return None
    return client.download_artifacts(run_id, artifact_path, destination)


def log_with_profile(client: MlflowClient, model: ModelVersionRef, folder: Path, subpath: str = "") -> None:
    """Log the files of ``folder`` into the model version's profile folder (``reference_profile[/subpath]``) where
    :func:`attach_profile` keeps it: its LoggedModel, else its source run. For what is fitted with the profile (the
    performance estimator, the multivariate detectors)."""
    path = f"{DEFAULT_ARTIFACT_PATH}/{subpath}".rstrip("/")
    if model.model_id is not None:
        client.log_model_artifacts(model.model_id, str(folder), path)
    elif model.run_id is not None:
        client.log_artifacts(model.run_id, str(folder), path)
    else:
        raise _homeless(model, "driftloop has nowhere to keep what it fits on the reference")


def _listed(client: MlflowClient, kind: str, home: str, path: str) -> set[str]:
    items = client.list_logged_model_artifacts(home, path) if kind == "logged model" else \
        client.list_artifacts(home, path)
    return {Path(item.path).name for item in items}


def download_with_profile(client: MlflowClient, model: ModelVersionRef, subpath: str, names: Sequence[str],
                          destination: str) -> Path | None:
    """Download the files ``names`` of ``reference_profile/<subpath>`` from the home that holds the model version's
    profile (its LoggedModel when the profile is there, else its source run) into ``destination``; ``None`` when
    the profile or one of the files is not there."""
    from mlflow.artifacts import download_artifacts

    path = f"{DEFAULT_ARTIFACT_PATH}/{subpath}".rstrip("/")
    for kind, home in (("logged model", model.model_id), ("run", model.run_id)):
        if home is None:
            continue
        try:
            if PROFILE_FILE not in _listed(client, kind, home, DEFAULT_ARTIFACT_PATH):
                continue  # the profile is not kept here
            if not set(names) <= _listed(client, kind, home, path):
                return None
            target = Path(destination) / "files"
            target.mkdir(parents=True, exist_ok=True)
            for name in names:
                if kind == "logged model":
                    location = client.get_logged_model(home).artifact_location.rstrip("/")
                    local = download_artifacts(artifact_uri=f"{location}/{path}/{name}",
                                               dst_path=str(Path(destination) / "download"),
                                               tracking_uri=client.tracking_uri)
                else:
                    local = client.download_artifacts(home, f"{path}/{name}", str(Path(destination) / "download"))
                shutil.move(local, target / name)
        except (MlflowException, OSError) as exc:
            raise DriftloopError(f"Could not read {path!r} of model {model.name} version {model.version} from "
                                 f"{kind} {home}: {exc}") from exc
        return target
    return None


def load_model_profile(client: MlflowClient, model: ModelVersionRef,
                       artifact_path: str = DEFAULT_ARTIFACT_PATH) -> ReferenceProfile:
    """The reference profile kept with a model version: its LoggedModel's, else its source run's."""
    if model.model_id is None and model.run_id is None:
        raise _homeless(model, "it has no reference profile")
    homes = [(_download_from_model, model.model_id, "logged model"), (_download_from_run, model.run_id, "run")]
    looked = []
    with tempfile.TemporaryDirectory(prefix="driftloop-profile-") as tmp:
        for download, home, kind in homes:
            if home is None:
                continue
            looked.append(f"{kind} {home}")
            try:
                local = download(client, home, artifact_path, tmp)
            except (MlflowException, OSError) as exc:
                raise DriftloopError(f"Could not read the reference profile of model {model.name} version "
                                     f"{model.version} from {kind} {home}: {exc}") from exc
            if local is not None:
                return ReferenceProfile.load(local)
    raise DriftloopError(
        f"Model {model.name} version {model.version} has no reference profile at artifact path {artifact_path!r} "
        f"({' or '.join(looked)}). Attach one with: driftloop profile --model {model.name}/{model.version} "
        "--data REFERENCE")


def load_profile_for_model(
    client: MlflowClient, model_uri: str, artifact_path: str = DEFAULT_ARTIFACT_PATH
) -> ReferenceProfile:
    """Download and load the reference profile logged with the model at ``model_uri``: ``models:/NAME@ALIAS``,
    ``models:/NAME/VERSION``, ``models:/m-<id>``, ``runs:/<run_id>/<path>`` (a registered version) or
    ``runs:/<run_id>`` (a run's own profile)."""
    if match := _RUN.match(model_uri):
        model = ModelVersionRef("", "", None, match["run_id"])
        with tempfile.TemporaryDirectory(prefix="driftloop-profile-") as tmp:
            try:
                local = _download_from_run(client, match["run_id"], artifact_path, tmp)
            except (MlflowException, OSError) as exc:
                raise DriftloopError(f"The run {model.run_id} has no readable reference profile: {exc}") from exc
            if local is None:
                raise DriftloopError(f"The run {model.run_id} has no reference profile at artifact path "
                                     f"{artifact_path!r}.")
            return ReferenceProfile.load(local)
    if not model_uri.startswith(("models:/", "runs:/")):
        raise invalid_parameter("model_uri", "load_profile_for_model",
                                "'models:/<name>@<alias>', 'models:/<name>/<version>', 'models:/m-<id>', "
                                "'runs:/<run_id>/<path>' or 'runs:/<run_id>'", model_uri)
    return load_model_profile(client, resolve_model(client, model_uri), artifact_path)

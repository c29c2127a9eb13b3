"""Which registered model version a model reference designates, and where what driftloop keeps about it lives.

MLflow 3 made the model the centre: ``mlflow.sklearn.log_model(model, name="model", registered_model_name="churn")``
creates a *LoggedModel* (``models:/m-<id>``), inside a run or outside any run, and its registered version has
``source = "models:/m-<id>"`` (and no source run when it was logged outside a run; the OSS stores leave
``ModelVersion.model_id`` empty, so the id is read from the source). Models registered from a run's artifacts
(MLflow 2 style) have a source run and no LoggedModel.

Every reference a command takes resolves to one registered version (:class:`ModelVersionRef`), by
:func:`resolve_model`:

=============================================  ==========================================================
``NAME``                                       the version with alias ``champion``
``NAME@ALIAS``, ``models:/NAME@ALIAS``         the version carrying the alias
``NAME/VERSION``, ``models:/NAME/VERSION``     that version
``models:/m-<id>``                             the version registered from that LoggedModel
``runs:/<run_id>/<path>``                      the version registered from the model logged at ``path`` by the run
=============================================  ==========================================================

What driftloop keeps about a model (the reference profile, the reference performance) goes to the LoggedModel when
there is one (artifacts and metrics of the model, shown on its page in the MLflow UI), else to the source run
(:mod:`driftloop.tracking.profiles`).
"""

from __future__ import annotations

import re

from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException

from driftloop.errors import DriftloopError
from driftloop.tracking.monitoring import ModelVersionRef
from driftloop.tracking.search import versions_from

_NAMED = re.compile(r"^(?:models:/)?(?P<name>[^/@]+)(?:@(?P<alias>[^/@]+)|/(?P<version>\d+))?$")
_LOGGED_MODEL = re.compile(r"^models:/(?P<model_id>m-[0-9a-f]+)/?$")
_RUN = re.compile(r"^runs:/(?P<run_id>[^/]+)/(?P<path>.+?)/?$")
FORMS = "NAME@ALIAS, NAME/VERSION, models:/NAME@ALIAS, models:/NAME/VERSION, models:/m-<id> or runs:/<run_id>/<path>"


def logged_model_id(version: ModelVersion) -> str | None:
    """The id of the LoggedModel a registered version was made from, or None (registered from run artifacts).

    >>> logged_model_id(ModelVersion("churn", "1", 0, source="models:/m-0a1b"))
    'm-0a1b'
    >>> logged_model_id(ModelVersion("old", "1", 0, source="file:///tmp/mlruns/0/abc/artifacts/model")) is None
    True
    """
    if getattr(version, "model_id", None):
        return str(version.model_id)
    match = _LOGGED_MODEL.match(version.source or "")
    return match["model_id"] if match else None


def reference_of(version: ModelVersion, alias: str | None = None) -> ModelVersionRef:
    """The :class:`ModelVersionRef` of a registered version."""
    return ModelVersionRef(version.name, str(version.version), alias, version.run_id or None, logged_model_id(version))


def _registered_from(client: MlflowClient, model_id: str, what: str) -> ModelVersion:
    """The registered version made from LoggedModel ``model_id`` (the latest when it was registered twice)."""
    versions = versions_from(client, source=f"models:/{model_id}")
    names = sorted({v.name for v in versions})
    if not versions:
        raise DriftloopError(f"The model {what} is not registered; register it first, e.g. mlflow.register_model("
                             f"'models:/{model_id}', 'NAME'), then use NAME@ALIAS or NAME/VERSION.")
    if len(names) > 1:
        raise DriftloopError(f"The model {what} is registered under several names ({', '.join(names)}); give "
                             "NAME/VERSION instead.")
    return max(versions, key=lambda v: int(v.version))


def _logged_by_run(client: MlflowClient, run_id: str, path: str) -> ModelVersion:
    """The registered version of the model that run ``run_id`` logged under the name (artifact path) ``path``."""
    try:
        run = client.get_run(run_id)
    except MlflowException:
        raise DriftloopError(f"The run {run_id!r} of 'runs:/{run_id}/{path}' does not exist.") from None
    outputs = run.outputs.model_outputs if run.outputs else []
    for output in outputs:  # MLflow 3: the run's LoggedModels
        if client.get_logged_model(output.model_id).name == path:
            return _registered_from(client, output.model_id, f"'runs:/{run_id}/{path}'")
    made = [v for v in versions_from(client, run_id=run_id) if (v.source or "").rstrip("/").endswith(f"/{path}")]
    if not made:  # MLflow 2: a version registered from the run's artifacts
        raise DriftloopError(f"The run {run_id} logged no registered model at {path!r}; register it first, e.g. "
                             f"mlflow.register_model('runs:/{run_id}/{path}', 'NAME').")
    return max(made, key=lambda v: int(v.version))


def resolve_model(client: MlflowClient, spec: str) -> ModelVersionRef:
    """The registered version ``spec`` designates (see the module docstring for the forms)."""
    text = spec.strip()
    try:
        if match := _LOGGED_MODEL.match(text):
            try:
                client.get_logged_model(match["model_id"])
            except MlflowException:
                raise DriftloopError(f"The store has no logged model {match['model_id']!r} ({text}).") from None
            return reference_of(_registered_from(client, match["model_id"], repr(text)))
        if match := _RUN.match(text):
            return reference_of(_logged_by_run(client, match["run_id"], match["path"]))
    except MlflowException as error:
        raise DriftloopError(f"Could not resolve the model {text!r}: {error.message}") from None
    match = _NAMED.match(text)
    if match is None:
        raise DriftloopError(f"The 'model' option must look like {FORMS}; got {spec!r}.")
    name, alias, version = match["name"], match["alias"], match["version"]
    if version is None and alias is None:
        alias = "champion"
    try:
        found = client.get_model_version(name, version) if version else client.get_model_version_by_alias(name, alias)
    except MlflowException:
        what = f"version {version}" if version else f"alias {alias!r}"
        raise DriftloopError(f"The registry has no model {name!r} with {what}.") from None
    return reference_of(found, alias)



def home_of(model: ModelVersionRef) -> str:
    """Where driftloop keeps what belongs to ``model``: ``logged model m-<id>``, else ``run <id>``."""
    return f"logged model {model.model_id}" if model.model_id else f"run {model.run_id}"


def registered_name(client: MlflowClient, text: str) -> str:
    """The registered model ``text`` names: ``NAME`` itself, or the name of the version a ``models:/`` or ``runs:/``
    URI designates (``models:/m-<id>`` → the name it was registered under)."""
    return resolve_model(client, text).name if text.startswith(("models:/", "runs:/")) else text

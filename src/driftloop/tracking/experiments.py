"""Creating and finding experiments.

Every experiment driftloop creates carries the tag ``mlflow.experimentKind = custom_model_development``, the kind
MLflow 3's UI uses for model training ("Machine learning"), so that the UI opens it on its runs and charts rather
than on the GenAI traces view. MLflow 3.17's bundled UI decides the view from its workflow-type switch (the
``workflowType`` URL parameter, else the browser's saved choice, ``genai`` by default) and reads the tag only when
that switch is disabled; links driftloop prints therefore carry ``?workflowType=machine_learning``
(:func:`experiment_url`).
"""

from __future__ import annotations

from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from driftloop.errors import DriftloopError

EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
MODEL_TRAINING_KIND = "custom_model_development"
MODEL_TRAINING_VIEW = "workflowType=machine_learning"
DEFAULT_UI_ADDRESS = "http://127.0.0.1:5000"  # where `driftloop ui` serves by default


def _create(client: MlflowClient, name: str) -> str:
    return client.create_experiment(name, tags={EXPERIMENT_KIND_TAG: MODEL_TRAINING_KIND})


def create_experiment(client: MlflowClient, name: str) -> str:
    """Create experiment ``name`` and return its id; an existing name is a :class:`DriftloopError`."""
    if not name or not name.strip():
        raise DriftloopError("The experiment name must be a non-empty string; got an empty name.")
    existing = client.get_experiment_by_name(name)
    if existing is not None:
        state = "" if existing.lifecycle_stage == "active" else " (deleted; restore or purge it first)"
        raise DriftloopError(f"Experiment {name!r} already exists with ID {existing.experiment_id}{state}.")
    return _create(client, name)


def get_or_create_experiment(client: MlflowClient, name: str) -> str:
    """Return the id of experiment ``name``, creating it when missing (restoring it when deleted)."""
    existing = client.get_experiment_by_name(name)
    if existing is None:
        try:
            return _create(client, name)
        except MlflowException:  # created meanwhile by another process (two monitors started at once)
            existing = client.get_experiment_by_name(name)
            if existing is None:
                raise
    if existing.lifecycle_stage != "active":
        client.restore_experiment(existing.experiment_id)
    return existing.experiment_id


def experiment_url(base: str, experiment_id: str, run_id: str | None = None) -> str:
    """The MLflow UI address of an experiment (or of one of its runs), in the model-training view.

    >>> experiment_url("http://127.0.0.1:5000", "3", "abc")
    'http://127.0.0.1:5000/#/experiments/3/runs/abc?workflowType=machine_learning'
    """
    path = f"{base.rstrip('/')}/#/experiments/{experiment_id}" + (f"/runs/{run_id}" if run_id else "")
    return f"{path}?{MODEL_TRAINING_VIEW}"


def logged_model_url(base: str, experiment_id: str, model_id: str) -> str:
    """The MLflow UI address of an MLflow 3 LoggedModel's page (its metrics, with their datasets and runs).

    >>> logged_model_url("http://127.0.0.1:5000", "3", "m-0a1b")
    'http://127.0.0.1:5000/#/experiments/3/models/m-0a1b?workflowType=machine_learning'
    """
    return f"{base.rstrip('/')}/#/experiments/{experiment_id}/models/{model_id}?{MODEL_TRAINING_VIEW}"

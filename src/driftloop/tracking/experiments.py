"""Creating and finding experiments."""

from __future__ import annotations

from mlflow import MlflowClient

from driftloop.errors import DriftloopError


def create_experiment(client: MlflowClient, name: str) -> str:
    """Create experiment ``name`` and return its id; an existing name is a :class:`DriftloopError`."""
    if not name or not name.strip():
        raise DriftloopError("The experiment name must be a non-empty string; got an empty name.")
    existing = client.get_experiment_by_name(name)
    if existing is not None:
        state = "" if existing.lifecycle_stage == "active" else " (deleted; restore or purge it first)"
        raise DriftloopError(f"Experiment {name!r} already exists with ID {existing.experiment_id}{state}.")
    return client.create_experiment(name)


def get_or_create_experiment(client: MlflowClient, name: str) -> str:
    """Return the id of experiment ``name``, creating it when missing (restoring it when deleted)."""
    existing = client.get_experiment_by_name(name)
    if existing is None:
        return client.create_experiment(name)
    if existing.lifecycle_stage != "active":
        client.restore_experiment(existing.experiment_id)
    return existing.experiment_id

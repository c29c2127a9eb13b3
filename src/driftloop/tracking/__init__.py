"""Everything that talks to MLflow, through one injected :class:`mlflow.MlflowClient`."""

from driftloop.tracking.store import connect

__all__ = ["connect"]

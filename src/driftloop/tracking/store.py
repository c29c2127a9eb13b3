"""Opening the MLflow tracking store and registry.

The store is chosen once (:func:`driftloop.settings.resolve_tracking_uri`) and passed explicitly as an
:class:`~mlflow.MlflowClient`; library code never relies on the fluent API's global state, except where MLflow
itself requires it (:func:`mlflow.projects.run`), which :func:`use_tracking_uri` scopes.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import mlflow
from mlflow import MlflowClient

from driftloop.settings import resolve_tracking_uri


def connect(tracking_uri: str | None = None) -> MlflowClient:
    """Return a client on the tracking store and model registry at ``tracking_uri`` (resolved by precedence).

    The registry lives in the same store as the runs, as with ``mlflow ui`` on a database.
    """
    uri = resolve_tracking_uri(tracking_uri)
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


@contextlib.contextmanager
def use_tracking_uri(uri: str) -> Iterator[None]:
    """Point MLflow's fluent API at ``uri`` for the duration of the block, then restore the previous setting."""
    previous_tracking, previous_registry = mlflow.get_tracking_uri(), mlflow.get_registry_uri()
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    try:
        yield
    finally:
        mlflow.set_tracking_uri(previous_tracking)
        mlflow.set_registry_uri(previous_registry)

"""Opening the MLflow tracking store and registry.

The store is chosen once (:func:`driftloop.settings.resolve_tracking_uri`) and passed explicitly as an
:class:`~mlflow.MlflowClient`; library code never relies on the fluent API's global state, except where MLflow
itself requires it (:func:`mlflow.projects.run`), which :func:`use_tracking_uri` scopes.
"""

from __future__ import annotations

import contextlib
import os
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
    """Point MLflow's fluent API at ``uri`` for the duration of the block, then restore exactly what was there.

    ``mlflow.set_tracking_uri`` also exports ``MLFLOW_TRACKING_URI`` (and the registry its variable) for
    subprocesses; restoring only the fluent setting would leave the variable behind and silently redirect every
    later command of this process, so both the module state and the environment are put back.
    """
    from mlflow.tracking._model_registry import utils as registry_state
    from mlflow.tracking._tracking_service import utils as tracking_state

    saved_environment = {name: os.environ.get(name) for name in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")}
    saved_tracking, saved_registry = tracking_state._tracking_uri, registry_state._registry_uri
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    try:
        yield
    finally:
        tracking_state._tracking_uri = saved_tracking
        registry_state._registry_uri = saved_registry
        for name, value in saved_environment.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value

"""Reading a run's metrics: the latest value of each, or one metric's history."""

from __future__ import annotations

from dataclasses import dataclass

from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from driftloop.errors import DriftloopError


@dataclass(frozen=True)
class MetricPoint:
    """One logged value of a metric: its step, its timestamp (ms since the epoch) and its value."""

    step: int
    timestamp: int
    value: float


def _get_run(client: MlflowClient, run_id: str):
    try:
        return client.get_run(run_id)
    except MlflowException as error:
        if "RESOURCE_DOES_NOT_EXIST" in str(error.error_code) or "not found" in str(error).lower():
            raise DriftloopError(f"No run with ID {run_id!r} in the tracking store.") from None
        raise


def latest_metrics(client: MlflowClient, run_id: str) -> dict[str, float]:
    """The latest value of every metric of run ``run_id``, sorted by metric name."""
    run = _get_run(client, run_id)
    return dict(sorted(run.data.metrics.items()))


def metric_history(client: MlflowClient, run_id: str, name: str) -> list[MetricPoint]:
    """Every logged value of metric ``name`` in run ``run_id``, ordered by step then timestamp."""
    run = _get_run(client, run_id)
    if name not in run.data.metrics:
        known = ", ".join(sorted(run.data.metrics)) or "none"
        raise DriftloopError(f"Run {run_id} has no metric {name!r}; its metrics are: {known}.")
    history = client.get_metric_history(run_id, name)
    points = [MetricPoint(int(m.step), int(m.timestamp), float(m.value)) for m in history]
    return sorted(points, key=lambda p: (p.step, p.timestamp))


def format_metrics(metrics: dict[str, float]) -> str:
    """Format metrics one a line, ``accuracy: 0.85`` (sorted by name, up to 6 significant digits): a monitoring
    run has hundreds of them.

    >>> print(format_metrics({"loss": 0.35, "accuracy": 0.851234567}))
    accuracy: 0.851235
    loss: 0.35
    """
    return "\n".join(f"{name}: {value:.6g}" for name, value in sorted(metrics.items()))

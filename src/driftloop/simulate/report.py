"""Showing and recording simulation results: a rich table, JSON lines, one MLflow run per policy."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence

from rich.table import Table

from driftloop.simulate.replay import PolicyResult, result_keys

EXPERIMENT = "simulation"


def _number(value: float) -> float | None:
    return None if math.isnan(value) else round(value, 4)


def _figure(value: float) -> str:
    """An error figure with one decimal when it is 10 or more, else three significant digits (wine's MAE is < 1).

    >>> _figure(103.609), _figure(45.7085), _figure(0.61234)
    ('103.6', '45.7', '0.612')
    """
    return f"{value:.1f}" if abs(value) >= 10 else f"{value:.3g}"


def _figures(result: PolicyResult) -> tuple[str, ...]:
    """The metric keys of a result row: mae, rmse for regression; accuracy, log_loss, roc_auc for classification."""
    return tuple(key for key in result_keys(result.task) if key not in COUNTS)


HEADERS = {"mae": "MAE", "rmse": "RMSE", "accuracy": "accuracy", "log_loss": "log loss", "roc_auc": "ROC AUC"}
COUNTS = ("policy", "retrains", "skipped", "alerts", "promotions", "rejected")


def _cell(result: PolicyResult, key: str) -> str:
    value = getattr(result, key)
    if isinstance(value, float) and math.isnan(value):
        return "-"
    return _figure(value) if key in ("mae", "rmse") else (f"{value:.3f}" if isinstance(value, float) else str(value))


def as_json_lines(results: Sequence[PolicyResult]) -> list[str]:
    """One JSON object per policy with the keys of :func:`~driftloop.simulate.replay.result_keys`: policy, mae,
    rmse (or accuracy, log_loss, roc_auc for a classifier), retrains, skipped, alerts, promotions, rejected."""
    lines = []
    for result in results:
        summary = result.summary()
        for key in _figures(result):
            summary[key] = _number(getattr(result, key))
        lines.append(json.dumps(summary))
    return lines


def _columns(results: Sequence[PolicyResult]) -> tuple[str, ...]:
    return result_keys(results[0].task if results else "regression")


def as_table(results: Sequence[PolicyResult], *, title: str = "Retraining policies") -> Table:
    table = Table(title=title)
    names = max((len(r.policy) for r in results), default=6)
    for column in _columns(results):  # policy names whole, on one line: a narrow terminal squeezes the counts
        if column == "policy":
            table.add_column("policy", justify="left", no_wrap=True, min_width=names)
        else:
            table.add_column(HEADERS.get(column, column), justify="right")
    for r in results:
        table.add_row(*(_cell(r, key) for key in _columns(results)))
    return table


def as_markdown(results: Sequence[PolicyResult]) -> str:
    columns = _columns(results)
    rows = ["| " + " | ".join(HEADERS.get(c, c) for c in columns) + " |",
            "|---|" + "---:|" * (len(columns) - 1)]
    rows += ["| " + " | ".join(_cell(r, key) for key in columns) + " |" for r in results]
    return "\n".join(rows)


def log_simulation(client, results: Sequence[PolicyResult], params: dict[str, str]) -> list[str]:
    """One run per policy in the experiment ``simulation``: per-window metrics (step = window index) with
    ``log_batch``, the summary as metrics, the policy events as a text artifact. Returns the run ids."""
    from mlflow.entities import Metric, Param

    from driftloop.tracking.experiments import get_or_create_experiment
    from driftloop.tracking.metric_names import MetricNames, record_metric_names

    experiment_id = get_or_create_experiment(client, EXPERIMENT)
    run_ids = []
    for result in results:
        run = client.create_run(experiment_id, run_name=f"simulate {result.policy}")
        run_id = run.info.run_id
        metrics = []
        names = MetricNames()
        names.add(key for window in result.windows for key in window.metrics)
        for window in result.windows:
            stamp = int(window.end.timestamp() * 1000)
            for key, value in window.metrics.items():
                if isinstance(value, (int, float)) and math.isfinite(value):
                    metrics.append(Metric(f"window/{names.metric(key)}", float(value), stamp, window.index))
        for key in result_keys(result.task)[1:]:
            value = float(getattr(result, key))
            if math.isfinite(value):
                metrics.append(Metric(key, value, 0, 0))
        parameters = [Param(k, str(v)) for k, v in {**params, "policy": result.policy}.items()]
        for start in range(0, len(metrics), 1000):
            client.log_batch(run_id, metrics=metrics[start:start + 1000],
                             params=parameters if start == 0 else [])
        if not metrics:
            client.log_batch(run_id, params=parameters)
        record_metric_names(client, run_id, names)
        client.log_text(run_id, "\n".join(result.events) + "\n", "events.txt")
        client.set_terminated(run_id)
        run_ids.append(run_id)
    return run_ids

"""Monitoring runs in MLflow: one run per model version, every window figure a metric time series.

- Experiment ``model-monitoring`` (created when missing); one run per model version, found again by its tags
  ``driftloop.model_name`` and ``driftloop.model_version``.
- Each window's metrics are logged with ``step`` = window index and ``timestamp`` = window end (ms), in batches of
  up to 1,000 with ``log_batch``, so the MLflow UI charts them over time.
- Idempotent: a window whose end is not after the last logged window's end is not logged again; new windows are
  appended after the last logged step. Each pass also logs its windows as JSON (``windows/pass-<step>.json``) so
  that alert rules over consecutive windows and the report see the whole history.

Known limits: a window is identified by its end, so labels that arrive after a window was logged do not update its
performance figures (the next windows carry them); count windows (``--rows``) without a timestamp are identified by
row offsets, so a re-run treats the file as append-only.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from mlflow import MlflowClient
from mlflow.entities import Metric, RunTag

from driftloop.monitor.results import FeatureDistribution, WindowResult
from driftloop.tracking.experiments import get_or_create_experiment

MAX_METRICS_PER_BATCH = 1000
WINDOWS_ARTIFACT_DIR = "windows"


@dataclass(frozen=True)
class ModelVersionRef:
    """A registered model version, and the alias it was reached by (if any)."""

    name: str
    version: str
    alias: str | None
    run_id: str | None


def monitoring_run(client: MlflowClient, experiment: str, model: ModelVersionRef) -> str:
    """The id of the monitoring run of ``model`` in ``experiment``, created (and tagged) when missing."""
    experiment_id = get_or_create_experiment(client, experiment)
    query = (
        f"tags.`driftloop.model_name` = '{model.name}' and tags.`driftloop.model_version` = '{model.version}'"
    )
    found = client.search_runs([experiment_id], filter_string=query, max_results=1, order_by=["start_time ASC"])
    if found:
        return found[0].info.run_id
    tags = {
        "driftloop.model_name": model.name,
        "driftloop.model_version": model.version,
        "driftloop.kind": "monitoring",
    }
    if model.alias:
        tags["driftloop.model_alias"] = model.alias
    if model.run_id:
        tags["driftloop.model_run_id"] = model.run_id
    run = client.create_run(experiment_id, tags=tags, run_name=f"monitor {model.name} v{model.version}")
    return run.info.run_id


def _window_from_json(document: dict) -> WindowResult:
    window = WindowResult(
        int(document["window"]),
        pd.Timestamp(document["start"]),
        pd.Timestamp(document["end"]),
        int(document["rows"]),
        {k: (float("nan") if v is None else float(v)) for k, v in document["metrics"].items()},
        document["verdict"],
        list(document["reasons"]),
    )
    window.distributions = [FeatureDistribution(**d) for d in document.get("distributions", [])]
    return window


def _window_to_json(window: WindowResult) -> dict:
    document = window.to_json()
    document["distributions"] = [d.__dict__ for d in window.distributions]
    return document


def logged_windows(client: MlflowClient, run_id: str) -> list[WindowResult]:
    """Every window logged in earlier passes of this run, in step order."""
    with tempfile.TemporaryDirectory(prefix="driftloop-windows-") as tmp:
        try:
            folder = client.download_artifacts(run_id, WINDOWS_ARTIFACT_DIR, tmp)
        except Exception:  # no pass logged yet: MLflow raises a store-specific error for a missing path
            return []
        windows = []
        for path in sorted(Path(folder).glob("pass-*.json")):
            windows.extend(_window_from_json(d) for d in json.loads(path.read_text()))
    return sorted(windows, key=lambda w: w.index)


def log_windows(client: MlflowClient, run_id: str, windows: Sequence[WindowResult]) -> int:
    """Log the windows' metrics (NaN skipped) in batches, and the windows as one JSON artifact; return the number
    of metric points written."""
    if not windows:
        return 0
    points = [
        Metric(key, float(value), int(window.end.value // 1_000_000), window.index)
        for window in windows
        for key, value in window.metrics.items()
        if value == value
    ]
    for start in range(0, len(points), MAX_METRICS_PER_BATCH):
        client.log_batch(run_id, metrics=points[start: start + MAX_METRICS_PER_BATCH], synchronous=True)
    with tempfile.TemporaryDirectory(prefix="driftloop-pass-") as tmp:
        path = Path(tmp) / f"pass-{windows[0].index:06d}.json"
        path.write_text(json.dumps([_window_to_json(w) for w in windows]))
        client.log_artifact(run_id, str(path), WINDOWS_ARTIFACT_DIR)
    return len(points)


def log_pass_summary(client: MlflowClient, run_id: str, all_windows: Sequence[WindowResult], report_html: str) -> None:
    """Tag the run with the latest verdict and alert state, and log ``report.html``."""
    latest = all_windows[-1] if all_windows else None
    alerts = [w for w in all_windows if w.verdict == "alert"]
    tags = [
        RunTag("driftloop.windows", str(len(all_windows))),
        RunTag("driftloop.last_verdict", latest.verdict if latest else "none"),
        RunTag("driftloop.alert", "true" if latest is not None and latest.verdict == "alert" else "false"),
        RunTag("driftloop.alert_windows", str(len(alerts))),
        RunTag("driftloop.updated", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())),
    ]
    if latest is not None and latest.reasons:
        tags.append(RunTag("driftloop.last_reasons", "; ".join(latest.reasons)[:4900]))
    client.log_batch(run_id, tags=tags, synchronous=True)
    with tempfile.TemporaryDirectory(prefix="driftloop-report-") as tmp:
        path = Path(tmp) / "report.html"
        path.write_text(report_html, encoding="utf-8")
        client.log_artifact(run_id, str(path))

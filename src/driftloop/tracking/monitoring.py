"""Monitoring runs in MLflow: one run per model version and window definition, every window figure a metric time
series, written once.

Layout of a monitoring run (experiment ``model-monitoring``, created when missing)
----------------------------------------------------------------------------------
* Found again by its tags ``driftloop.model_name``, ``driftloop.model_version`` and ``driftloop.window_definition``
  (how its windows are cut: ``by time, 7 days 00:00:00`` or ``by count, 400 rows in file order``); a pass with
  another definition goes to another run. ``driftloop.window_origin`` holds the start of step 0 of time windows, so
  that a window keeps its step across passes (step = windows since the origin).
* **Closed windows** (final, see :mod:`driftloop.monitor.lifecycle`) are the run's chart series: each window's
  metrics are logged once, with ``step`` = window step and ``timestamp`` = window end (ms), in batches of up to
  1,000 with ``log_batch``. A metric about a column is logged under an MLflow-valid name
  (:mod:`driftloop.tracking.metric_names`; the mapping is the run's artifact ``metric_names.json``). The figures of the windows closed by one pass are also kept as JSON
  (``windows/pass-<first step>.json``) for the alert rules over consecutive windows and the report.
* **Open windows** (rows or labels may still arrive) are re-assessed on every pass. Their provisional figures go to
  a child run ``<run name> · open windows`` (tag ``driftloop.kind = provisional``, nested under the monitoring run),
  with the same metric keys and steps, and ``windows/open.json``. Each pass writes a fresh child run and deletes the
  previous one: no (metric, step) ever holds two points, in either run, and the experiment's chart view shows the
  final series continued by the provisional one.
* **Verdicts.** Every change of a window's verdict (its first non-ok verdict, and any later revision) is appended
  to the run as ``verdicts/<pass time>.json``: window, verdict, previous verdict, reasons, whether the window was
  closed, whether the alert was notified. Nothing in it is ever rewritten; the report and the CLI say when a verdict
  was revised. A window's alert is notified once (the record says which were).
* **Status.** A pass sets the run RUNNING while it writes and FINISHED (FAILED on an error) when it ends: the MLflow
  UI shows a monitoring run as running only while a pass is writing to it.
* **Concurrency.** A pass reads the record, writes and notifies under the model's ``monitor`` lock
  (:func:`driftloop.tracking.registry.registry_lock`), re-reading the record once it holds the lock: two monitors
  of one model write each window once and notify each alert once.
"""

from __future__ import annotations

import json
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from mlflow import MlflowClient
from mlflow.entities import Metric, RunTag

from driftloop.monitor.results import FeatureDistribution, WindowResult
from driftloop.tracking.experiments import get_or_create_experiment
from driftloop.tracking.metric_names import MetricNames, read_metric_names, record_metric_names
from driftloop.tracking.model_page import WindowLink
from driftloop.tracking.registry import registry_lock
from driftloop.tracking.search import runs_with_tags

MAX_METRICS_PER_BATCH = 1000
WINDOWS_ARTIFACT_DIR = "windows"
VERDICTS_ARTIFACT_DIR = "verdicts"
OPEN_WINDOWS_FILE = "open.json"
DEFINITION_TAG = "driftloop.window_definition"
ORIGIN_TAG = "driftloop.window_origin"
PROVISIONAL = "provisional"


@dataclass(frozen=True)
class ModelVersionRef:
    """A registered model version, the alias it was reached by (if any), its source run and its MLflow 3
    LoggedModel (``models:/m-<id>``), each None when it has none."""

    name: str
    version: str
    alias: str | None
    run_id: str | None
    model_id: str | None = None


@dataclass(frozen=True)
class MonitoringRun:
    """A monitoring run: its id, name, window definition and (time windows) the start of step 0."""

    run_id: str
    name: str
    definition: str
    origin: pd.Timestamp | None


@contextmanager
def monitor_lock(client: MlflowClient, model: ModelVersionRef) -> Iterator[None]:
    """The exclusive lock of the monitoring passes of ``model`` (one file lock per SQLite store, else a lease)."""
    with registry_lock(client, model.name, scope="monitor"):
        yield


def monitoring_run(client: MlflowClient, experiment: str, model: ModelVersionRef, definition: str,
                   origin: pd.Timestamp | None) -> MonitoringRun:
    """The monitoring run of ``model`` with windows cut by ``definition`` in ``experiment``, created (and tagged,
    with ``origin`` as the start of step 0) when missing."""
    experiment_id = get_or_create_experiment(client, experiment)
    wanted = {"driftloop.model_name": model.name, "driftloop.model_version": model.version, DEFINITION_TAG: definition}
    with monitor_lock(client, model):
        found = runs_with_tags(client, [experiment_id], wanted, order_by=["start_time ASC"])
        if found:
            run = found[0]
        else:
            tags = {
                "driftloop.model_name": model.name,
                "driftloop.model_version": model.version,
                "driftloop.kind": "monitoring",
                DEFINITION_TAG: definition,
            }
            if origin is not None:
                tags[ORIGIN_TAG] = origin.isoformat()
            if model.alias:
                tags["driftloop.model_alias"] = model.alias
            if model.run_id:
                tags["driftloop.model_run_id"] = model.run_id
            run = client.create_run(experiment_id, tags=tags, run_name=f"monitor {model.name} v{model.version}")
            client.set_terminated(run.info.run_id, "FINISHED")
    recorded = run.data.tags.get(ORIGIN_TAG)
    return MonitoringRun(run.info.run_id, run.info.run_name, definition,
                         pd.Timestamp(recorded) if recorded else None)


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


def _read_json_files(client: MlflowClient, run_id: str, folder: str, pattern: str) -> list:
    """The JSON documents of ``folder/pattern`` in the run's artifacts, in file name order."""
    with tempfile.TemporaryDirectory(prefix="driftloop-artifacts-") as tmp:
        try:
            local = client.download_artifacts(run_id, folder, tmp)
        except Exception:  # nothing logged there yet: MLflow raises a store-specific error for a missing path
            return []
        return [json.loads(path.read_text()) for path in sorted(Path(local).glob(pattern))]


def _log_json(client: MlflowClient, run_id: str, folder: str, name: str, document: object) -> None:
    with tempfile.TemporaryDirectory(prefix="driftloop-json-") as tmp:
        path = Path(tmp) / name
        path.write_text(json.dumps(document))
        client.log_artifact(run_id, str(path), folder)


@dataclass
class MonitoringState:
    """What earlier passes recorded in a monitoring run."""

    closed: dict[int, WindowResult] = field(default_factory=dict)  # final windows, by step
    open: dict[int, WindowResult] = field(default_factory=dict)  # the last pass's provisional windows, by step
    provisional_run_id: str | None = None
    verdicts: dict[int, str] = field(default_factory=dict)  # the last verdict recorded for each step
    notified: set[int] = field(default_factory=set)  # steps whose alert was notified


def _provisional_runs(client: MlflowClient, run_id: str) -> list:
    experiment_id = client.get_run(run_id).info.experiment_id
    return runs_with_tags(client, [experiment_id], {"mlflow.parentRunId": run_id, "driftloop.kind": PROVISIONAL},
                          order_by=["start_time DESC"])


def read_state(client: MlflowClient, run_id: str) -> MonitoringState:
    """The closed windows, the open ones, and the verdict record of a monitoring run."""
    state = MonitoringState()
    for document in _read_json_files(client, run_id, WINDOWS_ARTIFACT_DIR, "pass-*.json"):
        for window in map(_window_from_json, document):
            state.closed[window.index] = window
    provisional = _provisional_runs(client, run_id)
    if provisional:
        state.provisional_run_id = provisional[0].info.run_id
        for document in _read_json_files(client, state.provisional_run_id, WINDOWS_ARTIFACT_DIR, OPEN_WINDOWS_FILE):
            state.open = {w.index: w for w in map(_window_from_json, document)}
    for document in _read_json_files(client, run_id, VERDICTS_ARTIFACT_DIR, "*.json"):
        for entry in document:
            state.verdicts[int(entry["window"])] = entry["verdict"]
            if entry.get("notified"):
                state.notified.add(int(entry["window"]))
    return state


def _metric_names(client: MlflowClient, run_id: str, windows: Sequence[WindowResult]) -> MetricNames:
    """The MLflow names of the windows' metrics (:mod:`driftloop.tracking.metric_names`): the mapping recorded with
    the monitoring run, extended (and recorded again) when these windows bring new columns."""
    names = read_metric_names(client, run_id)
    known = dict(names.segments)
    names.add(key for window in windows for key in window.metrics)
    if names.segments != known:
        record_metric_names(client, run_id, names)
    return names


def _log_metrics(client: MlflowClient, run_id: str, windows: Sequence[WindowResult], names: MetricNames,
                 links: Mapping[int, WindowLink] | None = None) -> int:
    """Log the windows' metrics (NaN skipped) under their MLflow ``names`` in batches; the ``rows`` points come
    last, so that a window whose ``rows`` point exists was logged whole (what a recovery after a crash between
    batches can rely on). A window with a link in ``links`` has its headline metrics linked to the model
    (:mod:`driftloop.tracking.model_page`)."""
    links = links or {}
    points = [
        Metric(names.metric(key), float(value), int(window.end.value // 1_000_000), window.index,
               **(links[window.index].metric_fields(key) if window.index in links else {}))
        for window in windows
        for key, value in window.metrics.items()
        if value == value
    ]
    points.sort(key=lambda point: point.key == "rows")
    for start in range(0, len(points), MAX_METRICS_PER_BATCH):
        client.log_batch(run_id, metrics=points[start: start + MAX_METRICS_PER_BATCH], synchronous=True)
    return len(points)


def log_closed_windows(client: MlflowClient, run_id: str, windows: Sequence[WindowResult],
                       links: Mapping[int, WindowLink] | None = None) -> int:
    """Write the windows that close in this pass to the run's chart series (once: a closed window is final) and as
    ``windows/pass-<first step>.json``, the headline metrics of those in ``links`` linked to the model; return the
    number of metric points written."""
    if not windows:
        return 0
    points = _log_metrics(client, run_id, windows, _metric_names(client, run_id, windows), links)
    _log_json(client, run_id, WINDOWS_ARTIFACT_DIR, f"pass-{windows[0].index:06d}.json",
              [_window_to_json(w) for w in windows])
    return points


def replace_open_windows(client: MlflowClient, run: MonitoringRun, windows: Sequence[WindowResult],
                         previous_run_id: str | None) -> int:
    """Write the open windows' provisional figures to a fresh child run and delete the previous one; return the
    number of metric points written."""
    points = 0
    if windows:
        experiment_id = client.get_run(run.run_id).info.experiment_id
        child = client.create_run(
            experiment_id, run_name=f"{run.name} · open windows",
            tags={"mlflow.parentRunId": run.run_id, "driftloop.kind": PROVISIONAL,
                  "driftloop.open_steps": f"{windows[0].index}-{windows[-1].index}",
                  "mlflow.note.content": "Provisional figures of the windows still open (rows or labels may still "
                                         "arrive); replaced on every monitoring pass. Final figures are in the "
                                         "parent run."})
        names = _metric_names(client, run.run_id, windows)  # the parent's names: the child continues its series
        record_metric_names(client, child.info.run_id, names)
        points = _log_metrics(client, child.info.run_id, windows, names)
        _log_json(client, child.info.run_id, WINDOWS_ARTIFACT_DIR, OPEN_WINDOWS_FILE,
                  [_window_to_json(w) for w in windows])
        client.set_terminated(child.info.run_id, "FINISHED")
    if previous_run_id is not None:
        client.delete_run(previous_run_id)
    return points


def record_verdicts(client: MlflowClient, run_id: str, entries: Sequence[dict]) -> None:
    """Append verdict changes (and notifications) to the run's record, as ``verdicts/<pass time>.json``."""
    if not entries:
        return
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + f"-{time.time_ns() % 1_000_000_000:09d}"
    recorded_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    _log_json(client, run_id, VERDICTS_ARTIFACT_DIR, f"{stamp}-{uuid.uuid4().hex[:6]}.json",
              [{**entry, "recorded": recorded_at} for entry in entries])


@contextmanager
def writing_pass(client: MlflowClient, run_id: str) -> Iterator[None]:
    """Mark the run RUNNING while a pass writes to it, then FINISHED (FAILED when the pass raises)."""
    client.update_run(run_id, status="RUNNING")
    try:
        yield
    except BaseException:
        client.set_terminated(run_id, "FAILED")
        raise
    client.set_terminated(run_id, "FINISHED")


def log_pass_summary(client: MlflowClient, run_id: str, all_windows: Sequence[WindowResult], open_windows: int,
                     report_html: str) -> None:
    """Tag the run with the latest verdict and alert state, and log ``report.html``."""
    latest = all_windows[-1] if all_windows else None
    alerts = [w for w in all_windows if w.verdict == "alert"]
    tags = [
        RunTag("driftloop.windows", str(len(all_windows))),
        RunTag("driftloop.open_windows", str(open_windows)),
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

"""Monitoring runs in MLflow: one run per model version and window definition, every window figure a metric time
series, written once.

Layout of a monitoring run (experiment ``model-monitoring``, created when missing)
----------------------------------------------------------------------------------
* Found again by its tags ``driftloop.model_name``, ``driftloop.model_version`` and ``driftloop.window_definition``
  (how its windows are cut: ``by time, 7 days 00:00:00 of 'ts'`` or ``by count, 400 rows in file order``) and, for
  count windows, ``driftloop.data_digest`` over ``driftloop.data_digest_rows`` rows (the identity of the data,
  :mod:`driftloop.data.identity`: count windows are numbered by their place in it); a pass with another definition
  or other data goes to another run. ``driftloop.window_origin`` holds the start of step 0 of time windows, so
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
  was revised. A window's alert (or ``unknown`` verdict) is notified once (the record says which were).
* **Status.** A pass sets the run RUNNING while it writes and FINISHED (FAILED on an error) when it ends: the MLflow
  UI shows a monitoring run as running only while a pass is writing to it — or after a pass that lost its store,
  which could not be told the pass failed: the run shows RUNNING until the next pass completes it.
* **Crashes.** The steps a pass is about to log are recorded in the tag ``driftloop.writing_steps`` and cleared
  once their JSON record is written; the next pass reads back the points a crashed one left at those steps and
  logs none of them again (:func:`adopt_stored_figures`). Every earlier provisional child is deleted when a new one
  is written.
* **Concurrency.** A pass reads the record, writes and notifies under the model's ``monitor`` lock
  (:func:`driftloop.tracking.registry.registry_lock`), re-reading the record once it holds the lock: two monitors
  of one model write each window once and notify each alert once.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
import time
import uuid
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
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
DIGEST_TAG = "driftloop.data_digest"
DIGEST_ROWS_TAG = "driftloop.data_digest_rows"
WRITING_TAG = "driftloop.writing_steps"
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
class DataIdentity:
    """How a pass's data is told apart from other data cut by count (:mod:`driftloop.data.identity`): ``digest(k)``
    is the digest of its first ``k`` rows (None when it has fewer), ``rows`` how many a new record covers."""

    rows: int
    digest: Callable[[int], str | None]

    def matches(self, tags: Mapping[str, str]) -> bool:
        """Whether the data is the one recorded in a run's ``tags`` (or grew from it)."""
        recorded, rows = tags.get(DIGEST_TAG), tags.get(DIGEST_ROWS_TAG, "")
        return recorded is not None and rows.isdigit() and self.digest(int(rows)) == recorded


@dataclass(frozen=True)
class MonitoringRun:
    """A monitoring run: its id, name, window definition, (time windows) the start of step 0, whether this pass
    created it, its data (count windows: the digest of the first rows) and the model version's other monitoring
    runs in the experiment, as ``(run id, definition)``."""

    run_id: str
    name: str
    definition: str
    origin: pd.Timestamp | None
    created: bool = False
    data: str | None = None
    others: tuple[tuple[str, str], ...] = ()


def _describe(tags: Mapping[str, str]) -> str:
    """A run's window definition, with its data's digest for count windows."""
    definition = tags.get(DEFINITION_TAG, "windows of unknown definition")
    digest = tags.get(DIGEST_TAG)
    return f"{definition} of data {digest} (first {tags.get(DIGEST_ROWS_TAG)} rows)" if digest else definition


@contextmanager
def monitor_lock(client: MlflowClient, model: ModelVersionRef) -> Iterator[None]:
    """The exclusive lock of the monitoring passes of ``model`` (one file lock per SQLite store, else a lease)."""
    with registry_lock(client, model.name, scope="monitor"):
        yield


def monitoring_run(client: MlflowClient, experiment: str, model: ModelVersionRef, definition: str,
                   origin: pd.Timestamp | None, identity: DataIdentity | None = None) -> MonitoringRun:
    """The monitoring run of ``model`` with windows cut by ``definition`` in ``experiment`` — and, for count windows
    (``identity``), from the same data, grown at its end — created (and tagged, with ``origin`` as the start of
    step 0 and the data's digest) when there is none. A run found from fewer rows than ``identity.rows`` has its
    digest extended to them."""
    experiment_id = get_or_create_experiment(client, experiment)
    wanted = {"driftloop.model_name": model.name, "driftloop.model_version": model.version,
              "driftloop.kind": "monitoring"}
    with monitor_lock(client, model):
        runs = runs_with_tags(client, [experiment_id], wanted, order_by=["start_time ASC"])
        found = [r for r in runs if r.data.tags.get(DEFINITION_TAG) == definition
                 and (identity is None or identity.matches(r.data.tags))]
        digest_tags = {DIGEST_TAG: identity.digest(identity.rows) or "", DIGEST_ROWS_TAG: str(identity.rows)} \
            if identity is not None else {}
        if found:
            run = found[0]
            if identity is not None and int(run.data.tags[DIGEST_ROWS_TAG]) < identity.rows:
                client.log_batch(run.info.run_id, tags=[RunTag(k, v) for k, v in digest_tags.items()],
                                 synchronous=True)
                run = client.get_run(run.info.run_id)
        else:
            tags = {**wanted, DEFINITION_TAG: definition, **digest_tags}
            if origin is not None:
                tags[ORIGIN_TAG] = origin.isoformat()
            if model.alias:
                tags["driftloop.model_alias"] = model.alias
            if model.run_id:
                tags["driftloop.model_run_id"] = model.run_id
            run = client.create_run(experiment_id, tags=tags, run_name=f"monitor {model.name} v{model.version}")
            client.set_terminated(run.info.run_id, "FINISHED")
    recorded = run.data.tags.get(ORIGIN_TAG)
    others = tuple((r.info.run_id, _describe(r.data.tags)) for r in runs if r.info.run_id != run.info.run_id)
    return MonitoringRun(run.info.run_id, run.info.run_name, definition,
                         pd.Timestamp(recorded) if recorded else None, created=not found,
                         data=_describe(run.data.tags) if identity is not None else None, others=others)


def _window_from_json(document: dict) -> WindowResult:
    by_rows = "first_row" in document  # a count window without time stamps (WindowResult.bounds)
    start, end = ((pd.Timestamp(int(document["first_row"]) - 1, tz="UTC"), pd.Timestamp(int(document["last_row"]),
                                                                                          tz="UTC"))
                  if by_rows else (pd.Timestamp(document["start"]), pd.Timestamp(document["end"])))
    window = WindowResult(
        int(document["window"]),
        start,
        end,
        int(document["rows"]),
        {k: (float("nan") if v is None else float(v)) for k, v in document["metrics"].items()},
        document["verdict"],
        list(document["reasons"]),
        by_rows=by_rows,
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
    provisional_run_ids: list[str] = field(default_factory=list)  # every provisional child, the newest first
    verdicts: dict[int, str] = field(default_factory=dict)  # the last verdict recorded for each step
    notified: dict[int, str] = field(default_factory=dict)  # the verdict last notified for each step
    interrupted: set[int] = field(default_factory=set)  # steps whose logging a pass began and did not record


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
    state.provisional_run_ids = [child.info.run_id for child in provisional]
    for child in provisional:  # the newest written whole (a pass that crashed may have left one half written)
        documents = _read_json_files(client, child.info.run_id, WINDOWS_ARTIFACT_DIR, OPEN_WINDOWS_FILE) \
            if child.info.status == "FINISHED" else []
        if documents:
            state.open = {w.index: w for w in map(_window_from_json, documents[0])}
            break
    state.interrupted = _parse_steps(client.get_run(run_id).data.tags.get(WRITING_TAG, "")) - set(state.closed)
    for document in _read_json_files(client, run_id, VERDICTS_ARTIFACT_DIR, "*.json"):
        for entry in document:
            state.verdicts[int(entry["window"])] = entry["verdict"]
            if entry.get("notified"):
                state.notified[int(entry["window"])] = entry["verdict"]
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


def _format_steps(steps: Iterable[int]) -> str:
    return " ".join(map(str, sorted(steps)))


def _parse_steps(text: str) -> set[int]:
    return {int(part) for part in text.split()}


def _log_metrics(client: MlflowClient, run_id: str, windows: Sequence[WindowResult], names: MetricNames, *,
                 stored: Collection[tuple[str, int]] = (), links: Mapping[int, WindowLink] | None = None) -> int:
    """Log the windows' metrics (NaN skipped, and every (name, step) in ``stored``) under their MLflow ``names`` in
    batches; the ``rows`` points come last, so that a window whose ``rows`` point exists was logged whole. A window
    with a link in ``links`` has its headline metrics linked to the model (:mod:`driftloop.tracking.model_page`)."""
    links = links or {}
    points = [
        Metric(names.metric(key), float(value), int(window.end.value // 1_000_000), window.index,
               **(links[window.index].metric_fields(key) if window.index in links else {}))
        for window in windows
        for key, value in window.metrics.items()
        if value == value and (names.metric(key), window.index) not in stored
    ]
    points.sort(key=lambda point: point.key == "rows")
    for start in range(0, len(points), MAX_METRICS_PER_BATCH):
        client.log_batch(run_id, metrics=points[start: start + MAX_METRICS_PER_BATCH], synchronous=True)
    return len(points)


def adopt_stored_figures(client: MlflowClient, run_id: str, windows: Sequence[WindowResult]) -> set[tuple[str, int]]:
    """After a pass that crashed while logging (:attr:`MonitoringState.interrupted`): read back every point the run
    holds at the steps of ``windows``, give those windows the stored values (a point in the chart is never logged
    twice, so what reached the chart is the window's figure), and return the stored ``(MLflow name, step)`` pairs,
    which :func:`log_closed_windows` then skips."""
    steps = {window.index for window in windows}
    if not steps:
        return set()
    stored: dict[tuple[str, int], float] = {}
    for key in client.get_run(run_id).data.metrics:
        for point in client.get_metric_history(run_id, key):
            if point.step in steps:
                stored.setdefault((key, point.step), point.value)
    names = read_metric_names(client, run_id)
    for window in windows:
        for key in window.metrics:
            value = stored.get((names.metric(key), window.index))
            if value is not None:
                window.metrics[key] = value
    return set(stored)


def log_closed_windows(client: MlflowClient, run_id: str, windows: Sequence[WindowResult], *,
                       stored: Collection[tuple[str, int]] = (), unresolved: Iterable[int] = (),
                       links: Mapping[int, WindowLink] | None = None) -> int:
    """Write the windows that close in this pass to the run's chart series (once: a closed window is final) and as
    ``windows/pass-<first step>.json``, the headline metrics of those in ``links`` linked to the model
    (:mod:`driftloop.tracking.model_page`); return the number of metric points written.

    Crash safety: the steps being written are first recorded in the run's tag ``driftloop.writing_steps`` and
    removed from it once their JSON record is written, so that a pass after a crash in between knows which steps
    may already hold points (:func:`adopt_stored_figures`) and logs none of them twice. ``unresolved`` are steps an
    earlier pass left there that this pass does not write: they stay."""
    kept = set(unresolved) - {window.index for window in windows}
    if not windows:
        return 0
    client.set_tag(run_id, WRITING_TAG, _format_steps(kept | {window.index for window in windows}))
    points = _log_metrics(client, run_id, windows, _metric_names(client, run_id, windows), stored=stored,
                          links=links)
    _log_json(client, run_id, WINDOWS_ARTIFACT_DIR, f"pass-{windows[0].index:06d}.json",
              [_window_to_json(w) for w in windows])
    client.set_tag(run_id, WRITING_TAG, _format_steps(kept))
    return points


def replace_open_windows(client: MlflowClient, run: MonitoringRun, windows: Sequence[WindowResult],
                         previous_run_ids: Sequence[str]) -> int:
    """Write the open windows' provisional figures to a fresh child run, then delete the previous ones (all of them:
    a pass that crashed in between leaves two); return the number of metric points written."""
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
    for previous in previous_run_ids:
        client.delete_run(previous)
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
        with contextlib.suppress(Exception):  # the store may be what failed: its error is the one to report
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

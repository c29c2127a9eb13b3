"""The ``driftloop monitor`` job: read the data, cut windows, assess the new ones, log them to MLflow, alert."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from driftloop.data.readers import read_table
from driftloop.data.windows import Window, parse_timestamps, parse_window_length, row_windows, time_windows
from driftloop.errors import DriftloopError
from driftloop.monitor.alerts import alert_payload, load_rules, send_webhook
from driftloop.monitor.engine import LABEL, NAIVE, PREDICTION, MonitorInputs, assess_windows
from driftloop.monitor.performance import seasonal_naive
from driftloop.monitor.report import render_report
from driftloop.monitor.results import WindowResult
from driftloop.profile import ReferenceProfile
from driftloop.tracking.monitoring import (
    ModelVersionRef,
    log_pass_summary,
    log_windows,
    logged_windows,
    monitoring_run,
)
from driftloop.tracking.profiles import load_profile_for_model, log_profile
from driftloop.tracking.store import use_tracking_uri

_SPEC = re.compile(r"^(?:models:/)?(?P<name>[^/@]+)(?:@(?P<alias>[^/@]+)|/(?P<version>\d+))?$")


def resolve_model(client: MlflowClient, spec: str) -> ModelVersionRef:
    """``NAME@ALIAS``, ``NAME/VERSION`` (optionally prefixed by ``models:/``) or ``NAME`` (= ``NAME@champion``)."""
    match = _SPEC.match(spec.strip())
    if match is None:
        raise DriftloopError(f"The 'model' option must look like NAME@ALIAS or NAME/VERSION; got {spec!r}.")
    name, alias, version = match["name"], match["alias"], match["version"]
    if version is None and alias is None:
        alias = "champion"
    try:
        found = client.get_model_version(name, version) if version else client.get_model_version_by_alias(name, alias)
    except MlflowException:
        what = f"version {version}" if version else f"alias {alias!r}"
        raise DriftloopError(f"The registry has no model {name!r} with {what}.") from None
    return ModelVersionRef(name, str(found.version), alias, found.run_id)


def load_model(client: MlflowClient, model: ModelVersionRef):
    """The pyfunc model of a registered version, loaded from the client's store."""
    import mlflow.pyfunc

    with use_tracking_uri(client.tracking_uri):
        return mlflow.pyfunc.load_model(f"models:/{model.name}/{model.version}")


def model_features(pyfunc_model, profile: ReferenceProfile | None = None) -> list[str]:
    """The model's input columns from its signature, else the profiled columns."""
    schema = pyfunc_model.metadata.get_input_schema()
    if schema is not None and schema.has_input_names():
        return list(schema.input_names())
    if profile is not None:
        return [c for c in profile.columns_ if c != PREDICTION]
    raise DriftloopError("The model has no signature with column names; log it with a signature.")


def _predictor(pyfunc_model) -> Callable[[pd.DataFrame], np.ndarray]:
    def predict(frame: pd.DataFrame) -> np.ndarray:
        output = pyfunc_model.predict(frame)
        if isinstance(output, pd.DataFrame):
            output = output.iloc[:, 0]
        return np.asarray(output).reshape(len(frame), -1)[:, 0]

    return predict


def _probability_predictor(pyfunc_model) -> Callable[[pd.DataFrame], tuple[list, np.ndarray]] | None:
    """``predict_proba`` of a scikit-learn classifier behind the pyfunc model, or ``None`` (other flavors give
    labels only, so ROC AUC and log loss are not computed for them)."""
    try:
        raw = pyfunc_model.get_raw_model()
    except Exception:  # MLflow raises for flavors without a raw model
        return None
    if not hasattr(raw, "predict_proba") or not hasattr(raw, "classes_"):
        return None
    return lambda frame: (list(raw.classes_), raw.predict_proba(frame))


def fit_model_profile(
    client: MlflowClient, model_spec: str, data_path: str, *, target: str | None = None
) -> tuple[ModelVersionRef, ReferenceProfile]:
    """``driftloop profile``: fit a reference profile of a registered model's inputs and predictions on reference
    data, and attach it to the model version (artifact ``reference_profile`` of its run)."""
    model = resolve_model(client, model_spec)
    pyfunc_model = load_model(client, model)
    frame = read_table(data_path)
    features = model_features(pyfunc_model)
    missing = [c for c in features if c not in frame.columns]
    if missing:
        raise DriftloopError(f"The reference data lacks column(s) the model expects: {', '.join(missing)}.")
    reference = frame[features].copy()
    reference[PREDICTION] = _predictor(pyfunc_model)(reference[features])
    if target is not None and target not in frame.columns:
        raise DriftloopError(f"The target column {target!r} is not in the reference data.")
    profile = ReferenceProfile().fit(reference)
    if model.run_id is None:
        raise DriftloopError(f"Model {model.name} version {model.version} has no source run to attach a profile to.")
    log_profile(client, model.run_id, profile)
    return model, profile


@dataclass
class MonitorOptions:
    """The options of ``driftloop monitor``."""

    timestamp_column: str | None = None
    window: str | None = None
    rows: int | None = None
    labels_path: str | None = None
    id_column: str = "id"
    target: str | None = None
    experiment: str = "model-monitoring"
    rules_path: str | None = None
    webhook: str | None = None
    task: str | None = None
    naive_lag: str | None = None  # the season of the naive benchmark (performance/relative_mae), e.g. "7d"
    naive_series: tuple[str, ...] = ()  # the columns that name a row's series, for that benchmark


@dataclass
class MonitorOutcome:
    """What a monitoring pass did."""

    model: ModelVersionRef
    run_id: str
    new_windows: list[WindowResult]
    all_windows: list[WindowResult]
    notes: list[str] = field(default_factory=list)
    metric_points: int = 0

    @property
    def alerted(self) -> bool:
        return any(w.verdict == "alert" for w in self.new_windows)


def _attach_labels(frame: pd.DataFrame, options: MonitorOptions, notes: list[str]) -> pd.DataFrame:
    if options.labels_path is not None:
        labels = read_table(options.labels_path)
        label_column = options.target or LABEL
        for column, role in ((options.id_column, "id"), (label_column, "label")):
            if column not in labels.columns:
                raise DriftloopError(
                    f"The labels file has no {role} column {column!r}; its columns are: {', '.join(labels.columns)}."
                )
            if column == options.id_column and column not in frame.columns:
                raise DriftloopError(f"The data has no id column {column!r} to join the labels on.")
        duplicates = int(labels[options.id_column].duplicated(keep="last").sum())
        if duplicates:
            notes.append(f"{duplicates} label(s) repeat an id: the last one of each id is used")
        labels = labels.drop_duplicates(options.id_column, keep="last")
        known = labels[options.id_column].isin(frame[options.id_column])
        if (~known).any():
            notes.append(f"{int((~known).sum())} label(s) are for ids not in the data (not used)")
        mapping = labels.set_index(options.id_column)[label_column]
        frame = frame.drop(columns=[c for c in (LABEL,) if c in frame.columns])
        frame[LABEL] = frame[options.id_column].map(mapping)
        if options.target and options.target in frame.columns and options.target != LABEL:
            frame = frame.drop(columns=[options.target])
    elif options.target is not None:
        if options.target not in frame.columns:
            raise DriftloopError(
                f"The target column {options.target!r} is not in the data; give --labels PATH for late labels."
            )
        frame = frame.rename(columns={options.target: LABEL}) if options.target != LABEL else frame
    return frame


def _timestamp_column(frame: pd.DataFrame, options: MonitorOptions) -> str | None:
    if options.timestamp_column is None and "timestamp" in frame.columns:
        return "timestamp"  # the inference log's own column
    return options.timestamp_column


def _attach_naive_forecasts(frame: pd.DataFrame, options: MonitorOptions) -> pd.DataFrame:
    """The seasonal naive benchmark of every row (:func:`~driftloop.monitor.performance.seasonal_naive`), from the
    labels of the whole data: a window's benchmark may come from rows of earlier windows."""
    if options.naive_lag is None:
        if options.naive_series:
            raise DriftloopError("--naive-series names the series of the naive forecast: give --naive-lag too.")
        return frame
    lag = parse_window_length(options.naive_lag, option="naive-lag")
    absent = [c for c in options.naive_series if c not in frame.columns]
    if absent:
        raise DriftloopError(f"The --naive-series column(s) {', '.join(map(repr, absent))} are not in the data; its "
                             f"columns are: {', '.join(map(str, frame.columns))}.")
    series = frame[list(options.naive_series)] if options.naive_series else None
    column = _timestamp_column(frame, options)
    if column is None:
        raise DriftloopError("--naive-lag compares each row with the label of the row stamped that much earlier: "
                             "give --timestamp-column.")
    if LABEL not in frame.columns:
        raise DriftloopError("--naive-lag needs the labels: give --target (labels in the data) or --labels PATH.")
    stamps = parse_timestamps(frame, column)
    # The parsed times replace the column, so that cutting the windows does not parse it again (0.9 s per 1M text
    # time stamps; parsed ones are only converted to UTC).
    return frame.assign(**{column: stamps, NAIVE: seasonal_naive(stamps, frame[LABEL], lag, series)})


def _cut_windows(frame: pd.DataFrame, options: MonitorOptions) -> list[Window]:
    timestamp_column = options.timestamp_column
    if timestamp_column is None and options.rows is None:
        timestamp_column = _timestamp_column(frame, options)
    if options.rows is not None:
        stamps = parse_timestamps(frame, timestamp_column) if timestamp_column else None
        return list(row_windows(frame, options.rows, stamps))
    if timestamp_column is None:
        raise DriftloopError("Give --timestamp-column (with --window) to cut windows by time, or --rows N.")
    stamps = parse_timestamps(frame, timestamp_column)
    return list(time_windows(frame, stamps, parse_window_length(options.window or "1d")))


def run_monitor(
    client: MlflowClient,
    model_spec: str,
    data_path: str,
    options: MonitorOptions,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> MonitorOutcome:
    """One monitoring pass: only windows ending after the last logged one are assessed and logged."""
    rules = load_rules(options.rules_path)
    model = resolve_model(client, model_spec)
    try:
        profile = load_profile_for_model(client, f"models:/{model.name}/{model.version}")
    except DriftloopError as error:
        raise DriftloopError(
            f"{error} Attach one with: driftloop profile --model {model.name}/{model.version} --data REFERENCE"
        ) from None
    pyfunc_model = load_model(client, model)
    features = model_features(pyfunc_model, profile)
    notes: list[str] = []
    frame = _attach_naive_forecasts(_attach_labels(read_table(data_path), options, notes), options)
    windows = _cut_windows(frame, options)
    run_id = monitoring_run(client, options.experiment, model)
    history = logged_windows(client, run_id)
    if history:
        last_end, last_step = max(w.end for w in history), max(w.index for w in history)
        fresh = [w for w in windows if w.end > last_end]
        if len(fresh) < len(windows):
            notes.append(f"{len(windows) - len(fresh)} window(s) were already logged: skipped")
        windows = [Window(last_step + 1 + i, w.start, w.end, w.frame) for i, w in enumerate(fresh)]
    training = client.get_run(model.run_id).data.metrics if model.run_id else {}
    inputs = MonitorInputs(
        profile,
        features,
        _predictor(pyfunc_model),
        predict_proba=_probability_predictor(pyfunc_model),
        ignored_columns=[c for c in (options.timestamp_column, options.id_column, "id", "timestamp",
                                     "model_name", "model_version", "label_timestamp") if c],
    )
    done = 0

    def step(count: int) -> None:
        nonlocal done
        done += count
        if progress is not None:
            progress(done, len(windows))

    new = assess_windows(inputs, windows, rules=rules, training_metrics=dict(training), history=history, progress=step)
    points = log_windows(client, run_id, new)
    all_windows = [*history, *new]
    html = render_report(
        all_windows,
        title=f"Monitoring of {model.name}",
        model=f"{model.name}" + (f"@{model.alias}" if model.alias else "") + f" (version {model.version})",
        subtitle=f"data: {Path(data_path).name}",
        alert_rules=rules,
        training_metrics=dict(training),
    )
    log_pass_summary(client, run_id, all_windows, html)
    outcome = MonitorOutcome(model, run_id, new, all_windows, notes, points)
    if outcome.alerted and options.webhook:
        payload = alert_payload(new, model.name, run_id, client.tracking_uri, version=model.version)
        result = send_webhook(options.webhook, payload)
        if not result.ok:
            notes.append(f"webhook failed after {result.attempts} attempt(s): {result.error or result.status}")
    return outcome

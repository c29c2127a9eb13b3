"""The ``driftloop monitor`` job: read the data, cut windows, assess those not yet closed, close those whose rows
and labels are in (:mod:`driftloop.monitor.lifecycle`), log them to MLflow (:mod:`driftloop.tracking.monitoring`),
alert once per window."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
from mlflow import MlflowClient

from driftloop.data.coercion import is_text_column, numbers_from_text
from driftloop.data.identity import rows_digest
from driftloop.data.dataset import WindowSpec, is_parquet_source, open_dataset
from driftloop.data.log_export import is_log_export, read_export_stream_detectors, read_export_stream_events
from driftloop.data.inference_log import is_inference_log, read_stream_detectors, read_stream_events
from driftloop.data.readers import read_table
from driftloop.data.windows import Window, parse_timestamps
from driftloop.errors import DriftloopError, NoRowsError
from driftloop.monitor.cutting import Cut, cut_dataset, cut_frame, timestamp_column
from driftloop.monitor.alerts import alert_payload, evaluate, load_rules, send_webhook
from driftloop.monitor.engine import LABEL, NAIVE, PREDICTION, MonitorInputs, assess_windows
from driftloop.monitor.estimation import FittedEstimator, fit_estimator
from driftloop.monitor.lifecycle import (
    VerdictChange,
    WindowFacts,
    closing_steps,
    late_arrivals,
    parse_label_delay,
    verdict_changes,
)
from driftloop.monitor.performance import (
    align_labels,
    infer_task,
    naive_benchmark,
    performance_metrics,
    seasonal_naive,
)
from driftloop.monitor.report import render_report
from driftloop.monitor.results import WindowResult
from driftloop.monitor.stream_drift import StreamActivity
from driftloop.multivariate import DEFAULT_DETECTORS, MultivariateDrift
from driftloop.profile import ReferenceProfile
from driftloop.profile.columns import NumericColumn
from driftloop.tracking.monitoring import (
    DataIdentity,
    ModelVersionRef,
    MonitoringRun,
    adopt_stored_figures,
    log_closed_windows,
    log_pass_summary,
    monitor_lock,
    monitoring_run,
    read_state,
    record_verdicts,
    replace_open_windows,
    writing_pass,
)
from driftloop.tracking.estimators import load_model_estimator, log_estimator
from driftloop.tracking.model_page import log_window_inputs, window_dataset
from driftloop.tracking.models import resolve_model
from driftloop.tracking.multivariate import load_model_multivariate, log_multivariate
from driftloop.tracking.profiles import (
    attach_profile,
    attach_reference_performance,
    load_model_profile,
    training_metrics,
)
from driftloop.tracking.retries import retry_on_connection_loss
from driftloop.tracking.store import use_tracking_uri

NOTIFIED_VERDICTS = ("alert", "unknown")
"""The verdicts sent to the webhook (and recorded as notified): a monitor that could not measure says so."""


def load_model(client: MlflowClient, model: ModelVersionRef):
    """The pyfunc model of a registered version, loaded from the client's store."""
    import mlflow.pyfunc

    with use_tracking_uri(client.tracking_uri):
        return mlflow.pyfunc.load_model(f"models:/{model.name}/{model.version}")


#: Column names the monitor gives its own columns (the model's output, the label, the naive benchmark): a model input
#: of the same name could not be told apart from them.
RESERVED_NAMES = {PREDICTION: "the model's output", LABEL: "the label", NAIVE: "the naive benchmark"}


def model_features(pyfunc_model, profile: ReferenceProfile | None = None) -> list[str]:
    """The model's input columns from its signature, else the profiled columns. An input named like one of the
    monitor's own columns (:data:`RESERVED_NAMES`) is refused: its drift, and the model's performance, would be
    measured on the wrong column."""
    schema = pyfunc_model.metadata.get_input_schema()
    if schema is not None and schema.has_input_names():
        features = list(schema.input_names())
        clashes = [name for name in features if name in RESERVED_NAMES]
        if clashes:
            taken = ", ".join(f"{name!r} ({RESERVED_NAMES[name]})" for name in clashes)
            raise DriftloopError(
                f"The model's input column(s) {taken} take the name(s) the monitor gives its own columns, so it "
                "could not tell the input from them and would measure the wrong column. Log the model with the "
                f"input renamed (for example {clashes[0] + '_input'!r}); `driftloop serve` refuses these names for "
                "the same reason.")
        return features
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


def _classifier(pyfunc_model):
    """The scikit-learn classifier behind the pyfunc model (it has ``predict_proba`` and ``classes_``), or ``None``
    (other flavors give labels only, so ROC AUC and log loss are not computed for them)."""
    try:
        raw = pyfunc_model.get_raw_model()
    except Exception:  # MLflow raises for flavors without a raw model
        return None
    if not hasattr(raw, "predict_proba") or not hasattr(raw, "classes_"):
        return None
    return raw


def _probability_predictor(pyfunc_model) -> Callable[[pd.DataFrame], tuple[list, np.ndarray]] | None:
    """``predict_proba`` of the scikit-learn classifier behind the pyfunc model (:func:`_classifier`), with its
    classes, or ``None``."""
    raw = _classifier(pyfunc_model)
    if raw is None:
        return None
    return lambda frame: (list(raw.classes_), raw.predict_proba(frame))


def _numeric_inputs(pyfunc_model) -> list[str]:
    """The input columns whose type in the model's signature is a number."""
    schema = pyfunc_model.metadata.get_input_schema()
    if schema is None or not schema.has_input_names():
        return []
    numbers = {"integer", "long", "float", "double"}
    return [name for name, kind in zip(schema.input_names(), schema.input_types(), strict=True)
            if getattr(kind, "name", None) in numbers]


def _numbers_from_text(reference: pd.DataFrame, numeric: list[str]) -> pd.DataFrame:
    """The reference with its numeric columns stored as text read as numbers (losslessly); a value that is not a
    number is an error naming the column, since the profile would be fitted on a broken column."""
    for column in numeric:
        if column in reference.columns and is_text_column(reference[column]):
            read = numbers_from_text(reference[column])
            if read.wrong_type:
                raise DriftloopError(f"The reference column {column!r} must hold numbers (the model's signature "
                                     f"says so); {read.wrong_type} value(s) are not, such as {read.example!r}.")
            reference[column] = read.values
    return reference


def fit_model_profile(
    client: MlflowClient, model_spec: str, data_path: str, *, target: str | None = None,
    multivariate: Sequence[str] = DEFAULT_DETECTORS, engine: str = "numpy", spark_master: str | None = None,
) -> tuple[ModelVersionRef, ReferenceProfile, dict[str, float], str]:
    """``driftloop profile``: fit a reference profile of a registered model's inputs and predictions on reference
    data, and attach it to the model version (artifact ``reference_profile`` of its LoggedModel, else of its run:
    :mod:`driftloop.tracking.profiles`).

    With ``target`` (the reference's labels), the model's performance on the reference is measured as the monitor
    measures a window's and logged with the model as the baseline of the alert rules relative to training
    (:func:`~driftloop.tracking.profiles.log_reference_performance`): a model trained elsewhere, whose run logged no
    training metrics, then gets performance alerts. Returned as the third item (empty without ``target``).

    With ``target``, the performance estimator (CBPE for a classifier with ``predict_proba``, DLE for a regressor;
    :mod:`driftloop.monitor.estimation`) is fitted too and logged in the profile's folder; the fourth item says
    what was fitted, or why nothing was.

    The ``multivariate`` detectors (names among :data:`driftloop.multivariate.DETECTORS`) are fitted on the model's
    inputs and logged inside the profile's folder (:mod:`driftloop.tracking.multivariate`); none for a model with
    fewer than two inputs.

    With ``engine="spark"`` the profile is fitted in Spark over a Parquet dataset, the model scoring the rows there
    (:func:`_spark_profile`); neither the multivariate detectors nor the estimator are fitted."""
    model = resolve_model(client, model_spec)
    pyfunc_model = load_model(client, model)
    features = model_features(pyfunc_model)
    if engine == "spark":
        return _spark_profile(client, model, pyfunc_model, features, data_path, target, spark_master)
    frame = read_table(data_path, columns=[*features, *([target] if target else [])])
    missing = [c for c in features if c not in frame.columns]
    if missing:
        raise DriftloopError(f"The reference data lacks column(s) the model expects: {', '.join(missing)}.")
    reference = _numbers_from_text(frame[features].copy(), _numeric_inputs(pyfunc_model))
    try:
        reference[PREDICTION] = _predictor(pyfunc_model)(reference[features])
    except Exception as error:  # the model's own error on the reference rows: a message, not a traceback
        raise DriftloopError(f"The model could not score the reference data: {type(error).__name__}: "
                             f"{str(error)[:500]}") from None
    if target is not None and target not in frame.columns:
        raise DriftloopError(f"The target column {target!r} is not in the reference data.")
    profile = ReferenceProfile().fit(reference)
    attach_profile(client, model, profile)
    chosen = tuple(multivariate) if len(features) >= 2 else ()
    detectors = MultivariateDrift(detectors=chosen, thresholds=profile.thresholds_).fit(reference[features])
    log_multivariate(client, model, detectors)
    baseline: dict[str, float] = {}
    if target is not None:
        labels = align_labels(frame[target], reference[PREDICTION])
        if labels.wrong_type:
            raise DriftloopError(f"The target column {target!r} of the reference data holds {labels.wrong_type} "
                                 f"value(s) that are not numbers, as the model's outputs are, such as "
                                 f"{labels.example!r}: correct or remove those rows.")
        measured = performance_metrics(reference[PREDICTION], labels.values, infer_task(reference[PREDICTION]))
        baseline = {key: value for key, value in measured.items()
                    if key not in ("performance/label_coverage", "performance/labelled_rows") and np.isfinite(value)}
        if not baseline:
            raise DriftloopError(f"The target column {target!r} of the reference data has no usable label; got "
                                 f"{int(frame[target].notna().sum())} non-missing value(s).")
        attach_reference_performance(client, model, baseline)
    fitted = fit_estimator(reference, features, reference[PREDICTION], labels.values if target is not None else None,
                           infer_task(reference[PREDICTION]), _probability_predictor(pyfunc_model))
    if fitted.estimator is not None:
        log_estimator(client, model, fitted.estimator, fitted.classes)
    return model, profile, baseline, fitted.note


#: What ``driftloop profile --engine spark`` does not fit, said after the profile is attached.
SPARK_PROFILE_ONLY = ("no multivariate detectors and no performance estimator: the Spark engine fits the reference "
                      "profile only (profile with --engine numpy for them)")


def _spark_profile(client: MlflowClient, model: ModelVersionRef, pyfunc_model, features: list[str], data_path: str,
                   target: str | None, spark_master: str | None
                   ) -> tuple[ModelVersionRef, ReferenceProfile, dict[str, float], str]:
    """``driftloop profile --engine spark``: the profile of the model's inputs and predictions (scored in Spark by
    :func:`driftloop.spark.scoring.strict_scorer`: a row the model refuses fails the profile) fitted by
    :func:`driftloop.spark.profile.fit_profile_spark`, equal to the numpy engine's, and attached to the model."""
    if target is not None:
        raise DriftloopError("--target needs --engine numpy: the Spark engine does not measure the model's "
                             "performance on the reference nor fit a performance estimator.")
    from driftloop.spark.cells import quoted
    from driftloop.spark.profile import fit_profile_spark, numbers_from_text_spark, read_reference
    from driftloop.spark.row_order import FILE, ROW
    from driftloop.spark.scoring import strict_scorer
    from driftloop.spark.session import DEFAULT_SHUFFLE_PARTITIONS, spark_session

    def fit() -> ReferenceProfile:
        from pyspark.sql import functions as F

        spark = spark_session(spark_master)
        frame = read_reference(spark, data_path)
        missing = [c for c in features if c not in frame.columns]
        if missing:
            raise DriftloopError(f"The reference data lacks column(s) the model expects: {', '.join(missing)}.")
        frame = numbers_from_text_spark(frame, _numeric_inputs(pyfunc_model))
        score = strict_scorer(_predictor(pyfunc_model), features, _output_type(pyfunc_model))
        inputs = F.struct(*[quoted(c).alias(f"x{i}") for i, c in enumerate(features)])
        frame = frame.select(*[quoted(c) for c in features], score(inputs).alias(PREDICTION), FILE, ROW)
        return fit_profile_spark(frame, ReferenceProfile(), partitions=DEFAULT_SHUFFLE_PARTITIONS)

    profile = _spark_call(fit)
    attach_profile(client, model, profile)
    return model, profile, {}, SPARK_PROFILE_ONLY


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
    label_delay: str | None = None  # how long a window stays open for late labels and rows: "7d", or rows
    engine: str = "numpy"  # "spark": windows and statistics computed by Apache Spark (driftloop.spark)
    spark_master: str | None = None  # the Spark master URL (default local[*], or the cluster's spark-submit)
    spark_partitions: int = 8  # tasks of the Spark engine's shuffle of numeric values by (window, column)


@dataclass
class MonitorOutcome:
    """What a monitoring pass did: the windows it assessed (those that closed in this pass, then the open ones),
    every window of the run, the verdict revisions, and the alerts raised for the first time."""

    model: ModelVersionRef
    run_id: str
    new_windows: list[WindowResult]
    all_windows: list[WindowResult]
    notes: list[str] = field(default_factory=list)
    metric_points: int = 0
    closed_steps: list[int] = field(default_factory=list)
    open_steps: list[int] = field(default_factory=list)
    revisions: list[VerdictChange] = field(default_factory=list)
    alerts: list[WindowResult] = field(default_factory=list)
    run: MonitoringRun | None = None  # the run written to: whether this pass created it, its data, the others

    @property
    def alerted(self) -> bool:
        """Whether this pass raised an alert that no earlier pass had raised (or delivered) for its window."""
        return bool(self.alerts)

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
    elif options.target is None and LABEL in frame.columns and frame[LABEL].isna().all():
        # an inference log that never received feedback: no label is expected (coverage/labels is not judged)
        notes.append("the data holds no label at all: performance is not measured (send feedback, or give --labels)")
        frame = frame.drop(columns=[LABEL])
    elif options.target is not None:
        if options.target not in frame.columns:
            raise DriftloopError(
                f"The target column {options.target!r} is not in the data; give --labels PATH for late labels."
            )
        frame = frame.rename(columns={options.target: LABEL}) if options.target != LABEL else frame
    return frame


def _timestamp_column(frame: pd.DataFrame, options: MonitorOptions) -> str | None:
    return timestamp_column(list(frame.columns), options.timestamp_column)


def _attach_naive_forecasts(frame: pd.DataFrame, options: MonitorOptions) -> pd.DataFrame:
    """The seasonal naive benchmark of every row (:func:`~driftloop.monitor.performance.seasonal_naive`), from the
    labels of the whole data: a window's benchmark may come from rows of earlier windows."""
    naive = naive_benchmark(options.naive_lag, options.naive_series, list(frame.columns),
                            _timestamp_column(frame, options), LABEL in frame.columns)
    if naive is None:
        return frame
    series = frame[list(naive.series)] if naive.series else None
    stamps = parse_timestamps(frame, naive.time_column)
    # The parsed times replace the column, so that cutting the windows does not parse it again (0.9 s per 1M text
    # time stamps; parsed ones are only converted to UTC).
    return frame.assign(**{naive.time_column: stamps, NAIVE: seasonal_naive(stamps, frame[LABEL], naive.lag, series)})


def _stream_activity(data_path: str) -> StreamActivity | None:
    """What the streaming detectors of ``driftloop serve`` found, when the data is an inference log they ran on or
    an export of such logs (``driftloop log export``: every replica's detectors and detections)."""
    if is_inference_log(Path(data_path)):
        detectors, read_events = read_stream_detectors(data_path), read_stream_events
    elif is_log_export(data_path):
        detectors, read_events = read_export_stream_detectors(data_path), read_export_stream_events
    else:
        return None
    if detectors.empty:
        return None
    return StreamActivity.from_log(detectors, read_events(data_path))


def _identity(cut: Cut, features: Sequence[str]) -> DataIdentity | None:
    """The data's identity for count windows (None for time windows, whose steps are times): the digest of the
    first rows in the order the windows were cut (:mod:`driftloop.data.identity`)."""
    if cut.length is not None or not cut.windows:
        return None
    first = cut.windows[0]  # a recorded digest covers at most one window's rows, read when a run asks for it

    def digest(rows: int) -> str | None:
        return rows_digest(next(cut.read([first])).frame, features, rows) if rows <= first.rows else None

    return DataIdentity(first.rows, digest)


def _steps(cut: Cut, run: MonitoringRun, notes: list[str]) -> tuple[list[WindowSpec], list[bool]]:
    """The windows numbered by their step in ``run`` (time windows: windows since the run's origin)."""
    if cut.length is None or run.origin is None:
        return cut.windows, cut.complete
    origin = run.origin.value // cut.length.value
    kept = [(replace(w, index=w.index - origin), complete)
            for w, complete in zip(cut.windows, cut.complete, strict=True) if w.index >= origin]
    before = len(cut.windows) - len(kept)
    if before:
        rows = sum(w.rows for w in cut.windows[:before])
        notes.append(f"{before} window(s) ({rows} rows) start before the run's first window "
                     f"({run.origin.isoformat()}): not monitored in this run; monitor them into another --experiment")
    return [w for w, _ in kept], [c for _, c in kept]


def _facts(windows: Sequence[WindowSpec], complete: Sequence[bool]) -> list[WindowFacts]:
    return [WindowFacts(w.index, w.end, c, w.rows, w.labelled) for w, c in zip(windows, complete, strict=True)]


def _note_late_data(facts: Sequence[WindowFacts], closed: dict[int, WindowResult], notes: list[str]) -> None:
    rows, labels, steps = late_arrivals(facts, closed)
    if steps:
        what = " and ".join(part for part in (f"{rows} row(s)" if rows else "", f"{labels} label(s)" if labels else "")
                            if part)
        notes.append(f"{what} arrived for {len(steps)} window(s) closed by an earlier pass (first: step {steps[0]}): "
                     "not counted, a closed window is final; give a longer --label-delay to keep windows open longer")


def _revision_note(revisions: Sequence[VerdictChange]) -> str:
    shown = ", ".join(f"#{c.window.index} {c.previous} -> {c.window.verdict}" for c in revisions[:8])
    more = f" and {len(revisions) - 8} more" if len(revisions) > 8 else ""
    return f"verdict revised for {len(revisions)} window(s) as rows or labels arrived: {shown}{more}"


def _cut(data_path: str, options: MonitorOptions, features: Sequence[str], notes: list[str]) -> Cut:
    """The windows of ``data_path``: a Parquet file or folder is read window by window (only the columns the
    monitor uses, :func:`~driftloop.monitor.cutting.cut_dataset`) unless labels are joined from a file or a naive
    benchmark is computed (both need every row at once) or its windows are not row ranges nor filterable by time;
    other data is read whole."""
    whole_data = options.labels_path is not None or options.naive_lag is not None or bool(options.naive_series) \
        or is_log_export(data_path)  # the replicas' labels are matched over all their rows
    if is_parquet_source(data_path) and not whole_data:
        cut = cut_dataset(open_dataset(data_path), features, time_column=options.timestamp_column,
                          window=options.window, rows=options.rows, target=options.target, notes=notes)
        if cut is not None:
            return cut
        notes.append("the rows are not stored in time order and the time column cannot filter them: read whole")
    data = read_table(data_path)
    if data.attrs.get("unmatched_labels"):
        notes.append(f"{data.attrs['unmatched_labels']} label(s) in the export match no prediction of its replicas "
                     "(not used): export every replica's log")
    if len(data) == 0:
        raise NoRowsError(f"The data {data_path!r} has no rows (columns: {', '.join(map(str, data.columns))}): "
                          "nothing to monitor.")
    frame = _attach_naive_forecasts(_attach_labels(data, options, notes), options)
    return cut_frame(frame, options.timestamp_column, options.window, options.rows)


def _spark_cut(client: MlflowClient, model: ModelVersionRef, pyfunc_model, data_path: str, options: MonitorOptions,
               features: Sequence[str], numeric: Sequence[str], notes: list[str]):
    """The data as a Spark DataFrame and its windows (:func:`driftloop.spark.monitor.read_windows`); data without
    predictions is scored in Spark by the model (:func:`_spark_scorer`)."""
    if options.spark_partitions < 1:
        raise DriftloopError(f"The option spark_partitions must be a positive number of tasks; got "
                             f"{options.spark_partitions}.")
    from driftloop.spark.monitor import read_windows
    from driftloop.spark.session import spark_session

    def cut():
        spark = spark_session(options.spark_master)

        return read_windows(spark, data_path, features, time_column=options.timestamp_column, window=options.window,
                            rows=options.rows, target=options.target, notes=notes,
                            score=lambda: _spark_scorer(pyfunc_model, features), numeric=numeric,
                            labels_path=options.labels_path, id_column=options.id_column,
                            naive_lag=options.naive_lag, naive_series=options.naive_series)

    return _spark_call(cut)


def _spark_scorer(pyfunc_model, features: Sequence[str]):
    """The model as a Spark UDF of its inputs (:func:`driftloop.spark.scoring.model_scorer`), returning the type of
    the model's output in its signature (double without one): the type the numpy engine's predictions have, from
    which it tells a classifier (classes as integers or text) from a regressor."""
    from driftloop.spark.scoring import model_scorer

    return model_scorer(_predictor(pyfunc_model), features, _output_type(pyfunc_model))


#: Spark types of a model's output by the kind of its signature's numpy dtype (tensor outputs) or MLflow type.
_SPARK_OUTPUT = {"i": "long", "u": "long", "f": "double", "b": "boolean", "U": "string", "S": "string", "O": "string",
                 "boolean": "boolean", "integer": "integer", "long": "long", "float": "float", "double": "double",
                 "string": "string"}


def _output_type(pyfunc_model) -> str:
    """The Spark type of the model's single output in its signature (``long`` for integer classes, ``string`` for
    text ones, ``double``...); ``double`` without one."""
    schema = pyfunc_model.metadata.get_output_schema()
    kinds = schema.input_types() if schema is not None else []
    if len(kinds) != 1:
        return "double"
    kind = kinds[0]
    return _SPARK_OUTPUT.get(kind.kind if isinstance(kind, np.dtype) else getattr(kind, "name", ""), "double")


def _spark_assess(frame, todo: Sequence[WindowSpec], inputs: MonitorInputs, options: MonitorOptions,
                  notes: list[str], classes: list | None = None) -> list[WindowResult]:
    from driftloop.spark.monitor import assess_windows_spark

    simple = MonitorInputs(inputs.profile, inputs.features, None, stream=inputs.stream,
                           ignored_columns=inputs.ignored_columns, unread_columns=inputs.unread_columns,
                           predict_proba=inputs.predict_proba, estimator=inputs.estimator,
                           multivariate=inputs.multivariate)
    try:
        return _spark_call(lambda: assess_windows_spark(frame, todo, simple, task=options.task,
                                                        partitions=options.spark_partitions, notes=notes,
                                                        classes=classes))
    finally:
        frame.unpersist()  # the frame scored by the model (or read from text) is cached by read_windows


def _spark_call(compute):
    """Run ``compute``; a failed Spark job becomes a one-line error (nothing has been written to MLflow yet)."""
    try:
        return compute()
    except DriftloopError:
        raise
    except Exception as error:  # Py4JJavaError, PySparkException: the job failed on an executor
        raise DriftloopError(f"The Spark job failed, nothing was written to MLflow: {_spark_cause(error)}") from None


def _spark_cause(error: Exception) -> str:
    """The line of a failed Spark job's message that says why: the last ``Name(Error|Exception): ...`` line of the
    Python worker's traceback when there is one (the first line only says that a worker failed), else the first."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    raised = [line for line in lines if re.match(r"[\w.]+(Error|Exception): ", line)]
    if raised:
        return raised[-1][:400]
    return (lines[0] if lines else type(error).__name__)[:400]


def run_monitor(
    client: MlflowClient,
    model_spec: str,
    data_path: str,
    options: MonitorOptions,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> MonitorOutcome:
    """One monitoring pass: assess the windows not yet closed, close those whose label delay has passed (their
    figures become final), replace the open windows' provisional figures, record verdict changes and notify each
    alert once (see :mod:`driftloop.tracking.monitoring` and :mod:`driftloop.monitor.lifecycle`)."""
    rules = load_rules(options.rules_path)
    model = resolve_model(client, model_spec)
    profile = load_model_profile(client, model)
    pyfunc_model = load_model(client, model)
    features = model_features(pyfunc_model, profile)
    notes: list[str] = []
    spark_frame = None
    if options.engine == "spark":
        typed_numeric = set(_numeric_inputs(pyfunc_model))
        numeric = [c for c in features if c in typed_numeric or isinstance(profile.columns_.get(c), NumericColumn)]
        spark_frame, cut = _spark_cut(client, model, pyfunc_model, data_path, options, features, numeric, notes)
    else:
        cut = _cut(data_path, options, features, notes)
    delay = parse_label_delay(options.label_delay, by_rows=cut.by_rows)
    first_start = cut.windows[0].start if cut.windows and cut.length is not None else None
    run = monitoring_run(client, options.experiment, model, cut.definition, first_start, _identity(cut, features))
    windows, complete = _steps(cut, run, notes)
    facts = _facts(windows, complete)
    state = read_state(client, run.run_id)
    _note_late_data(facts, state.closed, notes)
    todo = [w for w in windows if w.index not in state.closed]
    if len(todo) < len(windows):
        notes.append(f"{len(windows) - len(todo)} window(s) were already closed and logged: skipped")
    training = training_metrics(client, model)
    fitted_estimator = load_model_estimator(client, model)
    if fitted_estimator is None:
        notes.append("no estimated performance: the reference profile holds no estimator (fit it with driftloop "
                     "profile --target on labelled reference data; a classifier also needs predict_proba)")
    inputs = MonitorInputs(
        profile,
        features,
        _predictor(pyfunc_model),
        predict_proba=_probability_predictor(pyfunc_model),
        estimator=FittedEstimator(*fitted_estimator, "") if fitted_estimator is not None else None,
        multivariate=load_model_multivariate(client, model),
        stream=_stream_activity(data_path),
        ignored_columns=[c for c in (options.timestamp_column, options.id_column, "id", "timestamp",
                                     "model_name", "model_version", "label_timestamp") if c],
        unread_columns=cut.unread_columns,
    )
    done = 0

    def step(count: int) -> None:
        nonlocal done
        done += count
        if progress is not None:
            progress(done, len(todo))

    source, name = str(Path(data_path).resolve()), Path(data_path).name
    datasets = {}  # each window as an MLflow dataset (digest of its rows), made while its rows are at hand

    def read_windows() -> Iterator[Window]:
        for window in cut.read(todo):
            label = f"window {window.index} of {name}"
            datasets[window.index] = window_dataset(window.frame, source=source, name=label)
            yield window

    history = sorted(state.closed.values(), key=lambda w: w.index)
    if spark_frame is not None:  # every figure is computed before anything is written: a failed job writes nothing
        classifier = _classifier(pyfunc_model)
        classes = list(classifier.classes_) if classifier is not None else None
        assessed = _spark_assess(spark_frame, todo, inputs, options, notes, classes)
        evaluate([*history, *assessed], rules, training_metrics=training)
        step(len(todo))
    else:
        assessed = assess_windows(inputs, read_windows(), rules=rules, training_metrics=training, history=history,
                                  task=options.task, progress=step)
    pass_notes = notes  # what every attempt of the write starts from
    closed_before = set(state.closed)  # a window closed since, and assessed here, was closed by an earlier attempt

    def write() -> MonitorOutcome:
        """Under the lock: re-read the run, write what it lacks. Safe to repeat after a lost connection (see
        :mod:`driftloop.tracking.retries`)."""
        notes = list(pass_notes)
        with monitor_lock(client, model), writing_pass(client, run.run_id):
            state = read_state(client, run.run_id)  # again, under the lock: another pass may have written since
            current = {w.index: w for w in assessed if w.index not in state.closed}
            carried = {i: w for i, w in state.open.items() if i not in state.closed and i not in current}
            current.update(carried)  # open windows this pass's data no longer holds keep their last figures
            ordered = [current[i] for i in sorted(current)]
            history = [state.closed[i] for i in sorted(state.closed)]
            # A pass that crashed while logging closed windows: what reached the chart is final (never twice).
            resumed = [w for w in ordered if w.index in state.interrupted]
            stored = adopt_stored_figures(client, run.run_id, resumed)
            evaluate([*history, *ordered], rules, training_metrics=training)
            carried_facts = [WindowFacts(w.index, w.end, True, w.rows, 0) for w in carried.values()]
            closing = closing_steps([*facts, *carried_facts], state.closed, cut.watermark, delay,
                                    by_rows=cut.by_rows) if cut.watermark is not None else []
            closing = sorted({*closing, *(w.index for w in resumed)})
            to_close = [w for w in ordered if w.index in closing]
            still_open = [w for w in ordered if w.index not in closing]
            links = log_window_inputs(client, run.run_id, model.model_id, [w.index for w in to_close], datasets)
            points = log_closed_windows(client, run.run_id, to_close, stored=stored, unresolved=state.interrupted,
                                        links=links)
            points += replace_open_windows(client, run, still_open, state.provisional_run_ids)
            changes = verdict_changes(ordered, state.verdicts, closing)
            # An alert, and a window that could not be judged at all, are notified once per window and verdict.
            news = [w for w in ordered
                    if w.verdict in NOTIFIED_VERDICTS and state.notified.get(w.index) != w.verdict]
            alerts = [w for w in news if w.verdict == "alert"]
            delivered = True
            if news and options.webhook:
                payload = alert_payload(news, model.name, run.run_id, client.tracking_uri, version=model.version)
                result = send_webhook(options.webhook, payload)
                delivered = result.ok
                if not result.ok:
                    notes.append(f"webhook failed after {result.attempts} attempt(s): "
                                 f"{result.error or result.status}; the next pass sends it again")
            notified = {w.index for w in news} if delivered else set()
            changed = {c.window.index for c in changes}
            entries = [{**c.to_json(), "notified": c.window.index in notified} for c in changes]
            entries += [{**VerdictChange(w, w.verdict, w.index in closing).to_json(), "notified": True}
                        for w in news if w.index not in changed and w.index in notified]  # a delivery retried
            record_verdicts(client, run.run_id, entries)
            revisions = [c for c in changes if c.is_revision]
            if revisions:
                notes.append(_revision_note(revisions))
            all_windows = [*history, *ordered]
            html = render_report(
                all_windows,
                title=f"Monitoring of {model.name}",
                model=f"{model.name}" + (f"@{model.alias}" if model.alias else "") + f" (version {model.version})",
                subtitle=f"data: {Path(data_path).name}; windows {cut.definition}; {len(still_open)} open",
                alert_rules=rules,
                training_metrics=training,
                open_steps=[w.index for w in still_open],
            )
            log_pass_summary(client, run.run_id, all_windows, len(still_open), html)
        earlier = [w for w in assessed if w.index in state.closed and w.index not in closed_before]
        return MonitorOutcome(model, run.run_id, sorted([*earlier, *ordered], key=lambda w: w.index), all_windows,
                              notes, points, sorted([*closing, *(w.index for w in earlier)]),
                              [w.index for w in still_open], revisions, alerts, run)

    return retry_on_connection_loss(write, uri=client.tracking_uri, what="writing the windows")

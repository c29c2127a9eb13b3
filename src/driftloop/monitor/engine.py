"""One monitoring pass over a table: windows, drift, data quality, realised performance, verdicts.

Pure computation: no MLflow here (see :mod:`driftloop.tracking.monitoring`). For each window:

1. drift of every profiled feature (and of the prediction, when the profile holds a ``prediction`` column) with
   :meth:`driftloop.profile.ReferenceProfile.compare`, whose flags are calibrated (BH-corrected tests,
   leave-one-chunk-out thresholds for distances), and drift of all features at once with the multivariate
   detectors fitted with the profile (:mod:`driftloop.monitor.multivariate_drift`, in the same BH procedure);
2. data quality (:mod:`driftloop.monitor.quality`); numeric columns stored as text are read as numbers where that
   loses nothing (:mod:`driftloop.data.coercion`), other values are counted as wrong-type values; for an inference
   log, the detections of the service's streaming detectors among the window's rows
   (:mod:`driftloop.monitor.stream_drift`);
3. realised performance on the labelled rows (:mod:`driftloop.monitor.performance`), and estimated performance on
   every row when the profile holds an estimator (:mod:`driftloop.monitor.estimation`);
4. coverage: the shares of profiled columns compared, of rows with a prediction and with a label
   (:mod:`driftloop.monitor.window_coverage`);
5. verdicts from the alert rules (:mod:`driftloop.monitor.alerts`), a sequential rule across windows, and from the
   coverage (``unknown`` when nothing could be judged, ``warn`` when part could not).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from driftloop.data.windows import Window
from driftloop.monitor import window_coverage as coverage
from driftloop.monitor.alerts import AlertRule, evaluate
from driftloop.monitor.distributions import distribution
from driftloop.monitor.estimation import FittedEstimator, window_estimates
from driftloop.monitor.multivariate_drift import assess_multivariate
from driftloop.monitor.performance import align_labels, infer_task, performance_metrics, probability_metrics
from driftloop.monitor.quality import quality_metrics, read_text_numbers
from driftloop.monitor.results import WindowResult
from driftloop.monitor.stream_drift import ID, StreamActivity, stream_detections
from driftloop.monitor.window_coverage import CoveragePolicy
from driftloop.multivariate import MultivariateDrift
from driftloop.profile import ReferenceProfile
from driftloop.profile.reference import Comparison
from driftloop.profile.columns import CategoricalColumn, NumericColumn

PREDICTION = "prediction"
LABEL = "label"
NAIVE = "naive_forecast"  # the seasonal naive benchmark of each row (``driftloop monitor --naive-lag``)

#: The statistic whose value ranks drifted columns and is drawn in the report, by column kind.
HEADLINE_STATISTIC = {"numeric": "psi", "categorical": "psi"}


@dataclass(frozen=True)
class MonitorInputs:
    """What the engine needs besides the windows."""

    profile: ReferenceProfile
    features: Sequence[str]  # the model's input columns (its signature), in order
    predict: Callable[[pd.DataFrame], np.ndarray] | None  # scores a window when it holds no predictions
    ignored_columns: Sequence[str] = ()  # id, timestamp, target... : not "extra" columns
    # class probabilities of a classifier: (classes, matrix rows x classes), for ROC AUC and log loss
    predict_proba: Callable[[pd.DataFrame], tuple[list, np.ndarray]] | None = None
    estimator: FittedEstimator | None = None  # performance without labels, fitted with the profile
    top_distributions: int = 6
    multivariate: MultivariateDrift | None = None  # detectors over all features at once, fitted with the profile
    unread_columns: Sequence[str] = ()  # the data's columns a window-by-window read left out (quality counts them)
    stream: StreamActivity | None = None  # what the service's streaming detectors found (an inference log)

    @cached_property
    def reference_ranges(self) -> dict[str, tuple[float, float]]:
        """``[min, max]`` of every numeric reference column (computed once per pass, not per window)."""
        columns = self.profile.columns_.items()
        return {n: (c.minimum, c.maximum) for n, c in columns if isinstance(c, NumericColumn)}

    @cached_property
    def reference_categories(self) -> dict[str, set[object]]:
        """The categories of every categorical reference column."""
        return {n: set(c.categories) for n, c in self.profile.columns_.items() if isinstance(c, CategoricalColumn)}


def _drift_metrics(drift: pd.DataFrame, features: Sequence[str]) -> tuple[dict[str, float], list[str]]:
    """Drift metrics, ``drift/share`` over the features compared, ``coverage/columns`` (features compared over
    profiled features) and one reason per column that could not be compared (or per statistic, when they differ).
    A row with a value and a reason was computed: the reason is kept as a remark."""
    metrics: dict[str, float] = {}
    reasons: list[str] = []
    drifted_features: set[str] = set()
    judged_features: set[str] = set()
    profiled_features: set[str] = set()
    failures: dict[str, dict[str, list[str]]] = {}  # column -> reason -> statistics
    statistics: dict[str, int] = {}
    for row in drift.itertuples(index=False):
        base = f"drift/{row.column}/{row.statistic}"
        metrics[base] = float(row.value) if row.value == row.value else float("nan")
        if row.p_value == row.p_value:
            metrics[f"{base}_p_value"] = float(row.p_value)
        statistics[row.column] = statistics.get(row.column, 0) + 1
        if row.column in features:
            profiled_features.add(row.column)
        if row.reason is not None and row.value != row.value:
            failures.setdefault(row.column, {}).setdefault(row.reason, []).append(row.statistic)
            continue
        if row.reason is not None:  # computed, with a remark (a constant reference column's Wasserstein-1)
            reasons.append(f"drift of {row.column!r} ({row.statistic}): {row.reason}")
        if row.column in features:
            judged_features.add(row.column)
            if bool(row.drifted):
                drifted_features.add(row.column)
    for column, by_reason in failures.items():
        for reason, names in by_reason.items():
            which = "" if len(names) == statistics[column] else f" ({', '.join(names)})"
            reasons.append(f"drift of {column!r} not computed{which}: {reason}")
    share = len(drifted_features) / len(judged_features) if judged_features else float("nan")
    metrics["drift/share"] = share
    metrics["drift/features_drifted"] = float(len(drifted_features))
    if profiled_features:
        metrics[coverage.COLUMNS] = len(judged_features) / len(profiled_features)
    if drifted_features:
        reasons.append("drifted: " + ", ".join(sorted(drifted_features)))
    return metrics, reasons


def _top_distributions(inputs: MonitorInputs, comparison: Comparison) -> list:
    """Distributions of the most drifted columns (drifted first, then by their headline statistic), from the
    window's counts that the statistics were computed from."""
    columns = inputs.profile.columns_
    headline: dict[str, float] = {}
    drifted: set[str] = set()
    for row in comparison.table.itertuples(index=False):  # one pass over the small result table
        column = columns.get(row.column)
        if column is None or row.column not in comparison.window_counts:
            continue
        if row.statistic == HEADLINE_STATISTIC[column.kind] and row.value == row.value:
            headline[row.column] = float(row.value)
        if row.drifted is True:
            drifted.add(row.column)
    ranked = sorted(headline, key=lambda name: (name in drifted, headline[name]), reverse=True)
    return [
        distribution(columns[name], comparison.window_counts[name], HEADLINE_STATISTIC[columns[name].kind],
                     headline[name])
        for name in ranked[: inputs.top_distributions]
    ]


def _aligned_labels(frame: pd.DataFrame, result: WindowResult) -> pd.Series:
    """The window's labels in the type of its predictions (:func:`~driftloop.monitor.performance.align_labels`);
    labels of the wrong type are counted in ``quality/label_type_errors`` (share of the window's rows) and named in
    a reason, and left out of performance and of ``coverage/labels``."""
    aligned = align_labels(frame[LABEL], frame[PREDICTION])
    rows = len(frame)
    result.metrics["quality/label_type_errors"] = aligned.wrong_type / rows
    if aligned.wrong_type:
        result.reasons.append(f"labels: {aligned.wrong_type} label(s) are not of the model's output type "
                              f"(numbers), such as {aligned.example!r}: left out of performance")
    if aligned.converted:
        result.metrics["quality/labels_coerced_from_text"] = aligned.converted / rows
    return aligned.values


def predictions_fit_profile(profile: ReferenceProfile, holds_numbers: bool) -> bool:
    """Whether a window's ``prediction`` column (``holds_numbers``: of a numeric type) can be the model's outputs:
    numbers when the profile holds the model's outputs as numbers (a column of text there is something else under
    driftloop's name, and its accuracy against the labels would be 0, not a measurement)."""
    return not isinstance(profile.columns_.get(PREDICTION), NumericColumn) or holds_numbers


def unusable_predictions(dtype, example: list) -> str:
    """The reason of a window whose ``prediction`` column is not the model's outputs (:func:`predictions_fit_profile`).

    >>> unusable_predictions("str", ["oops"])
    "the data's 'prediction' column holds str values (such as 'oops'), the model outputs numbers: not used as its predictions (no performance, no estimate); rename that column"
    """
    such = f" (such as {example[0]!r})" if example else ""
    return (f"the data's {PREDICTION!r} column holds {dtype} values{such}, the model outputs numbers: not used as its "
            f"predictions (no performance, no estimate); rename that column")


def assess_window(inputs: MonitorInputs, window: Window, *, task: str | None) -> WindowResult:
    """Compute everything for one window; problems become reasons, never exceptions."""
    frame = window.frame
    result = WindowResult(window.index, window.start, window.end, len(frame), {"rows": float(len(frame))},
                          by_rows=window.by_rows)
    if len(frame) == 0:
        return result  # its verdict is unknown: coverage: no rows
    profile = inputs.profile
    numeric = list(inputs.reference_ranges)
    text_numbers = read_text_numbers(frame, [c for c in numeric if c in inputs.features])
    quality, quality_reasons = quality_metrics(
        frame, inputs.features, numeric, inputs.reference_ranges, inputs.reference_categories,
        [*inputs.ignored_columns, PREDICTION, LABEL, NAIVE], text_numbers, inputs.unread_columns
    )
    result.metrics.update(quality)
    result.reasons.extend(quality_reasons)
    if inputs.stream is not None and ID in frame.columns:
        stream_metrics, stream_reasons = stream_detections(inputs.stream, frame)
        result.metrics.update(stream_metrics)
        result.reasons.extend(stream_reasons)
    if text_numbers:  # numbers stored as text: the model and the drift statistics see the numbers
        frame = frame.assign(**{column: read.values for column, read in text_numbers.items()})

    if PREDICTION not in frame.columns and inputs.predict is not None:
        missing = [c for c in inputs.features if c not in frame.columns]
        if missing:
            result.reasons.append("the model could not score this window: missing " + ", ".join(missing))
        else:
            try:
                frame = frame.assign(**{PREDICTION: np.asarray(inputs.predict(frame[list(inputs.features)]))})
            except Exception as error:  # the model's own error on bad rows: reported, the window goes on
                result.reasons.append(f"the model could not score this window: {type(error).__name__}: {error}")
    compare_columns = [c for c in profile.columns_ if c in inputs.features or c == PREDICTION]
    comparison = profile.compare_window(frame, columns=compare_columns)
    drift = result.drift = comparison.table
    if inputs.multivariate is not None and inputs.multivariate.detectors_:
        # before the drift metrics: the detectors' p-values join the univariate tests' BH procedure
        joint_metrics, joint_reasons = assess_multivariate(inputs.multivariate, frame, drift,
                                                           profile.thresholds_.alpha_tests)
        result.metrics.update(joint_metrics)
        result.reasons.extend(joint_reasons)
    drift_metrics, drift_reasons = _drift_metrics(drift, inputs.features)
    result.metrics.update(drift_metrics)
    result.reasons.extend(drift_reasons)
    result.distributions = _top_distributions(inputs, comparison)
    if PREDICTION in frame.columns and not predictions_fit_profile(
            profile, pd.api.types.is_numeric_dtype(frame[PREDICTION].dtype)):
        result.reasons.append(unusable_predictions(frame[PREDICTION].dtype, frame[PREDICTION].dropna()[:1].tolist()))
        frame = frame.drop(columns=PREDICTION)
    if LABEL in frame.columns and PREDICTION in frame.columns:
        frame = frame.assign(**{LABEL: _aligned_labels(frame, result)})
    if inputs.predict is not None or PREDICTION in profile.columns_:
        predicted = frame[PREDICTION].notna().to_numpy() if PREDICTION in frame.columns else np.zeros(len(frame), bool)
        result.metrics[coverage.PREDICTIONS] = float(predicted.mean())
        if LABEL in frame.columns:  # labels were expected
            result.metrics[coverage.LABELS] = float((predicted & frame[LABEL].notna().to_numpy()).mean())

    if LABEL in frame.columns and PREDICTION in frame.columns:
        chosen_task = task or infer_task(frame[PREDICTION])
        benchmark = frame[NAIVE] if NAIVE in frame.columns else None
        result.metrics.update(performance_metrics(frame[PREDICTION], frame[LABEL], chosen_task, benchmark))
        missing = [c for c in inputs.features if c not in frame.columns]
        if chosen_task == "classification" and inputs.predict_proba is not None and not missing:
            try:
                classes, probabilities = inputs.predict_proba(frame[list(inputs.features)])
            except Exception as error:  # the model's own error: reported, the window goes on
                result.reasons.append(f"class probabilities unavailable: {type(error).__name__}: {error}")
            else:
                figures = probability_metrics(frame[LABEL], probabilities, classes)
                result.metrics.update(figures.metrics)
                result.reasons.extend([figures.reason] if figures.reason else [])
    if inputs.estimator is not None and PREDICTION in frame.columns:
        estimated, reasons = window_estimates(inputs.estimator, frame, inputs.features, frame[PREDICTION],
                                              inputs.predict_proba)
        result.metrics.update(estimated)
        result.reasons.extend(reasons)
    return result


def assess_windows(
    inputs: MonitorInputs,
    windows: Iterable[Window],
    *,
    rules: Sequence[AlertRule],
    training_metrics: dict[str, float],
    history: Sequence[WindowResult] = (),
    task: str | None = None,
    progress: Callable[[int], None] | None = None,
    coverage_policy: CoveragePolicy | None = None,
) -> list[WindowResult]:
    """Assess every window, then set verdicts with the alert rules and the ``coverage_policy`` over ``history``
    followed by the new windows (so that a rule on consecutive windows sees across monitoring passes). Returns the
    new windows only, in the order of ``windows``.

    Each window is assessed in a worker thread while the caller's iterator produces the next one (a window read
    from a dataset: Arrow's decoding, the conversion to pandas and what the caller does with the rows; numpy, Arrow
    and pandas release the GIL in that work): on two cores the reading of window ``k + 1`` overlaps the assessment
    of window ``k``. At most one window waits for the worker, so two windows are held at once, not more."""
    results = []
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="assess-window") as worker:
        running = None
        for window in windows:
            queued = worker.submit(assess_window, inputs, window, task=task)
            if running is not None:
                results.append(running.result())
                if progress is not None:
                    progress(1)
            running = queued
        if running is not None:
            results.append(running.result())
            if progress is not None:
                progress(1)
    evaluate([*history, *results], rules, training_metrics=training_metrics, coverage=coverage_policy)
    return results

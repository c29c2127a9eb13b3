"""Realised performance on the rows of a window whose label has arrived."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import pandas as pd
from pandas.api.types import is_bool_dtype, is_numeric_dtype
from sklearn import metrics as skm

from driftloop.data.coercion import numbers_from_text
from driftloop.data.windows import parse_window_length
from driftloop.errors import DriftloopError


#: Accuracy after rounding is reported for integer targets with at most this many distinct values (scores such as
#: wine quality 3-9), not for counts (bike rentals), where an exact hit is meaningless.
MAX_SCORE_LEVELS = 20


def infer_task(predictions: pd.Series) -> str:
    """``regression`` when the model predicts floating-point numbers, else ``classification``.

    >>> infer_task(pd.Series([5.2, 6.1])), infer_task(pd.Series(["a", "b"])), infer_task(pd.Series([0, 1]))
    ('regression', 'classification', 'classification')
    """
    return "regression" if pd.api.types.is_float_dtype(predictions.dtype) else "classification"


class AlignedLabels(NamedTuple):
    """Labels read in the type of the model's outputs (see :func:`align_labels`).

    ``values``: the labels (float64 for a model that outputs numbers, text otherwise; missing where the label was
    missing or of the wrong type); ``converted``: labels read as numbers from text; ``wrong_type``: labels present
    but not usable; ``example``: the first of those, for messages.
    """

    values: pd.Series
    converted: int
    wrong_type: int
    example: object | None


def _is_number_dtype(values: pd.Series) -> bool:
    return is_numeric_dtype(values.dtype) and not is_bool_dtype(values.dtype)


def _as_text(value: object) -> object:
    """A label as the text a text-valued model would output: whole numbers without a decimal point."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


def align_labels(labels: pd.Series, predictions: pd.Series) -> AlignedLabels:
    """Read ``labels`` in the type of the model's ``predictions``, so that equal values compare equal.

    Labels arrive from files and feedback services in whatever type the export chose: a CSV column of 0/1 labels
    with gaps reads as 1.0/0.0/NaN, a Parquet export may hold ``"1"``. Compared as they come, ``1.0`` never equals
    the model's ``1`` and the window's accuracy is silently wrong.

    * The model outputs numbers (a regressor, or a classifier with numeric classes): the labels are read as float64;
      text is read losslessly by :func:`driftloop.data.coercion.numbers_from_text`, and a label that is not a number
      (``"1,5"``, ``"yes"``) is a *wrong-type* label: missing in ``values``, counted, never compared.
    * The model outputs text (or booleans): the labels are compared as text, a whole number written without a
      decimal point (``1.0`` -> ``"1"``).

    >>> aligned = align_labels(pd.Series(["1", " 0", "yes", None]), pd.Series([1, 0, 1, 0]))
    >>> aligned.values.tolist()[:3], aligned.converted, aligned.wrong_type, aligned.example
    ([1.0, 0.0, nan], 2, 1, 'yes')
    >>> align_labels(pd.Series([1.0, 0.0]), pd.Series(["1", "0"])).values.tolist()
    ['1', '0']
    """
    if _is_number_dtype(predictions):
        if _is_number_dtype(labels):
            return AlignedLabels(labels.astype("float64"), 0, 0, None)
        read = numbers_from_text(labels)
        return AlignedLabels(read.values, read.converted, read.wrong_type, read.example)
    text = pd.Series([_as_text(v) for v in labels.tolist()], index=labels.index, name=labels.name, dtype=object)
    return AlignedLabels(text, 0, 0, None)


class ProbabilityFigures(NamedTuple):
    """ROC AUC and log loss of a window (NaN where there is no figure), and why there is none when the model's
    class probabilities are not probabilities."""

    metrics: dict[str, float]
    reason: str | None


#: ``numpy.allclose``'s tolerances, which scikit-learn's multiclass ``roc_auc_score`` applies to each row's sum.
SUM_RTOL, SUM_ATOL = 1e-5, 1e-8


def unusable_probabilities(count: int, labelled: int, lowest_sum: float, highest_sum: float) -> str:
    """The reason of a window whose model gave ``count`` of its ``labelled`` rows class probabilities that are not
    probabilities (one engine's words for both engines)."""
    return (f"class probabilities unusable: {count} of {labelled} labelled rows have values outside [0, 1] or that do "
            f"not sum to 1 (row sums from {lowest_sum:.6g} to {highest_sum:.6g}); no ROC AUC or log loss")


def probability_metrics(labels: pd.Series, probabilities: np.ndarray, classes: list) -> ProbabilityFigures:
    """ROC AUC (one-vs-rest, macro, for more than two classes) and log loss of the labelled rows, from the model's
    class probabilities (``probabilities[i, k]`` = P(row i is ``classes[k]``)). Labels the model does not know give
    no figure (NaN) rather than a wrong one; so do probabilities that are not finite, outside [0, 1], or whose row
    does not sum to 1 (:math:`|1 - \\sum_k p_{ik}| \\le 10^{-8} + 10^{-5} |\\sum_k p_{ik}|`, scikit-learn's rule for
    multiclass ROC AUC, applied to every model, since log loss and a binary AUC of such scores mean nothing either),
    with a reason.

    >>> m = probability_metrics(pd.Series([0, 1, 1, None]), np.array([[.9, .1], [.2, .8], [.4, .6], [.5, .5]]), [0, 1])
    >>> round(m.metrics["performance/roc_auc"], 3), round(m.metrics["performance/log_loss"], 3), m.reason
    (1.0, 0.28, None)
    >>> probability_metrics(pd.Series([0, 1]), np.array([[.9, .3], [.2, .8]]), [0, 1]).reason[:55]
    'class probabilities unusable: 1 of 2 labelled rows have'
    """
    none = {"performance/roc_auc": float("nan"), "performance/log_loss": float("nan")}
    has_label = labels.notna().to_numpy()
    truth = labels[has_label].to_numpy()
    proba = np.asarray(probabilities, dtype="float64")[has_label]
    codes = pd.Index(classes).get_indexer(truth) if len(truth) else np.array([], dtype=int)
    if len(codes) == 0 or (codes < 0).any() or len(np.unique(codes)) < 2:
        return ProbabilityFigures(none, None)
    sums = proba.sum(axis=1)
    usable = ((proba >= 0) & (proba <= 1)).all(axis=1) & (np.abs(1 - sums) <= SUM_ATOL + SUM_RTOL * np.abs(sums))
    if not usable.all():
        finite = sums[np.isfinite(sums)]
        lowest, highest = (float(finite.min()), float(finite.max())) if len(finite) else (np.nan, np.nan)
        return ProbabilityFigures(none, unusable_probabilities(int(np.count_nonzero(~usable)), len(codes), lowest,
                                                               highest))
    if len(classes) == 2:
        auc = skm.roc_auc_score(codes, proba[:, 1])
    else:
        auc = skm.roc_auc_score(codes, proba, multi_class="ovr", average="macro", labels=list(range(len(classes))))
    return ProbabilityFigures({
        "performance/roc_auc": float(auc),
        "performance/log_loss": float(skm.log_loss(codes, proba, labels=list(range(len(classes))))),
    }, None)


class NaiveBenchmark(NamedTuple):
    """The seasonal naive benchmark asked for (``monitor --naive-lag``, ``--naive-series``): its lag, the columns
    naming a row's series, and the time column."""

    lag: pd.Timedelta
    series: tuple[str, ...]
    time_column: str


def naive_benchmark(naive_lag: str | None, naive_series: Sequence[str], columns: Sequence[str],
                    time_column: str | None, has_labels: bool) -> NaiveBenchmark | None:
    """The options of the seasonal naive benchmark checked against the data (its ``columns``, its time column, its
    labels): ``None`` without ``--naive-lag``, a one-line error where it cannot be computed (both engines)."""
    if naive_lag is None:
        if naive_series:
            raise DriftloopError("--naive-series names the series of the naive forecast: give --naive-lag too.")
        return None
    lag = parse_window_length(naive_lag, option="naive-lag")
    absent = [c for c in naive_series if c not in columns]
    if absent:
        raise DriftloopError(f"The --naive-series column(s) {', '.join(map(repr, absent))} are not in the data; its "
                             f"columns are: {', '.join(map(str, columns))}.")
    if time_column is None:
        raise DriftloopError("--naive-lag compares each row with the label of the row stamped that much earlier: "
                             "give --timestamp-column.")
    if not has_labels:
        raise DriftloopError("--naive-lag needs the labels: give --target (labels in the data) or --labels PATH.")
    return NaiveBenchmark(lag, tuple(naive_series), time_column)


def seasonal_naive(timestamps: pd.Series, labels: pd.Series, lag: pd.Timedelta,
                   series: pd.DataFrame | None = None) -> pd.Series:
    """The seasonal naive forecast of every row: the label of the row of the same series stamped exactly ``lag``
    earlier.

    :math:`\\hat y_{s,t} = y_{s,t - \\text{lag}}` — "the same hour last week" for ``lag = 7 days`` on hourly data,
    the benchmark of Hyndman & Koehler (2006), "Another look at measures of forecast accuracy". ``series`` holds the
    columns that name a row's series (a station, a store; aligned with ``labels``); without it all rows are one
    series. NaN where no labelled row of the series has that time stamp, and for rows with a missing series key.
    Labelled rows of one series that share a time stamp with different labels make the benchmark ambiguous and are a
    :class:`~driftloop.errors.DriftloopError`, as are labels that are not numbers.

    >>> stamps = pd.Series(pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03"], utc=True))
    >>> seasonal_naive(stamps, pd.Series([10.0, None, 12.0]), pd.Timedelta(days=1)).tolist()
    [nan, 10.0, nan]
    >>> two = pd.Series(pd.to_datetime(["2024-01-01", "2024-01-01", "2024-01-02", "2024-01-02"], utc=True))
    >>> stations = pd.DataFrame({"station": ["a", "b", "a", "b"]})
    >>> seasonal_naive(two, pd.Series([1.0, 2.0, 3.0, 4.0]), pd.Timedelta(days=1), stations).tolist()
    [nan, nan, 1.0, 2.0]
    """
    if len(timestamps) != len(labels) or (series is not None and len(series) != len(labels)):
        raise DriftloopError(f"The seasonal naive forecast needs one time stamp (and series key) per label; got "
                             f"{len(timestamps)} time stamps and {len(labels)} labels.")
    if not lag > pd.Timedelta(0):
        raise DriftloopError(f"The seasonal lag of the naive forecast must be a positive duration; got {lag}.")
    numbers = pd.to_numeric(labels, errors="coerce")
    not_numbers = numbers.isna() & labels.notna()
    if not_numbers.any():
        raise DriftloopError(f"The seasonal naive forecast needs numeric labels (a regression target); got "
                             f"{int(not_numbers.sum())} that are not numbers, e.g. {labels[not_numbers].iloc[0]!r}.")
    keys = [] if series is None else [series[column].to_numpy() for column in series.columns]
    stamps = pd.DatetimeIndex(timestamps.to_numpy())

    def index(series_keys: list[np.ndarray], moments: pd.DatetimeIndex) -> pd.Index:
        return pd.MultiIndex.from_arrays([*series_keys, moments]) if series_keys else moments

    has_label = numbers.notna().to_numpy()
    if keys:
        has_label = has_label & series.notna().all(axis=1).to_numpy()
    known = pd.Series(numbers.to_numpy(dtype="float64")[has_label],
                      index=index([key[has_label] for key in keys], stamps[has_label]))
    repeated = known.index.duplicated(keep=False)
    if repeated.any():
        conflicting = known[repeated].groupby(level=list(range(known.index.nlevels))).nunique()
        conflicting = conflicting[conflicting > 1]
        if len(conflicting):
            which = "series and time stamp" if keys else "time stamp"
            raise DriftloopError(
                f"The seasonal naive forecast needs one label per {which}; {len(conflicting)} of them carry "
                f"different labels (e.g. {conflicting.index[0]}). Name the columns that tell the series apart "
                f"(--naive-series) or monitor one series per pass."
            )
        known = known[~known.index.duplicated()]
    return pd.Series(known.reindex(index(keys, stamps - lag)).to_numpy(), index=labels.index, dtype="float64")


def relative_mae_metrics(y_true: np.ndarray, y_pred: np.ndarray, benchmark: np.ndarray) -> dict[str, float]:
    """The model's MAE relative to a benchmark forecast's on the same rows (rows without a benchmark are left out).

    :math:`\\text{RelMAE} = \\sum_i |\\hat y_i - y_i| \\,/\\, \\sum_i |b_i - y_i|` over the rows with a
    benchmark :math:`b_i` (Davydenko & Fildes, 2013): below 1 the model beats the benchmark, above 1 it does not.
    A week that is hard for every forecast (a holiday, a storm) raises both errors, so the ratio moves much less
    than the MAE does.
    NaN when no row has a benchmark or the benchmark is exact on every row.

    >>> relative_mae_metrics(np.array([10.0, 20.0]), np.array([11.0, 22.0]), np.array([14.0, np.nan]))
    {'performance/naive_mae': 4.0, 'performance/relative_mae': 0.25, 'performance/naive_rows': 1.0}
    """
    usable = np.isfinite(benchmark)
    return relative_mae_from_sums(float(np.sum(np.abs(y_pred[usable] - y_true[usable]))),
                                  float(np.sum(np.abs(benchmark[usable] - y_true[usable]))), int(usable.sum()))


def relative_mae_from_sums(model_error: float, naive_error: float, rows: int) -> dict[str, float]:
    """:func:`relative_mae_metrics` from the sums of the model's and the benchmark's absolute errors over the ``rows``
    with a benchmark (the Spark engine's per-window sums).

    >>> relative_mae_from_sums(2.0, 4.0, 1)
    {'performance/naive_mae': 4.0, 'performance/relative_mae': 0.5, 'performance/naive_rows': 1.0}
    """
    naive_mae = naive_error / rows if rows else float("nan")
    relative = model_error / naive_error if rows and naive_error > 0 else float("nan")
    return {"performance/naive_mae": naive_mae, "performance/relative_mae": relative,
            "performance/naive_rows": float(rows)}


def relative_error_metrics(y_true: np.ndarray, y_pred: np.ndarray, benchmark: np.ndarray) -> dict[str, float]:
    """A classifier's error rate relative to a benchmark forecast's (such as the persistence forecast, the label of
    the previous row) on the rows with a benchmark: the classification form of :func:`relative_mae_metrics`.

    :math:`\\text{RelErr} = \\sum_i 1[\\hat y_i \\ne y_i] \\,/\\, \\sum_i 1[b_i \\ne y_i]`: below 1 the model beats the
    benchmark. Labels and forecasts are class codes (numbers); NaN when no row has a benchmark or it is never wrong.

    >>> relative_error_metrics(np.array([0.0, 1.0, 1.0]), np.array([0.0, 0.0, 1.0]), np.array([1.0, 0.0, np.nan]))
    {'performance/naive_accuracy': 0.0, 'performance/relative_error_rate': 0.5, 'performance/naive_rows': 2.0}
    """
    usable = np.isfinite(benchmark)
    rows = int(usable.sum())
    naive_errors = float(np.sum(benchmark[usable] != y_true[usable]))
    model_errors = float(np.sum(y_pred[usable] != y_true[usable]))
    return {"performance/naive_accuracy": 1.0 - naive_errors / rows if rows else float("nan"),
            "performance/relative_error_rate": model_errors / naive_errors if naive_errors else float("nan"),
            "performance/naive_rows": float(rows)}


def performance_metrics(predictions: pd.Series, labels: pd.Series, task: str,
                        benchmark: pd.Series | None = None) -> dict[str, float]:
    """Metrics on rows with a label: coverage always; for regression rmse, mae, r2 (and accuracy after rounding
    when the labels are whole-number scores, see :data:`MAX_SCORE_LEVELS`); for classification accuracy and macro f1.

    With ``benchmark`` (a forecast per row, such as :func:`seasonal_naive`'s, NaN where there is none), regression
    also gets :func:`relative_mae_metrics`.

    >>> m = performance_metrics(pd.Series([5.2, 6.4, 4.0]), pd.Series([5, 6, None]), "regression")
    >>> m["performance/mae"], m["performance/accuracy"], m["performance/label_coverage"]
    (0.30000000000000027, 1.0, 0.6666666666666666)
    """
    rows = len(labels)
    has_label = labels.notna().to_numpy()
    labelled = int(has_label.sum())
    result = {
        "performance/label_coverage": labelled / rows if rows else float("nan"),
        "performance/labelled_rows": float(labelled),
    }
    if labelled == 0:
        return result
    truth, predicted = labels[has_label], predictions[has_label]
    if task == "regression":
        y_true = pd.to_numeric(truth, errors="coerce").to_numpy(dtype="float64")
        y_pred = pd.to_numeric(predicted, errors="coerce").to_numpy(dtype="float64")
        usable = np.isfinite(y_true) & np.isfinite(y_pred)
        y_true, y_pred = y_true[usable], y_pred[usable]
        if len(y_true) == 0:
            return result
        if benchmark is not None:
            naive = pd.to_numeric(benchmark[has_label], errors="coerce").to_numpy(dtype="float64")[usable]
            result.update(relative_mae_metrics(y_true, y_pred, naive))
        errors = y_pred - y_true
        result["performance/mae"] = float(np.mean(np.abs(errors)))
        result["performance/rmse"] = float(np.sqrt(np.mean(errors**2)))
        result["performance/r2"] = float(skm.r2_score(y_true, y_pred)) if len(y_true) > 1 else float("nan")
        if np.all(np.equal(np.mod(y_true, 1), 0)) and len(np.unique(y_true)) <= MAX_SCORE_LEVELS:
            result["performance/accuracy"] = float(np.mean(np.rint(y_pred) == y_true))
    else:  # labels aligned with the predictions' type (align_labels): numbers compared as numbers
        if _is_number_dtype(predicted) and _is_number_dtype(truth):
            y_true, y_pred = truth.to_numpy(dtype="float64"), predicted.to_numpy(dtype="float64")
        else:
            y_true, y_pred = truth.astype(str).to_numpy(), predicted.astype(str).to_numpy()
        result["performance/accuracy"] = float(skm.accuracy_score(y_true, y_pred))
        result["performance/f1"] = float(skm.f1_score(y_true, y_pred, average="macro"))
    return result

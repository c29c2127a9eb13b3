"""The seasonal naive benchmark, the relative MAE and the probability metrics, against brute force and
scikit-learn."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import log_loss, mean_absolute_error, roc_auc_score

from driftloop.errors import DriftloopError
from driftloop.monitor.performance import (
    performance_metrics,
    probability_metrics,
    relative_mae_metrics,
    seasonal_naive,
)

START = pd.Timestamp("2024-03-01", tz="UTC")


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 60), st.one_of(st.none(), st.floats(-1e3, 1e3))), min_size=1,
                max_size=40, unique_by=lambda pair: pair[0]),
       st.integers(1, 30))
def test_seasonal_naive_is_the_label_lag_hours_earlier(rows, lag_hours):
    hours, labels = zip(*rows)
    stamps = pd.Series(START + pd.to_timedelta(list(hours), unit="h"))
    series = pd.Series([np.nan if v is None else v for v in labels], dtype="float64", index=range(100, 100 + len(rows)))
    naive = seasonal_naive(stamps, series, pd.Timedelta(hours=lag_hours))
    by_hour = {h: v for h, v in rows if v is not None}
    expected = [by_hour.get(h - lag_hours, np.nan) for h in hours]
    assert list(naive.index) == list(series.index)
    np.testing.assert_array_equal(naive.to_numpy(), np.array(expected, dtype="float64"))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["a", "b", None]), st.integers(0, 30),
                          st.one_of(st.none(), st.floats(-1e3, 1e3))),
                min_size=1, max_size=40, unique_by=lambda row: (row[0], row[1])),
       st.integers(1, 10))
def test_seasonal_naive_per_series(rows, lag_hours):
    stations, hours, labels = zip(*rows)
    stamps = pd.Series(START + pd.to_timedelta(list(hours), unit="h"))
    series = pd.DataFrame({"station": pd.Series(stations, dtype="object")})
    naive = seasonal_naive(stamps, pd.Series([np.nan if v is None else v for v in labels], dtype="float64"),
                           pd.Timedelta(hours=lag_hours), series)
    known = {(s, h): v for s, h, v in rows if v is not None and s is not None}
    expected = [np.nan if s is None else known.get((s, h - lag_hours), np.nan) for s, h, _ in rows]
    np.testing.assert_array_equal(naive.to_numpy(), np.array(expected, dtype="float64"))


def test_seasonal_naive_repeated_stamps():
    stamps = pd.Series([START, START, START + pd.Timedelta(days=7)])
    same = seasonal_naive(stamps, pd.Series([3.0, 3.0, None]), pd.Timedelta(days=7))
    assert same.iloc[2] == 3.0
    with pytest.raises(DriftloopError, match="one label per time stamp; 1 of them carry different labels"):
        seasonal_naive(stamps, pd.Series([3.0, 4.0, None]), pd.Timedelta(days=7))
    with pytest.raises(DriftloopError, match="numeric labels.*1 that are not numbers, e.g. 'good'"):
        seasonal_naive(stamps, pd.Series([3.0, "good", None], dtype=object), pd.Timedelta(days=7))
    with pytest.raises(DriftloopError, match="positive duration"):
        seasonal_naive(stamps, pd.Series([3.0, 4.0, None]), pd.Timedelta(0))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.floats(-100, 100), st.floats(-100, 100), st.one_of(st.none(), st.floats(-100, 100))),
                min_size=1, max_size=50))
def test_relative_mae_against_scikit_learn(rows):
    y, predicted, naive = (np.array([np.nan if v is None else v for v in column], dtype="float64")
                           for column in zip(*rows))
    metrics = relative_mae_metrics(y, predicted, naive)
    has = np.isfinite(naive)
    assert metrics["performance/naive_rows"] == has.sum()
    if not has.any():
        assert np.isnan(metrics["performance/relative_mae"])
        return
    naive_mae = mean_absolute_error(y[has], naive[has])
    assert metrics["performance/naive_mae"] == pytest.approx(naive_mae, rel=1e-12, abs=1e-12)
    if naive_mae > 0:
        expected = mean_absolute_error(y[has], predicted[has]) / naive_mae
        assert metrics["performance/relative_mae"] == pytest.approx(expected, rel=1e-9)


def test_performance_metrics_with_a_benchmark_uses_labelled_rows_only():
    labels = pd.Series([10.0, None, 20.0, 30.0])
    predicted = pd.Series([11.0, 50.0, 22.0, 27.0])
    naive = pd.Series([12.0, 0.0, np.nan, 24.0])
    metrics = performance_metrics(predicted, labels, "regression", naive)
    # rows 0 and 3 have a label and a benchmark: model |1| + |3| = 4, naive |2| + |6| = 8
    assert metrics["performance/relative_mae"] == pytest.approx(0.5)
    assert metrics["performance/naive_rows"] == 2.0
    assert metrics["performance/mae"] == pytest.approx(2.0)  # over the three labelled rows
    assert "performance/relative_mae" not in performance_metrics(predicted, labels, "regression")


@settings(max_examples=100, deadline=None)
@given(st.integers(2, 4), st.integers(6, 40), st.integers(0, 2**32 - 1), st.sampled_from([None, 0.0, 0.5, 1.0001]))
def test_probability_metrics_are_scikit_learns_or_say_why_not(classes, rows, seed, broken_sum):
    """Probabilities (each row summing to 1) give scikit-learn's ROC AUC and log loss; one row scaled to another
    sum (0 as a radius-neighbours outlier gives) gives no figure and a reason, where scikit-learn's multiclass
    ROC AUC refuses the scores."""
    rng = np.random.default_rng(seed)
    proba = rng.dirichlet(np.ones(classes), size=rows)
    labels = np.concatenate([np.arange(classes), rng.integers(0, classes, rows - classes)])
    if broken_sum is not None:
        proba[rng.integers(rows)] *= broken_sum
    figures = probability_metrics(pd.Series(labels), proba, list(range(classes)))
    if broken_sum is None:
        assert figures.reason is None
        score = proba[:, 1] if classes == 2 else proba
        assert figures.metrics["performance/roc_auc"] == pytest.approx(
            roc_auc_score(labels, score, multi_class="ovr", labels=list(range(classes))), rel=1e-12)
        assert figures.metrics["performance/log_loss"] == pytest.approx(log_loss(labels, proba), rel=1e-12)
        return
    assert np.isnan(figures.metrics["performance/roc_auc"]) and np.isnan(figures.metrics["performance/log_loss"])
    assert figures.reason.startswith(f"class probabilities unusable: 1 of {rows} labelled rows")
    if classes > 2:
        with pytest.raises(ValueError, match="sum up to 1.0"):
            roc_auc_score(labels, proba, multi_class="ovr", labels=list(range(classes)))

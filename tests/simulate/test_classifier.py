"""driftloop simulate with a classifier, on short slices of the bundled Seattle weather (daily, 2012-2015): figures
against scikit-learn's metrics, validation on the log loss, the persistence benchmark, the task rule."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as skm

from driftloop.cli.main import cli
from driftloop.errors import DriftloopError
from driftloop.retrain.validation import compare, row_losses
from driftloop.simulate import SimulationSettings, simulate
from driftloop.simulate.data import seattle_weather
from driftloop.simulate.replay import (CLASSIFICATION_RESULT_KEYS, first_champion, naive_result,
                                       production_windows)
from driftloop.simulate.scoring import probabilities, task_of_target

UNTIL = "2013-07-01"  # half a year of production: 26 weekly windows


@pytest.fixture(scope="module")
def short():
    return SimulationSettings(train_days=365, until=pd.Timestamp(UNTIL, tz="UTC"))


@pytest.fixture(scope="module", params=["weather", "rain"])
def stream(request):
    return seattle_weather(request.param)


def production(dataset, settings):
    return pd.concat([window.frame for window in production_windows(dataset, settings)])


def test_never_scores_the_first_champion_as_scikit_learn_does(stream, short):
    """The replay's cumulative accuracy, log loss and ROC AUC of the model left alone are scikit-learn's figures
    for the same seeded classifier, fitted here on the first champion's rows."""
    (never,) = simulate(stream, ["never"], short)
    champion = first_champion(stream, short)
    rows = production(stream, short)
    model = stream.make_model().fit(champion.training_rows, stream.frame.loc[champion.training_rows.index,
                                                                             stream.target])
    proba = probabilities(model, rows[list(stream.features)], len(stream.classes))
    y = rows[stream.target].to_numpy()
    labels = list(range(len(stream.classes)))
    assert never.accuracy == pytest.approx(skm.accuracy_score(y, np.argmax(proba, axis=1)), abs=1e-12)
    assert never.log_loss == pytest.approx(skm.log_loss(y, proba, labels=labels), rel=1e-9)
    per_row = -np.log(np.clip(proba[np.arange(len(y)), y], np.finfo("float64").eps, 1))  # each row's log loss
    assert never.row_losses == pytest.approx(per_row, rel=1e-9)
    if len(labels) == 2:
        expected_auc = skm.roc_auc_score(y, proba[:, 1])
    else:  # macro one-vs-rest; every class occurs in this slice, so scikit-learn's definition applies as is
        assert sorted(set(y)) == labels
        expected_auc = skm.roc_auc_score(y, proba, multi_class="ovr", average="macro", labels=labels)
    assert never.roc_auc == pytest.approx(expected_auc, rel=1e-9)
    assert (never.retrains, never.promotions) == (0, 0)


def test_retrains_are_validated_on_the_log_loss_and_refitted(stream, short):
    (weekly,) = simulate(stream, ["schedule:4"], short)
    assert weekly.retrains == 26 // 4 and weekly.promotions + weekly.rejected == weekly.retrains
    decided = [event for event in weekly.events if "promoted" in event or "rejected" in event]
    assert decided and all("log_loss difference" in event for event in decided)
    assert all("refitted on" in event for event in decided if "promoted" in event)
    labelled = [w for w in weekly.windows if w.metrics["performance/labelled_rows"] > 0]
    assert all({"performance/accuracy", "performance/log_loss", "performance/relative_error_rate"} <= set(w.metrics)
               for w in labelled)


def test_the_persistence_benchmark_is_yesterdays_label(stream, short):
    naive = naive_result(stream, short)
    rows = production(stream, short)
    previous = stream.frame[stream.target].shift(1)[rows.index]
    assert naive.policy == "naive (previous row)"
    assert naive.accuracy == pytest.approx(float(np.mean(previous.to_numpy() == rows[stream.target].to_numpy())))
    seasonal = naive_result(replace(stream, naive_lag=pd.Timedelta(days=7)), short)
    week_before = stream.frame.set_index("timestamp")[stream.target]
    expected = week_before.reindex(rows["timestamp"] - pd.Timedelta(days=7)).to_numpy()
    known = ~np.isnan(expected)
    assert seasonal.policy == "naive (7d)"
    assert seasonal.accuracy == pytest.approx(float(np.mean(expected[known] == rows[stream.target].to_numpy()[known])))


def test_json_rows_of_a_classifier_table(tmp_path):
    """A CSV whose target holds words is replayed as a classifier (inferred); --format json rows carry accuracy,
    log loss and ROC AUC, and the last row is the persistence benchmark."""
    frame = seattle_weather("weather").frame
    table = frame.assign(weather=np.array(seattle_weather("weather").classes, dtype=object)[frame["weather"]])
    path = tmp_path / "weather.csv"
    table[table["timestamp"] < pd.Timestamp("2013-03-01", tz="UTC")].to_csv(path, index=False)
    result = CliRunner().invoke(cli, ["simulate", "--data", str(path), "--target", "weather", "--policy",
                                      "schedule:4", "--train-days", "365", "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert [tuple(row) for row in rows] == [CLASSIFICATION_RESULT_KEYS] * 2
    assert rows[0]["policy"] == "schedule:4" and 0 < rows[0]["accuracy"] <= 1 and rows[0]["log_loss"] > 0
    assert 0 <= rows[0]["roc_auc"] <= 1
    assert rows[1]["policy"] == "naive (previous row)" and rows[1]["log_loss"] is None
    wrong = CliRunner().invoke(cli, ["simulate", "--data", str(path), "--target", "weather", "--task", "regression"])
    assert wrong.exit_code == 1 and "must be numeric for a regression" in wrong.output


def test_the_task_rule():
    assert task_of_target(pd.Series(["rain", "sun", None])) == "classification"
    assert task_of_target(pd.Series([True, False])) == "classification"
    assert task_of_target(pd.Series([0.0, 1.0, 1.0])) == "classification"
    assert task_of_target(pd.Series([3, 5, 6, 7])) == "regression"
    with pytest.raises(DriftloopError, match="needs its classes"):
        replace(seattle_weather("rain"), classes=("dry",))


@settings(max_examples=60, deadline=None)
@given(st.integers(2, 5), st.integers(10, 60), st.integers(0, 2**32 - 1))
def test_log_loss_rows_average_to_scikit_learns_log_loss(classes, rows, seed):
    rng = np.random.default_rng(seed)
    proba = rng.dirichlet(np.ones(classes), size=rows)
    proba[rng.random(proba.shape) < 0.1] = 0.0  # some classes never predicted
    proba[proba.sum(axis=1) == 0, 0] = 1.0
    proba /= proba.sum(axis=1, keepdims=True)
    y = rng.integers(0, classes, size=rows)
    labels = list(range(classes))
    assert np.mean(row_losses(y, proba, "log_loss")) == pytest.approx(skm.log_loss(y, proba, labels=labels),
                                                                      rel=1e-9)


def test_validation_on_log_loss_promotes_the_sharper_model():
    y = np.array([0, 1] * 50)
    vague = np.full((100, 2), 0.5)
    sharp = np.where(np.eye(2)[y] == 1, 0.8, 0.2)
    result = compare(y, vague, sharp, metric="log_loss")
    assert result.promote and result.challenger == pytest.approx(-np.log(0.8))
    with pytest.raises(DriftloopError, match="class codes 0..K-1"):
        compare(y.astype(float), vague, sharp, metric="log_loss")

"""Paired bootstrap validation: known cases, an independent normal-approximation check, properties."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from driftloop.errors import DriftloopError
from driftloop.retrain.validation import bootstrap_mean_ci, compare


def test_known_constant_improvement() -> None:
    y = np.linspace(0, 10, 200)
    result = compare(y, y + 1.0, y - 0.5, metric="mae", margin=0.4)
    assert result.difference == pytest.approx(-0.5)
    assert (result.ci_low, result.ci_high) == pytest.approx((-0.5, -0.5))
    assert result.promote and result.champion == pytest.approx(1.0) and result.challenger == pytest.approx(0.5)
    assert not compare(y, y + 1.0, y - 0.5, metric="mae", margin=0.6).promote


def test_worse_challenger_is_rejected() -> None:
    rng = np.random.default_rng(1)
    y = rng.normal(size=500)
    result = compare(y, y + rng.normal(0, 0.5, 500), y + rng.normal(0, 1.0, 500), metric="rmse")
    assert not result.promote and result.difference > 0 and result.challenger > result.champion


def test_bootstrap_interval_matches_normal_approximation() -> None:
    rng = np.random.default_rng(7)
    differences = rng.normal(-0.1, 1.0, 2000)
    low, high = bootstrap_mean_ci(differences, resamples=4000, seed=3)
    se = differences.std(ddof=1) / np.sqrt(len(differences))
    mean = differences.mean()
    assert low == pytest.approx(mean - 1.959964 * se, abs=0.15 * se)
    assert high == pytest.approx(mean + 1.959964 * se, abs=0.15 * se)
    assert bootstrap_mean_ci(differences, seed=3) == bootstrap_mean_ci(differences, seed=3)  # seeded


def test_accuracy_and_bad_input() -> None:
    y = np.array([0, 1] * 50)
    result = compare(y, np.zeros(100), y.copy(), metric="accuracy")
    assert result.promote and result.champion == 0.5 and result.challenger == 1.0
    with pytest.raises(DriftloopError, match="'metric' parameter of validation"):
        compare(y, y, y, metric="auc")
    with pytest.raises(DriftloopError, match="at least 10 holdout rows; got 3"):
        compare(y[:3], y[:3], y[:3])
    with pytest.raises(DriftloopError, match="got 100 rows, 99 champion"):
        compare(y, y[:99], y)
    with pytest.raises(DriftloopError, match="'margin'"):
        compare(y, y, y, margin=-1)


@settings(max_examples=100, deadline=None)
@given(arrays(np.float64, st.integers(10, 200), elements=st.floats(-1e3, 1e3)),
       st.integers(0, 2**31), st.sampled_from(["mae", "mse", "rmse"]), st.floats(0, 1))
def test_identical_models_never_promote(y, seed, metric, margin) -> None:
    predictions = np.random.default_rng(seed).normal(size=len(y)) * 10 + y
    result = compare(y, predictions, predictions.copy(), metric=metric, margin=margin, resamples=200, seed=seed)
    assert not result.promote and result.difference == 0.0


def test_the_not_worse_rule_promotes_a_tie_and_rejects_a_worse_challenger():
    y = np.arange(200.0)
    tie = compare(y, y + 1.0, y + 1.0, metric="mae", rule="not-worse")
    assert tie.promote and "not worse" in tie.reason
    assert not compare(y, y + 1.0, y + 1.0, metric="mae").promote  # the default rule wants a better challenger
    worse = compare(y, y + 1.0, y + 1.5, metric="mae", rule="not-worse", margin=0.2)
    assert not worse.promote and worse.ci_low > 0.2 and "worse" in worse.reason
    assert compare(y, y + 1.0, y + 1.1, metric="mae", rule="not-worse", margin=0.2).promote
    with pytest.raises(DriftloopError, match="'rule' parameter of validation must be one of better, not-worse"):
        compare(y, y, y, rule="equal")

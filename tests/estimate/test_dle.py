"""DLE: the stored trees predict what scikit-learn predicts, estimates follow the realised MAE and RMSE under
covariate shift, the bands cover, categories and bad input."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.ensemble import HistGradientBoostingRegressor
from threadpoolctl import threadpool_limits

from driftloop.errors import DriftloopError
from driftloop.estimate import LossEstimator, ModelOutputError
from driftloop.estimate.trees import forest_arrays, predict_forest


def regression_rows(rng: np.random.Generator, n: int, *, low: float = -1.0, high: float = 1.0):
    """A model predicting 2 x0 where the noise grows with |x0|: columns, predictions, targets."""
    x0 = rng.uniform(low, high, size=n)
    x1 = rng.normal(size=n)
    colour = rng.choice(np.array(["red", "green", "blue"], dtype=object), size=n)
    noise = (0.2 + np.abs(x0) + 0.5 * (colour == "red")) * rng.normal(size=n)
    return {"x0": x0, "x1": x1, "colour": colour}, 2 * x0, 2 * x0 + noise


@settings(max_examples=10, deadline=None)
@given(st.integers(0, 10_000), st.floats(0.0, 0.3))
def test_stored_trees_predict_exactly_what_sklearn_predicts(seed: int, missing: float) -> None:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(600, 3))
    y = x[:, 0] ** 2 + rng.normal(size=600)
    x[rng.uniform(size=x.shape) < missing] = np.nan
    with threadpool_limits(limits=1):   # small fits on a loaded machine: threads only slow them down
        model = HistGradientBoostingRegressor(max_iter=30, random_state=0).fit(x, y)
    probe = rng.normal(size=(300, 3)) * 2
    probe[rng.uniform(size=probe.shape) < missing] = np.nan
    assert np.array_equal(predict_forest(forest_arrays(model), probe), model.predict(probe))


def test_estimates_follow_the_window_under_covariate_shift() -> None:
    rng = np.random.default_rng(0)
    columns, predictions, targets = regression_rows(rng, 8000)
    dle = LossEstimator(n_chunks=5, draws=5).fit(columns, predictions, targets)
    for low, high in ((-0.3, 0.3), (0.5, 1.0)):     # a calm window, then a hard one
        w_columns, w_predictions, w_targets = regression_rows(rng, 20_000, low=low, high=high)
        estimates = dle.estimate(w_columns, w_predictions)
        error = w_targets - w_predictions
        truth = {"mae": np.mean(np.abs(error)), "rmse": np.sqrt(np.mean(error**2))}
        for metric, value in truth.items():
            assert abs(estimates[metric].value - value) / value < 0.05, (metric, estimates[metric], value)


def test_bands_cover_the_realised_metric_at_the_stated_rate() -> None:
    rng = np.random.default_rng(1)
    columns, predictions, targets = regression_rows(rng, 6000)
    dle = LossEstimator(n_chunks=6, draws=15).fit(columns, predictions, targets)
    inside = {"mae": [], "rmse": []}
    for size in (100, 500, 1500):
        for _ in range(60):
            w_columns, w_predictions, w_targets = regression_rows(rng, size)
            estimates = dle.estimate(w_columns, w_predictions)
            error = w_targets - w_predictions
            truth = {"mae": np.mean(np.abs(error)), "rmse": np.sqrt(np.mean(error**2))}
            for metric, value in truth.items():
                inside[metric].append(estimates[metric].lower <= value <= estimates[metric].upper)
    rates = {m: float(np.mean(v)) for m, v in inside.items()}
    assert all(0.90 <= rate <= 1.0 for rate in rates.values()), rates


def test_unknown_categories_count_as_missing_and_bad_predictions_are_reported() -> None:
    rng = np.random.default_rng(2)
    columns, predictions, targets = regression_rows(rng, 2000)
    dle = LossEstimator(n_chunks=3, draws=3).fit(columns, predictions, targets)
    assert dle.categories_ == {"x0": None, "x1": None, "colour": ["blue", "green", "red"]}
    w_columns, w_predictions, _ = regression_rows(rng, 300)
    w_columns["colour"] = np.array(["purple"] * 300, dtype=object)
    assert np.isfinite(dle.estimate(w_columns, w_predictions)["mae"].value)
    w_predictions[4] = np.nan
    with pytest.raises(ModelOutputError, match="1 NaN or infinite value"):
        dle.estimate(w_columns, w_predictions)
    with pytest.raises(DriftloopError, match="'columns' parameter of the window must be the columns"):
        dle.estimate({"x0": w_columns["x0"]}, w_predictions)
    with pytest.raises(DriftloopError, match="'targets' parameter of LossEstimator.fit must be 2000 finite numbers"):
        LossEstimator().fit(columns, predictions, np.r_[targets[:-1], np.nan])

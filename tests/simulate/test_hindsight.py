"""The hindsight-optimal retrain schedule against brute force over every schedule."""

from itertools import combinations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from driftloop.errors import DriftloopError
from driftloop.simulate.hindsight import best_schedules


def schedule_cost(costs: np.ndarray, retrain_after: tuple[int, ...]) -> float:
    """The total cost of serving every window with the model of the last retrain, window by window."""
    model, total = 0, 0.0
    for window in range(costs.shape[1]):
        total += costs[model, window]
        if window in retrain_after:
            model = window + 1
    return total


@st.composite
def cost_matrices(draw):
    windows = draw(st.integers(1, 7))
    values = draw(st.lists(st.floats(0, 100, allow_nan=False), min_size=(windows + 1) * windows,
                           max_size=(windows + 1) * windows))
    costs = np.array(values).reshape(windows + 1, windows)
    return np.where(np.arange(windows)[None, :] < np.arange(windows + 1)[:, None], np.nan, costs)


@settings(max_examples=150, deadline=None)
@given(cost_matrices(), st.integers(0, 7))
def test_best_schedules_match_brute_force(costs, max_retrains):
    windows = costs.shape[1]
    schedules = best_schedules(costs, max_retrains)
    assert len(schedules) == max_retrains + 1
    for limit, found in enumerate(schedules):
        candidates = [c for k in range(min(limit, windows - 1) + 1) for c in combinations(range(windows - 1), k)]
        brute = min(schedule_cost(costs, c) for c in candidates)
        assert found.cost == pytest.approx(brute, rel=1e-12, abs=1e-9)
        assert len(found.retrain_after) <= limit
        assert schedule_cost(costs, found.retrain_after) == pytest.approx(found.cost, rel=1e-12, abs=1e-9)


def test_an_untrainable_model_is_never_chosen():
    costs = np.array([[5.0, 5.0], [np.nan, np.inf], [np.nan, np.nan]])
    assert best_schedules(costs, 1)[1].retrain_after == ()


@pytest.mark.parametrize("costs, message", [
    (np.zeros((2, 2)), "shape"),
    (np.array([[1.0, np.nan], [np.nan, 1.0], [0, 0]]), "model 0"),
    (np.array([[1.0, -1.0], [np.nan, 1.0], [0, 0]]), "negative"),
])
def test_bad_costs_are_clear_errors(costs, message):
    with pytest.raises(DriftloopError, match=message):
        best_schedules(costs, 1)


def test_replay_costs_score_the_replays_models():
    import pandas as pd

    from driftloop.simulate.data import bike_dataset
    from driftloop.simulate.hindsight import replay_costs
    from driftloop.simulate.replay import SimulationSettings, simulate_policy

    dataset, short = bike_dataset(), SimulationSettings(until=pd.Timestamp("2011-05-20", tz="UTC"))
    costs, rows = replay_costs(dataset, short)
    assert costs.shape == (9, 8)  # 8 weekly windows from Thursday 2011-03-31
    never = simulate_policy(dataset, "never", short)
    assert best_schedules(costs, 0)[0].cost / rows == pytest.approx(never.mae, rel=1e-12)
    # a weekly schedule whose challengers were all promoted is the matrix's one-step diagonal
    weekly = schedule_cost(costs, tuple(range(7)))
    assert weekly / rows < never.mae and best_schedules(costs, 7)[7].cost <= weekly

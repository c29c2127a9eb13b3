"""The bundled datasets of driftloop simulate: each loads offline, in time order, with a training period and a
production stream, and the task its target calls for."""

from __future__ import annotations

import pandas as pd
import pytest

from driftloop.simulate.data import BUNDLED
from driftloop.simulate.replay import SimulationSettings, production_windows
from driftloop.simulate.scoring import task_of_target

TASKS = {"bike": "regression", "wine": "regression", "seattle-weather": "classification",
         "seattle-rain": "classification", "seattle-temps": "regression", "trump-approval": "regression"}


@pytest.mark.parametrize("name", sorted(BUNDLED))
def test_a_bundled_dataset_is_a_time_ordered_stream(name):
    dataset = BUNDLED[name]()
    frame, ts = dataset.frame, dataset.frame[dataset.timestamp]
    assert dataset.task == TASKS[name] and ts.is_monotonic_increasing and str(ts.dt.tz) == "UTC"
    assert frame[list(dataset.features)].notna().all().all() and frame[dataset.target].notna().all()
    assert all(pd.api.types.is_float_dtype(frame[c]) for c in dataset.features)
    assert (ts < dataset.train_end).sum() >= 100 and (ts >= dataset.train_end).sum() >= 100
    settings = SimulationSettings(train_days=int(dataset.settings.get("train_days", 90)))
    assert len(production_windows(dataset, settings)) >= 20
    if dataset.task == "classification":
        assert set(frame[dataset.target]) == set(range(len(dataset.classes)))
        assert task_of_target(pd.Series(dataset.classes)) == "classification"


def test_the_performance_policy_guard_is_in_validation_rows_not_hours_of_labels():
    """Daily rows: the model never beats yesterday's rating here, so the performance policy retrains as soon as its
    cooldown (4 weeks) ends; a guard of 300 fresh labels (two weeks of hourly rows) held it back for ten months."""
    from driftloop.simulate.replay import simulate_policy

    stream = BUNDLED["trump-approval"]()
    settings = SimulationSettings(train_days=365, until=stream.train_end + pd.Timedelta(weeks=10))
    result = simulate_policy(stream, "performance", settings)
    assert result.retrains == 2, result.events
    assert [event.split(":")[0] for event in result.events] == ["window 4", "window 8"], result.events

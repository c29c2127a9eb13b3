"""The streaming detectors against river (``river.drift``, in the test extra, same streams, same parameters:
the same detections at the same positions), CUSUM against the textbook recursion, and the contract: a batch gives
what value-by-value updates give, a saved state resumes exactly, bad parameters are named."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from driftloop.stream import ADWIN, CUSUM, DETECTORS, PageHinkley, detector_from_state


def river_detections(kind: str, params: dict, stream: np.ndarray) -> list[int]:
    """The positions at which river's detector (``river.drift``, the oracle) signals a change in ``stream``."""
    from river import drift

    detector = {"adwin": drift.ADWIN, "page_hinkley": drift.PageHinkley}[kind](**params)
    found = []
    for i, value in enumerate(stream.tolist()):
        detector.update(value)
        if detector.drift_detected:
            found.append(i)
    return found


def streams(seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "stationary normal": rng.normal(0, 1, 30_000),
        "mean shift": np.concatenate([rng.normal(0, 1, 5_000), rng.normal(0.7, 1, 5_000)]),
        "absolute errors with a shift": np.abs(np.concatenate([rng.normal(0, 0.5, 8_000), rng.normal(0, 1.0, 8_000)])),
        "binary errors": (rng.random(20_000) < np.repeat([0.1, 0.3], 10_000)).astype(float),
        "repeated shifts": np.concatenate([rng.normal(m, 1, 2_000) for m in (0, 3, -2, 4, 0)]),
    }


CASES = [
    ("adwin", {}),
    ("adwin", {"delta": 0.05, "clock": 1}),
    ("adwin", {"delta": 0.3, "clock": 4, "max_buckets": 2, "min_window_length": 1, "grace_period": 0}),
    ("page_hinkley", {}),
    ("page_hinkley", {"threshold": 10.0, "alpha": 0.999, "min_instances": 5}),
    ("page_hinkley", {"threshold": 20.0, "delta": 0.1, "mode": "up"}),
    ("page_hinkley", {"threshold": 20.0, "mode": "down"}),
]


def test_the_same_detections_as_river() -> None:
    pytest.importorskip("river", reason="river (the oracle, in the test extra) is not installed")
    found = 0
    for name, stream in streams(11).items():
        for kind, params in CASES:
            mine, theirs = DETECTORS[kind](**params).update_many(stream), river_detections(kind, params, stream)
            assert mine == theirs, (name, kind, params, mine[:10], theirs[:10])
            found += len(theirs)
    assert found > 50  # the streams do make them fire


def tabular_cusum(values: list[float], warmup: int, slack: float, threshold: float, mode: str) -> list[int]:
    """Montgomery's tabular CUSUM, written out plainly, restarting after each alarm."""
    found, start = [], 0
    while start + warmup <= len(values):
        reference = values[start:start + warmup]
        mu = sum(reference) / warmup
        sigma = math.sqrt(sum((v - mu) ** 2 for v in reference) / (warmup - 1))
        upper = lower = 0.0
        for index in range(start + warmup, len(values)):
            upper = max(0.0, upper + values[index] - mu - slack * sigma)
            lower = max(0.0, lower + mu - values[index] - slack * sigma)
            if (mode != "down" and upper > threshold * sigma) or (mode != "up" and lower > threshold * sigma):
                found.append(index)
                start = index + 1
                break
        else:
            break
    return found


@pytest.mark.parametrize("params", [{}, {"threshold": 4.0, "slack": 0.25}, {"mode": "up", "warmup": 5},
                                    {"mode": "down", "threshold": 3.0}])
def test_cusum_is_the_tabular_cusum(params: dict) -> None:
    defaults = {"warmup": 100, "slack": 0.5, "threshold": 10.0, "mode": "both", **params}
    for stream in streams(5).values():
        values = stream[:12_000].tolist()
        assert CUSUM(**params).update_many(values) == tabular_cusum(values, **defaults)


batches = st.lists(st.floats(-1e6, 1e6) | st.sampled_from([0.0, 1.0, math.nan, math.inf]), min_size=0,
                   max_size=400)
detectors = st.sampled_from([lambda: ADWIN(delta=0.2, clock=3, grace_period=2), lambda: PageHinkley(threshold=3.0),
                             lambda: PageHinkley(threshold=1e5, alpha=0.9, mode="up"),
                             lambda: CUSUM(warmup=3, threshold=2.0), lambda: CUSUM(warmup=2, mode="down")])


@settings(max_examples=150, deadline=None)
@given(make=detectors, values=batches, cut=st.integers(0, 400), steps=st.lists(st.integers(1, 150), max_size=5))
def test_batches_and_saved_states_give_the_detections_of_one_value_at_a_time(make, values, cut, steps) -> None:
    one_by_one = make()
    expected = [i for i, value in enumerate(values) if math.isfinite(value) and one_by_one.update(value)]
    assert make().update_many(values) == expected
    detector, found, start = make(), [], 0
    for step in [cut, *steps, len(values)]:  # batches of any size, the state saved to JSON and restored between
        batch = values[start:start + step]
        found += [start + i for i in detector.update_many(batch)]
        detector = detector_from_state(json.loads(json.dumps(detector.state())))
        start += len(batch)
    assert found == expected
    assert detector.state() == one_by_one.state()


def test_a_detector_starts_afresh_after_a_detection() -> None:
    detector = PageHinkley(threshold=5.0, min_instances=5)
    stream = [0.0] * 50 + [10.0] * 5
    assert detector.update_many(stream) == [50]
    assert detector.seen == 4 and detector.statistic >= 0


@pytest.mark.parametrize("make, message", [
    (lambda: ADWIN(delta=0), "ADWIN: delta must be a number in (0, 1); got 0."),
    (lambda: ADWIN(clock=0), "ADWIN: clock must be an integer >= 1; got 0."),
    (lambda: PageHinkley(mode="sideways"), "PageHinkley: mode must be one of up, down, both; got 'sideways'."),
    (lambda: PageHinkley(alpha=1.5), "PageHinkley: alpha must be a number in (0, 1]; got 1.5."),
    (lambda: CUSUM(warmup=1), "CUSUM: warmup must be an integer >= 2; got 1."),
    (lambda: CUSUM(threshold=0), "CUSUM: threshold must be a finite number > 0; got 0."),
])
def test_bad_parameters_are_named(make, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        make()
    assert str(caught.value) == message


def test_unknown_detector_in_a_saved_state() -> None:
    with pytest.raises(ValueError, match="Unknown stream detector 'kswin'; expected one of adwin, page_hinkley, cusum"):
        detector_from_state({"detector": "kswin", "parameters": {}, "state": {}})

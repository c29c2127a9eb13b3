"""The compiled binary window (one pass and one sort) gives what the general formulas give from the probability
matrix, ties, uncalibrated scores and given predictions included."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from driftloop.estimate.binary import _confusion_pass, _lookup, binary_metrics
from driftloop.estimate.calibration import Knots, apply_knots, fit_knots
from driftloop.estimate.confusion import confusion_metrics

TOLERANCE = 1e-10  # the module's stated bound (n * machine epsilon for a million rows)


def general(scores: np.ndarray, predicted: np.ndarray | None, knots: Knots | None) -> dict[str, float]:
    called = np.argmax(scores, axis=1) if predicted is None else predicted
    return confusion_metrics(apply_knots(None if knots is None else [knots], scores), called, scores)


def assert_close(ours: dict[str, float], theirs: dict[str, float]) -> None:
    assert ours.keys() == theirs.keys()
    for name, value in theirs.items():
        assert np.isnan(ours[name]) == np.isnan(value), name
        if not np.isnan(value):
            assert abs(ours[name] - value) <= TOLERANCE * max(1.0, abs(value)), (name, ours[name], value)


@st.composite
def windows(draw):
    n = draw(st.integers(1, 80))
    levels = draw(st.integers(2, 12))  # few levels: many ties
    positive = np.array(draw(st.lists(st.integers(0, levels), min_size=n, max_size=n)), dtype=float) / levels
    summed = draw(st.booleans())  # scores summing to one, or not (the uncalibrated negative weight is the score)
    negative = 1.0 - positive if summed else np.array(
        draw(st.lists(st.floats(0, 1, allow_subnormal=False), min_size=n, max_size=n)))
    scores = np.column_stack([negative, positive])
    predicted = draw(st.one_of(st.none(), st.lists(st.integers(0, 1), min_size=n, max_size=n).map(np.array)))
    knots = None
    if draw(st.booleans()):
        m = draw(st.integers(1, 8))  # one knot: a constant calibration
        x = np.unique(draw(st.lists(st.floats(0, 1, allow_subnormal=False), min_size=m, max_size=m)))
        y = np.sort(draw(st.lists(st.floats(0, 1, allow_subnormal=False), min_size=len(x), max_size=len(x))))
        knots = Knots(x, np.asarray(y))
    return scores, predicted, knots


@settings(max_examples=400, deadline=None)
@given(windows())
def test_binary_window_matches_the_general_formulas(case) -> None:
    scores, predicted, knots = case
    assert_close(binary_metrics(scores, predicted, knots), general(scores, predicted, knots))


def test_a_large_calibrated_window_matches_within_the_stated_bound() -> None:
    rng = np.random.default_rng(3)
    logit = rng.normal(size=300_000) * 1.5
    positive = np.round(1 / (1 + np.exp(-1.6 * logit)), 4)  # rounded: ties in every group of the sort
    labels = (rng.uniform(size=len(positive)) < 1 / (1 + np.exp(-logit))).astype(float)
    knots = fit_knots(positive[:100_000], labels[:100_000])
    scores = np.column_stack([1 - positive, positive])
    assert_close(binary_metrics(scores, None, knots), general(scores, None, knots))
    predicted = (rng.uniform(size=len(positive)) < 0.5).astype(np.intp)
    assert_close(binary_metrics(scores, predicted, knots), general(scores, predicted, knots))


def test_the_compiled_pass_interpolates_and_sums_as_numpy_does_bit_for_bit() -> None:
    """Each calibrated weight is ``numpy.interp``'s to the last bit (at knots, next to them, outside them, on flat
    steps), and the sums per predicted class are ``bincount``'s."""
    rng = np.random.default_rng(1)
    for trial in range(50):
        x = np.unique(np.r_[rng.uniform(size=int(rng.integers(2, 600))) ** rng.uniform(0.2, 5), 0.0, 1.0])
        y = np.sort(rng.uniform(size=len(x)))
        if trial % 3 == 0:
            y = np.round(y, 1)  # flat steps
        probes = np.r_[rng.uniform(-0.1, 1.1, size=500), x, np.nextafter(x, 2), np.nextafter(x, -1)]
        lookup = _lookup(Knots(x, y))
        one = np.zeros(1, dtype=np.intp)
        each = [_confusion_pass(np.array([[0.5, p]]), one, True, True, *lookup)[0][0] for p in probes]
        np.testing.assert_array_equal(each, np.interp(probes, x, y))
        scores = np.column_stack([rng.uniform(size=len(probes)), probes])
        called = rng.integers(0, 2, size=len(probes))
        weights, counts, negatives = _confusion_pass(scores, called, True, True, *lookup)
        np.testing.assert_array_equal(weights, np.bincount(called, weights=np.interp(probes, x, y), minlength=2))
        np.testing.assert_array_equal(counts, np.bincount(called, minlength=2))
        np.testing.assert_array_equal(negatives, np.bincount(called, weights=scores[:, 0], minlength=2))

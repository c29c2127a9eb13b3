"""The estimates from mergeable sums (what the Spark engine aggregates per window) against the row-based ones the
numpy engine computes: the expected AUC from per-distinct-score sums of parts of a window, the metrics from a summed
expected confusion matrix, CBPE from :meth:`estimate_from_confusion` and DLE from :meth:`estimate_from_means`; with
0/1 weights the AUC is scikit-learn's ``roc_auc_score``, with fractional ones scikit-learn's weighted AUC of every
row counted once positive and once negative, less the pairs of a row with itself."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import roc_auc_score

from driftloop.errors import DriftloopError
from driftloop.estimate import ConfidenceEstimator, LossEstimator
from driftloop.estimate.confusion import (
    auc_from_sums,
    confusion_metrics,
    expected_auc,
    expected_auc_sums,
    expected_confusion,
    merge_score_sums,
    metrics_from_confusion,
    score_sums,
    scored_classes,
)
from tests.estimate.conftest import classifier_rows
from tests.estimate.test_dle import regression_rows


@st.composite
def weighted_rows(draw):
    """Weights in [0, 1] (some 0 or 1), coarse scores that tie, and cuts of the rows into parts."""
    n = draw(st.integers(1, 40))
    weights = np.array(draw(st.lists(st.one_of(st.sampled_from([0.0, 1.0]), st.floats(0, 1, allow_subnormal=False)),
                                     min_size=n, max_size=n)))
    scores = np.array(draw(st.lists(st.integers(0, 6), min_size=n, max_size=n)), dtype=float) / 6
    cuts = sorted(draw(st.lists(st.integers(0, n), max_size=4)))
    return weights, scores, cuts


def _parts(weights, scores, cuts):
    return [score_sums(w, s) for w, s in zip(np.split(weights, cuts), np.split(scores, cuts), strict=True)]


@settings(max_examples=300, deadline=None)
@given(weighted_rows())
def test_auc_of_merged_score_sums_is_the_row_based_expected_auc(case) -> None:
    weights, scores, cuts = case
    merged = merge_score_sums(_parts(weights, scores, cuts))
    whole = expected_auc_sums(weights, scores)
    assert merged == pytest.approx(whole, rel=1e-12, abs=1e-12)
    ours, rows = auc_from_sums(merged), expected_auc(weights, scores)
    assert (np.isnan(ours) and np.isnan(rows)) or ours == pytest.approx(rows, rel=1e-9, abs=1e-12)


@settings(max_examples=300, deadline=None)
@given(weighted_rows())
def test_auc_of_merged_score_sums_is_sklearns(case) -> None:
    weights, scores, cuts = case
    sums = merge_score_sums(_parts(weights, scores, cuts))
    ours = auc_from_sums(sums)
    if set(np.unique(weights)) <= {0.0, 1.0}:  # labels: the realised AUC
        labels = weights.astype(int)
        if len(set(labels)) < 2:
            assert np.isnan(ours)
        else:
            assert ours == pytest.approx(roc_auc_score(labels, scores), rel=1e-12)
    # every row once a positive (weight w) and once a negative (weight 1 - w): scikit-learn's weighted AUC counts
    # the pairs of a row with itself (a tie, half concordant), which the expected AUC leaves out
    both = weights.sum() > 0 and (1 - weights).sum() > 0
    denominator = sums.positive * sums.negative - sums.self_pairs
    if both and denominator > 1e-9:
        theirs = roc_auc_score(np.r_[np.ones(len(weights)), np.zeros(len(weights))], np.r_[scores, scores],
                               sample_weight=np.r_[weights, 1 - weights])
        with_self = theirs * sums.positive * sums.negative
        assert ours == pytest.approx((with_self - 0.5 * sums.self_pairs) / denominator, rel=1e-9, abs=1e-9)


@st.composite
def probability_rows(draw):
    k = draw(st.integers(2, 4))
    n = draw(st.integers(1, 50))
    raw = np.array(draw(st.lists(st.integers(0, 5), min_size=n * k, max_size=n * k)), dtype=float).reshape(n, k) + 0.5
    probabilities = raw / raw.sum(axis=1, keepdims=True)
    predicted = np.array(draw(st.lists(st.integers(0, k - 1), min_size=n, max_size=n)))
    cuts = sorted(draw(st.lists(st.integers(0, n), max_size=3)))
    return probabilities, predicted, cuts


@settings(max_examples=300, deadline=None)
@given(probability_rows())
def test_metrics_from_summed_confusion_are_the_row_based_metrics(case) -> None:
    probabilities, predicted, cuts = case
    k = probabilities.shape[1]
    parts = list(zip(np.split(probabilities, cuts), np.split(predicted, cuts), strict=True))
    confusion = sum(expected_confusion(p, q) if len(q) else np.zeros((k, k)) for p, q in parts)
    aucs = [auc_from_sums(merge_score_sums([score_sums(p[:, c], p[:, c]) for p, _ in parts]))
            for c in scored_classes(k)]
    ours = metrics_from_confusion(confusion, aucs, len(predicted))
    rows = confusion_metrics(probabilities, predicted, probabilities)
    for name, value in rows.items():
        assert (np.isnan(ours[name]) and np.isnan(value)) or ours[name] == pytest.approx(value, rel=1e-9), name


@pytest.mark.parametrize(("k", "sharpness"), [(2, 1.0), (2, 1.8), (3, 1.8)])
def test_cbpe_from_sums_of_batches_is_its_estimate_of_the_rows(k: int, sharpness: float) -> None:
    """Sharpness 1: calibrated scores used as they are; 1.8: recalibrated (binary through the compiled path)."""
    rng = np.random.default_rng(k)
    scores, labels = classifier_rows(rng, 4000, k, sharpness=sharpness)
    cbpe = ConfidenceEstimator(n_chunks=4, draws=5).fit(scores, labels)
    assert cbpe.check_.calibrate == (sharpness != 1.0)
    window, _ = classifier_rows(rng, 700, k, sharpness=sharpness, shift=0.5)
    confusion = np.zeros((k, k))
    parts: dict[int, list] = {c: [] for c in scored_classes(k)}
    for batch in np.array_split(window, 5):  # as the Spark engine's workers see the rows: batch by batch
        probabilities, predicted = cbpe.calibrated(batch)
        confusion += expected_confusion(probabilities, predicted)
        for c in parts:
            parts[c].append(score_sums(probabilities[:, c], batch[:, c]))
    ours = cbpe.estimate_from_confusion(confusion, [merge_score_sums(parts[c]) for c in scored_classes(k)],
                                        len(window))
    rows = cbpe.estimate(window)
    for name in cbpe.metrics:
        assert ours[name] == pytest.approx(rows[name], rel=1e-9), name


def test_cbpe_from_sums_of_no_rows_and_of_the_wrong_shape() -> None:
    rng = np.random.default_rng(1)
    scores, labels = classifier_rows(rng, 2000, 3)
    cbpe = ConfidenceEstimator(n_chunks=4, draws=5).fit(scores, labels)
    assert all(np.isnan(e.value) for e in cbpe.estimate_from_confusion(np.zeros((3, 3)), [], 0).values())
    with pytest.raises(DriftloopError, match="3 x 3 matrix and 3 AUC sums"):
        cbpe.estimate_from_confusion(np.zeros((2, 2)), [], 10)


def test_dle_from_the_means_of_batches_is_its_estimate_of_the_rows() -> None:
    rng = np.random.default_rng(4)
    dle = LossEstimator(n_chunks=4, draws=5).fit(*regression_rows(rng, 3000))
    columns, predictions, _ = regression_rows(rng, 900, low=0.0, high=1.5)
    absolute_sum = squared_sum = 0.0
    for rows in np.array_split(np.arange(900), 4):  # the Spark engine's workers: batch by batch, then summed
        absolute, squared = dle.predicted_losses({n: v[rows] for n, v in columns.items()}, predictions[rows])
        absolute_sum, squared_sum = absolute_sum + absolute.sum(), squared_sum + squared.sum()
    ours = dle.estimate_from_means(absolute_sum / 900, squared_sum / 900, 900)
    rows_estimate = dle.estimate(columns, predictions)
    for name in dle.metrics:
        assert ours[name] == pytest.approx(rows_estimate[name], rel=1e-9), name
    assert all(np.isnan(e.value) for e in dle.estimate_from_means(0.0, 0.0, 0).values())

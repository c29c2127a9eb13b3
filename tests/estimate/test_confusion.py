"""The expected confusion matrix and expected AUC: with the true labels they are scikit-learn's metrics; with
fractional weights, the expectation over labels drawn from them."""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as skm

from driftloop.estimate.confusion import confusion_metrics, expected_auc, one_hot


def sklearn_metrics(labels: np.ndarray, predicted: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    k = scores.shape[1]
    if k == 2:
        kwargs = {"average": "binary", "pos_label": 1, "zero_division": np.nan}
        auc = skm.roc_auc_score(labels, scores[:, 1]) if len(set(labels)) == 2 else np.nan
    else:
        kwargs = {"average": "macro", "labels": list(range(k)), "zero_division": np.nan}
        present = np.unique(labels)
        auc = np.mean([skm.roc_auc_score(labels == c, scores[:, c]) for c in present]) if len(present) > 1 else np.nan
    return {
        "accuracy": skm.accuracy_score(labels, predicted),
        "precision": skm.precision_score(labels, predicted, **kwargs),
        "recall": skm.recall_score(labels, predicted, **kwargs),
        "f1": skm.f1_score(labels, predicted, **kwargs),
        "roc_auc": auc,
    }


@st.composite
def classified(draw):
    k = draw(st.integers(2, 4))
    n = draw(st.integers(2, 60))
    labels = np.array(draw(st.lists(st.integers(0, k - 1), min_size=n, max_size=n)))
    # coarse scores make ties, the case where AUC definitions part
    raw = np.array(draw(st.lists(st.integers(1, 5), min_size=n * k, max_size=n * k)), dtype=float).reshape(n, k)
    scores = raw / raw.sum(axis=1, keepdims=True)
    predicted = np.array(draw(st.lists(st.integers(0, k - 1), min_size=n, max_size=n)))
    return labels, predicted, scores


@settings(max_examples=300, deadline=None)
@given(classified())
def test_one_hot_probabilities_give_sklearn_metrics(case) -> None:
    labels, predicted, scores = case
    ours = confusion_metrics(one_hot(labels, scores.shape[1]), predicted, scores)
    theirs = sklearn_metrics(labels, predicted, scores)
    for name, value in theirs.items():
        assert np.isnan(ours[name]) == np.isnan(value), name
        if not np.isnan(value):
            assert abs(ours[name] - value) < 1e-12, (name, ours[name], value)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 1, allow_subnormal=False), st.integers(0, 4)), min_size=2, max_size=8))
def test_expected_auc_is_the_ratio_of_expected_pair_counts(rows) -> None:
    """Brute force over every labelling: sum_y P(y) * concordant(y) / sum_y P(y) * pairs(y)."""
    w = np.array([r[0] for r in rows])
    s = np.array([float(r[1]) for r in rows])
    concordant = pairs = 0.0
    for labelling in itertools.product([0, 1], repeat=len(rows)):
        y = np.array(labelling)
        p = float(np.prod(np.where(y == 1, w, 1 - w)))
        pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
        for i in pos:
            for j in neg:
                concordant += p * ((s[i] > s[j]) + 0.5 * (s[i] == s[j]))
                pairs += p
    ours = expected_auc(w, s)
    if pairs == 0:
        assert np.isnan(ours)
    else:
        assert abs(ours - concordant / pairs) < 1e-9


def test_expected_confusion_is_the_mean_confusion_of_labels_drawn_from_the_probabilities() -> None:
    rng = np.random.default_rng(3)
    n, k = 400, 3
    proba = rng.dirichlet(np.ones(k), size=n)
    predicted = rng.integers(0, k, size=n)
    draws = np.array([
        (proba.cumsum(axis=1) > rng.uniform(size=(n, 1))).argmax(axis=1) for _ in range(4000)
    ])
    mean_accuracy = np.mean([(d == predicted).mean() for d in draws])
    assert abs(confusion_metrics(proba, predicted, proba)["accuracy"] - mean_accuracy) < 0.002


def expected_roc_curve_auc(weights: np.ndarray, scores: np.ndarray) -> float:
    """NannyML 0.13's estimate (``estimate_roc_auc``): the trapezoidal area under the ROC curve of the expected
    cumulative true and false positives, which counts each row once as a pair with itself."""
    order = np.argsort(-scores, kind="stable")
    tps = np.r_[0.0, np.cumsum(weights[order])]
    fps = np.r_[0.0, np.cumsum(1.0 - weights[order])]
    return float(np.trapezoid(tps / tps[-1], fps / fps[-1]))


def test_leaving_out_the_self_pairs_estimates_the_mean_realised_auc_better() -> None:
    """Why driftloop's expected AUC leaves out the pair of a row with itself, where NannyML's ROC curve keeps it.

    The realised AUC of labels drawn from calibrated weights is a ratio; its mean, measured here over 400,000
    labellings of 50 rows, is the target. Keeping the self-pairs adds :math:`S = \\sum_i w_i (1 - w_i)` to the
    denominator and :math:`S/2` to the numerator: the estimate shrinks toward 0.5 by a factor :math:`S/(D+S)`, a
    bias of order :math:`1/n` (2e-5 on the 5,000-row chunks of NannyML's datasets). Leaving them out gives the
    exact ratio of the expected pair counts; the mean of a ratio is not the ratio of the means either, but that
    bias is several times smaller (here 2-10e-4 against 4-5e-3)."""
    rng = np.random.default_rng(5)
    n, draws = 50, 400_000
    for _ in range(3):
        weights = rng.beta(0.7, 1.3, size=n)
        scores = weights + rng.normal(0.0, 0.1, size=n)
        ranks = np.argsort(np.argsort(scores)) + 1.0
        total = count = 0.0
        for _ in range(draws // 20_000):
            labels = rng.uniform(size=(20_000, n)) < weights
            positives = labels.sum(axis=1)
            defined = (positives > 0) & (positives < n)
            auc = (labels[defined] @ ranks - positives[defined] * (positives[defined] + 1) / 2) / (
                positives[defined] * (n - positives[defined]))
            total, count = total + auc.sum(), count + defined.sum()
        mean_realised = total / count  # its standard error is about 1e-4
        ours = abs(expected_auc(weights, scores) - mean_realised)
        with_self_pairs = abs(expected_roc_curve_auc(weights, scores) - mean_realised)
        assert ours < with_self_pairs / 3, (ours, with_self_pairs)

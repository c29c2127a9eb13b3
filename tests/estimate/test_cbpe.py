"""CBPE: estimates against the realised metrics (scikit-learn) on simulated data, the calibration decision, the
coverage of the bands, and bad input."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm
from sklearn.isotonic import IsotonicRegression

from driftloop.errors import DriftloopError, NotFittedError
from driftloop.estimate import ConfidenceEstimator, ModelOutputError
from driftloop.estimate.calibration import apply_knots, fit_knots, hosmer_lemeshow
from driftloop.estimate.confusion import confusion_metrics, one_hot
from tests.estimate.conftest import classifier_rows


def realised(scores: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """The realised metrics by scikit-learn, the independent oracle."""
    predicted = scores.argmax(axis=1)
    if scores.shape[1] == 2:
        return {"accuracy": skm.accuracy_score(labels, predicted), "precision": skm.precision_score(labels, predicted),
                "recall": skm.recall_score(labels, predicted), "f1": skm.f1_score(labels, predicted),
                "roc_auc": skm.roc_auc_score(labels, scores[:, 1])}
    return {"accuracy": skm.accuracy_score(labels, predicted),
            "precision": skm.precision_score(labels, predicted, average="macro"),
            "recall": skm.recall_score(labels, predicted, average="macro"),
            "f1": skm.f1_score(labels, predicted, average="macro"),
            "roc_auc": skm.roc_auc_score(labels, scores, multi_class="ovr", average="macro")}


@pytest.mark.parametrize("k", [2, 3])
def test_estimates_match_the_realised_metrics_of_a_large_shifted_window(k: int) -> None:
    rng = np.random.default_rng(k)
    scores, labels = classifier_rows(rng, 20_000, k)
    cbpe = ConfidenceEstimator(draws=5).fit(scores, labels)
    assert cbpe.check_.calibrate and "isotonic" in cbpe.check_.reason
    window_scores, window_labels = classifier_rows(rng, 50_000, k, shift=0.7)   # covariate shift
    estimates = cbpe.estimate(window_scores)
    truth = realised(window_scores, window_labels)
    reference = realised(scores, labels)
    for metric, value in truth.items():
        assert abs(estimates[metric].value - value) < 0.015, (metric, estimates[metric], value)
        assert estimates[metric].lower <= value <= estimates[metric].upper, (metric, estimates[metric], value)
    # the shift changes performance by more than the estimation error: the estimate follows the window, not the
    # reference
    assert max(abs(truth[m] - reference[m]) for m in truth) > 0.03


def test_calibrated_scores_are_used_as_they_are_and_it_is_said() -> None:
    rng = np.random.default_rng(0)
    p = rng.beta(2, 3, size=5000)
    labels = (rng.uniform(size=5000) < p).astype(int)
    cbpe = ConfidenceEstimator(draws=3).fit(np.column_stack([1 - p, p]), labels)
    assert cbpe.check_.calibrate is False and cbpe.knots_ is None
    assert cbpe.check_.reason.startswith("scores already calibrated") and "Hosmer-Lemeshow" in cbpe.check_.reason


def test_hosmer_lemeshow_rejects_calibrated_scores_at_about_its_level() -> None:
    rng = np.random.default_rng(1)
    p_values = []
    for _ in range(300):
        s = rng.uniform(0.05, 0.95, size=2000)
        p_values.append(hosmer_lemeshow(s, (rng.uniform(size=2000) < s).astype(float)))
    assert 0.02 <= np.mean(np.array(p_values) < 0.05) <= 0.09


def test_isotonic_knots_predict_what_sklearn_predicts() -> None:
    rng = np.random.default_rng(2)
    s = rng.uniform(size=3000) ** 2
    y = (rng.uniform(size=3000) < np.sqrt(s)).astype(float)
    knots = fit_knots(s, y)
    model = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(s, y)
    probe = np.r_[rng.uniform(-0.1, 1.1, size=1000), s[:100]]
    np.testing.assert_allclose(np.interp(probe, knots.x, knots.y), model.predict(probe), rtol=0, atol=1e-12)
    proba = apply_knots([knots], np.column_stack([1 - probe, probe]))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)


@pytest.mark.parametrize("k", [2, 3])
def test_bands_cover_the_realised_metric_at_the_stated_rate(k: int) -> None:
    """Windows drawn like the reference (new rows, and rows of the reference itself): the realised metric falls in
    the 95 % band of each metric in 90-100 % of windows."""
    rng = np.random.default_rng(10 + k)
    scores, labels = classifier_rows(rng, 10_000, k)
    cbpe = ConfidenceEstimator().fit(scores, labels)
    inside = {m: [] for m in cbpe.metrics}
    for size in (100, 400, 1500):
        for i in range(80):
            if i % 2:
                window, truth = classifier_rows(rng, size, k)
            else:
                rows = rng.choice(len(scores), size=size, replace=False)
                window, truth = scores[rows], labels[rows]
            estimates = cbpe.estimate(window)
            real = confusion_metrics(one_hot(truth, k), window.argmax(axis=1), window)
            for m in cbpe.metrics:
                if np.isfinite(real[m]):
                    inside[m].append(estimates[m].lower <= real[m] <= estimates[m].upper)
    rates = {m: float(np.mean(v)) for m, v in inside.items()}
    assert all(0.90 <= rate <= 1.0 for rate in rates.values()), rates


def test_bands_narrow_as_windows_grow() -> None:
    rng = np.random.default_rng(5)
    scores, labels = classifier_rows(rng, 8000, 2)
    cbpe = ConfidenceEstimator(draws=5).fit(scores, labels)
    widths = [cbpe.estimate(classifier_rows(rng, n, 2)[0])["accuracy"] for n in (100, 1000, 10_000)]
    spans = [e.upper - e.lower for e in widths]
    assert spans[0] > spans[1] > spans[2] > 0


def test_scores_outside_probabilities_are_a_data_quality_problem_never_clipped() -> None:
    rng = np.random.default_rng(6)
    scores, labels = classifier_rows(rng, 2000, 2)
    cbpe = ConfidenceEstimator(draws=2).fit(scores, labels)
    bad = scores[:50].copy()
    bad[3, 1] = 1.2
    bad[7, 0] = np.nan
    with pytest.raises(ModelOutputError, match=r"1 NaN value\(s\) and 1 outside \[0, 1\] \(e.g. 1.2\).*never clipped"):
        cbpe.estimate(bad)
    with pytest.raises(ModelOutputError, match="matrix of 2 column"):
        cbpe.estimate(scores[:, :1])


def test_bad_reference_input_names_the_parameter() -> None:
    rng = np.random.default_rng(7)
    scores, labels = classifier_rows(rng, 2000, 2)
    with pytest.raises(NotFittedError, match="ConfidenceEstimator is not fitted"):
        ConfidenceEstimator().estimate(scores)
    with pytest.raises(DriftloopError, match="'labels' parameter of ConfidenceEstimator.fit must be 2000 class codes"):
        ConfidenceEstimator().fit(scores, labels + 1)
    with pytest.raises(DriftloopError, match="'coverage' parameter of ConfidenceEstimator must be a number in"):
        ConfidenceEstimator(coverage=1.5).fit(scores, labels)
    with pytest.raises(DriftloopError, match="at least 640 labelled rows"):
        ConfidenceEstimator().fit(scores[:300], labels[:300])

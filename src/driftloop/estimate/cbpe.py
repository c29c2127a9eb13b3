r"""Confidence-based performance estimation (CBPE): a classifier's accuracy, precision, recall, F1 and ROC AUC on a
window whose labels have not arrived.

Fitted once on the reference (labels, the model's class scores and its predicted classes):

1. decide whether the scores need calibrating (Hosmer–Lemeshow, :mod:`driftloop.estimate.calibration`), and if so
   fit an isotonic calibration per class, one-vs-rest, on the whole reference;
2. measure the estimation error by leave-one-chunk-out cross-fitting (:mod:`driftloop.estimate.bands`): the
   calibration refitted without each chunk estimates samples of that chunk, whose labels give the realised metric.

Per window, one pass over its scores: calibrated probabilities, the expected confusion matrix and expected AUC
(:mod:`driftloop.estimate.confusion`; two classes: the compiled :mod:`driftloop.estimate.binary`, one pass and one
sort), and for each metric the band at the window's size. Scores that are NaN or
outside [0, 1] are a data-quality problem (:class:`ModelOutputError`), never clipped.

The method is NannyML's CBPE [1]_, which rests on the paper [2]_: under calibrated scores and no concept shift
(:math:`P(y \mid s)` unchanged), the expected confusion matrix of a window is the sum of its rows' calibrated
probabilities, whatever the shift of the inputs. Where driftloop differs: the calibration is cross-fitted and
skipped when the reference cannot show it is needed, the multiclass metrics are exact one-vs-rest expectations,
the AUC leaves out the impossible :math:`i = j` pair, and every estimate has a measured band.

References
----------
.. [1] NannyML, "Confidence-based Performance Estimation (CBPE)", *How it works: performance estimation*,
   https://nannyml.readthedocs.io/en/stable/how_it_works/performance_estimation.html
.. [2] J. Kivimäki, J. Białek, W. Kuberski, J. K. Nurminen, "Performance Estimation in Binary Classification Using
   Calibrated Confidence", arXiv:2505.05295, 2025.

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> scores = rng.beta(2, 2, size=4000)
>>> labels = (rng.uniform(size=4000) < scores).astype(int)          # calibrated by construction
>>> proba = np.column_stack([1 - scores, scores])
>>> cbpe = ConfidenceEstimator().fit(proba, labels)
>>> cbpe.check_.calibrate
False
>>> window = rng.beta(5, 2, size=1000)
>>> e = cbpe.estimate(np.column_stack([1 - window, window]))["accuracy"]
>>> round(e.value, 3), e.lower < e.value < e.upper
(0.741, True)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from driftloop.errors import DriftloopError, NotFittedError, invalid_parameter
from driftloop.estimate.bands import bounded, measure_errors
from driftloop.estimate.binary import binary_metrics
from driftloop.estimate.calibration import (
    CalibrationCheck,
    Knots,
    apply_knots,
    check_calibration,
    fit_calibration,
)
from driftloop.estimate.confusion import (
    CLASSIFICATION_METRICS,
    AucSums,
    auc_from_sums,
    confusion_metrics,
    metrics_from_confusion,
    one_hot,
    scored_classes,
)


class Estimate(NamedTuple):
    """An estimated metric and its band."""

    value: float
    lower: float
    upper: float


class ModelOutputError(DriftloopError):
    """A window's model outputs are unusable (class scores NaN or outside [0, 1], predictions NaN): a data-quality
    problem, reported, never clipped."""


def check_scores(scores: Any, n_classes: int, owner: str) -> NDArray[np.float64]:
    """``scores`` as an n x ``n_classes`` float matrix of probabilities, or a :class:`ModelOutputError` saying what is
    wrong (how many values are NaN, how many outside [0, 1], an example).

    >>> check_scores([[0.2, 0.8]], 2, "the window").shape
    (1, 2)
    >>> check_scores([[0.2, 1.3], [float("nan"), 0.5]], 2, "the window")
    Traceback (most recent call last):
    ...
    driftloop.estimate.cbpe.ModelOutputError: The class scores of the window must be probabilities in [0, 1]; got 1 NaN value(s) and 1 outside [0, 1] (e.g. 1.3). A data-quality problem: no estimate is made from them (they are never clipped).
    """
    matrix = np.asarray(scores, dtype=np.float64)
    if matrix.ndim != 2 or matrix.shape[1] != n_classes:
        raise ModelOutputError(f"The class scores of {owner} must be a matrix of {n_classes} column(s), one per class; got "
                          f"shape {matrix.shape}.")
    if matrix.size == 0 or (matrix.min() >= 0.0 and matrix.max() <= 1.0):  # NaN fails both comparisons
        return matrix
    missing = np.isnan(matrix)
    outside = ~missing & ((matrix < 0.0) | (matrix > 1.0))
    if missing.any() or outside.any():
        raise ModelOutputError(scores_problem(owner, int(missing.sum()), int(outside.sum()),
                                              float(matrix[outside][0]) if outside.any() else None))
    return matrix


def scores_problem(owner: str, n_missing: int, n_outside: int, example: float | None) -> str:
    """What :func:`check_scores` says of class scores with ``n_missing`` NaN values and ``n_outside`` values outside
    [0, 1], the first of them (in row order, then class order) ``example`` — also from an engine's counts.

    >>> scores_problem("the window", 0, 2, -0.5)
    'The class scores of the window must be probabilities in [0, 1]; got 0 NaN value(s) and 2 outside [0, 1] (e.g. -0.5). A data-quality problem: no estimate is made from them (they are never clipped).'
    """
    shown = f" (e.g. {example:.6g})" if example is not None else ""
    return (f"The class scores of {owner} must be probabilities in [0, 1]; got {n_missing} NaN value(s) and "
            f"{n_outside} outside [0, 1]{shown}. A data-quality problem: no estimate is made from them (they are "
            "never clipped).")


def _predicted(predicted: Any, scores: NDArray[np.float64], owner: str) -> NDArray[np.intp]:
    if predicted is None:
        return np.argmax(scores, axis=1).astype(np.intp)
    codes = np.asarray(predicted)
    if codes.shape != (len(scores),) or codes.dtype.kind not in "iu" or len(codes) and (
            codes.min() < 0 or codes.max() >= scores.shape[1]):
        raise invalid_parameter("predicted", owner, f"{len(scores)} class codes in 0..{scores.shape[1] - 1}",
                                f"an array of shape {codes.shape} and dtype {codes.dtype}")
    return codes.astype(np.intp)


class ConfidenceEstimator:
    """CBPE for a classifier of K >= 2 classes (see the module).

    Parameters
    ----------
    coverage
        Probability that a band holds the realised metric. Default 0.95.
    calibration_level
        Hosmer–Lemeshow level below which the reference's scores are recalibrated. Default 0.05.
    n_chunks, draws
        Leave-one-chunk-out measurement of the bands: chunks of the reference, samples per chunk. Defaults 10 and
        20 (200 errors per size and metric; each chunk refits the calibration on 90 % of the measured rows).
    max_rows
        The bands are measured on at most this many reference rows (an even stride, row order kept); the
        calibration itself uses every row. Default 50,000: windows up to 2,500 rows are measured at their own size,
        larger ones by the size law, and a reference of a million rows is measured in seconds (all of it: 144 s).
    seed
        Seed of the draws.

    Attributes
    ----------
    n_classes_ : int
    check_ : CalibrationCheck
        The calibration test on the reference and its decision (``check_.reason`` says it in words).
    knots_ : list[Knots] or None
        The isotonic calibration (``None``: scores used as they are).
    bands_ : ErrorBands
    """

    metrics = CLASSIFICATION_METRICS

    def __init__(self, *, coverage: float = 0.95, calibration_level: float = 0.05, n_chunks: int = 10,
                 draws: int = 20, max_rows: int = 50_000, seed: int = 0) -> None:
        self.coverage, self.calibration_level = coverage, calibration_level
        self.n_chunks, self.draws, self.max_rows, self.seed = n_chunks, draws, max_rows, seed

    def get_params(self) -> dict[str, Any]:
        return {"coverage": self.coverage, "calibration_level": self.calibration_level, "n_chunks": self.n_chunks,
                "draws": self.draws, "max_rows": self.max_rows, "seed": self.seed}

    def _validate(self) -> None:
        for name in ("coverage", "calibration_level"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 < value < 1.0:
                raise invalid_parameter(name, "ConfidenceEstimator", "a number in (0, 1)", value)
        for name, low in (("n_chunks", 2), ("draws", 1), ("max_rows", 4), ("seed", 0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise invalid_parameter(name, "ConfidenceEstimator", f"an integer >= {low}", value)

    def fit(self, scores: Any, labels: Any, predicted: Any = None) -> ConfidenceEstimator:
        """Fit on the reference: ``scores`` (n x K class probabilities, ``predict_proba``), ``labels`` (class codes
        0..K-1) and ``predicted`` (the model's predicted class codes; default the most probable class)."""
        self._validate()
        raw = np.asarray(scores, dtype=np.float64)
        k = raw.shape[1] if raw.ndim == 2 else 0
        if k < 2:
            raise invalid_parameter("scores", "ConfidenceEstimator.fit", "a matrix with one column per class (>= 2)",
                                    f"shape {raw.shape}")
        raw = check_scores(raw, k, "the reference")
        codes = np.asarray(labels)
        if codes.shape != (len(raw),) or codes.dtype.kind not in "iu" or (codes < 0).any() or (codes >= k).any():
            raise invalid_parameter("labels", "ConfidenceEstimator.fit", f"{len(raw)} class codes in 0..{k - 1}",
                                    f"an array of shape {codes.shape} and dtype {codes.dtype}")
        codes = codes.astype(np.intp)
        called = _predicted(predicted, raw, "ConfidenceEstimator.fit")
        check = check_calibration(raw, codes, self.calibration_level)
        stride = max(1, -(-len(raw) // self.max_rows))
        m_raw, m_codes, m_called = raw[::stride], codes[::stride], called[::stride]
        everything = np.ones(len(m_raw), dtype=bool)

        def prepare(rest: NDArray[np.intp]) -> NDArray[np.float64]:
            chunk = everything.copy()
            chunk[rest] = False
            knots = fit_calibration(m_raw[rest], m_codes[rest]) if check.calibrate else None
            proba = np.zeros_like(m_raw)
            proba[chunk] = apply_knots(knots, m_raw[chunk])
            return proba

        def errors_of(proba: NDArray[np.float64], rows: NDArray[np.intp]) -> list[float]:
            estimated = confusion_metrics(proba[rows], m_called[rows], m_raw[rows])
            realised = confusion_metrics(one_hot(m_codes[rows], k), m_called[rows], m_raw[rows])
            return [realised[m] - estimated[m] for m in self.metrics]

        self.bands_ = measure_errors(len(m_raw), prepare, errors_of, self.metrics, n_chunks=self.n_chunks,
                                     draws=self.draws, coverage=self.coverage, seed=self.seed,
                                     n_reference=len(raw))
        self.n_classes_ = k
        self.check_: CalibrationCheck = check
        self.knots_: list[Knots] | None = fit_calibration(raw, codes) if check.calibrate else None
        return self

    def _fitted(self) -> None:
        if not hasattr(self, "bands_"):
            raise NotFittedError("This ConfidenceEstimator is not fitted yet; call fit(scores, labels) first.")

    def estimate(self, scores: Any, predicted: Any = None) -> dict[str, Estimate]:
        """Estimated metrics of a window from its class ``scores`` (n x K) and ``predicted`` classes."""
        self._fitted()
        raw = check_scores(scores, self.n_classes_, "the window")
        called = None if predicted is None and self.n_classes_ == 2 else _predicted(
            predicted, raw, "ConfidenceEstimator.estimate")
        if len(raw) == 0:
            return {m: Estimate(float("nan"), float("nan"), float("nan")) for m in self.metrics}
        if self.n_classes_ == 2:
            values = binary_metrics(raw, called, None if self.knots_ is None else self.knots_[0])
        else:
            values = confusion_metrics(apply_knots(self.knots_, raw), called, raw)
        return self._banded(values, len(raw))

    def calibrated(self, scores: Any) -> tuple[NDArray[np.float64], NDArray[np.intp]]:
        """Each row's calibrated class probabilities (n x K) and predicted class (the most probable raw score, the
        first on a tie), from validated class ``scores`` (:func:`check_scores`): what an engine that sums them
        (:meth:`estimate_from_confusion`) computes per row. Row by row: a batch of rows gives each row what the
        whole window gives it."""
        self._fitted()
        raw = check_scores(scores, self.n_classes_, "the window")
        return apply_knots(self.knots_, raw), np.argmax(raw, axis=1).astype(np.intp)

    def estimate_from_confusion(self, confusion: Any, auc_sums: Sequence[AucSums], n_rows: int
                                ) -> dict[str, Estimate]:
        """Estimated metrics of a window of ``n_rows`` rows from sums over them: its expected confusion matrix
        (K x K, :func:`~driftloop.estimate.confusion.expected_confusion` of :meth:`calibrated`'s output, summed
        over any parts of the window) and the :class:`~driftloop.estimate.confusion.AucSums` of each class of
        :func:`~driftloop.estimate.confusion.scored_classes`. What :meth:`estimate` gives the window's rows, up to
        the order of the additions."""
        self._fitted()
        if n_rows == 0:
            return {m: Estimate(float("nan"), float("nan"), float("nan")) for m in self.metrics}
        matrix = np.asarray(confusion, dtype=np.float64)
        if matrix.shape != (self.n_classes_, self.n_classes_) or len(auc_sums) != len(scored_classes(self.n_classes_)):
            raise invalid_parameter("confusion", "ConfidenceEstimator.estimate_from_confusion",
                                    f"a {self.n_classes_} x {self.n_classes_} matrix and "
                                    f"{len(scored_classes(self.n_classes_))} AUC sums",
                                    f"shape {matrix.shape} and {len(auc_sums)} AUC sums")
        values = metrics_from_confusion(matrix, [auc_from_sums(sums) for sums in auc_sums], n_rows)
        return self._banded(values, n_rows)

    def _banded(self, values: dict[str, float], n_rows: int) -> dict[str, Estimate]:
        result = {}
        for metric in self.metrics:
            value = values[metric]
            lower, upper = bounded(value, self.bands_.half_width(metric, n_rows), 0.0, 1.0)
            result[metric] = Estimate(value, lower, upper)
        return result

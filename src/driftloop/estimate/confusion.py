r"""Classification metrics of an *expected* confusion matrix: one formula for estimated and realised performance.

Row :math:`i` of a window has the model's predicted class :math:`\hat y_i`, its raw scores :math:`s_{ik}` (what it
ranks by) and a probability :math:`P_{ik}` that its true class is :math:`k`. With calibrated probabilities these
are CBPE's estimates; with the one-hot matrix of the true labels they are the realised metrics, exactly as
scikit-learn computes them (tested against ``sklearn.metrics``). Estimated and realised performance therefore share
every definition, down to the handling of ties and of empty classes.

Expected confusion matrix, :math:`C_{kj} = \sum_{i:\,\hat y_i = j} P_{ik}` (true class :math:`k`, predicted
:math:`j`); :math:`n` rows.

* accuracy :math:`= \sum_k C_{kk} / n`;
* per class :math:`k`: precision :math:`C_{kk}/\sum_{k'} C_{k'k}`, recall :math:`C_{kk}/\sum_j C_{kj}`,
  F1 :math:`2C_{kk}/(\sum_{k'} C_{k'k} + \sum_j C_{kj})`. Two classes: those of the positive class (the second);
  more: their macro average over the classes where they are defined (``zero_division=nan`` in scikit-learn);
* ROC AUC of class :math:`k` (one-vs-rest), with positive weights :math:`w_i = P_{ik}`, negative weights
  :math:`v_i = 1 - P_{ik}`, ranked by :math:`s_{ik}`:

  .. math:: \mathrm{AUC}_k = \frac{\sum_{i \ne j} w_i v_j \left(1[s_i > s_j] + \tfrac12 1[s_i = s_j]\right)}
                                {\sum_{i \ne j} w_i v_j},

  the expected Mann–Whitney numerator and denominator when the labels are independent Bernoulli(:math:`w_i`)
  draws (the pair :math:`i = j` can never be a positive–negative pair, so it is left out). One-hot weights give the
  Mann–Whitney AUC that ``roc_auc_score`` computes; two classes use the positive class, more the macro average.

**Mergeable sums.** Every figure is a function of sums over rows, so that an engine that cannot hold a window's
rows (Spark) computes the same figures from partial sums:

* the expected confusion matrix is itself a sum, :func:`metrics_from_confusion` turns it into the metrics;
* the AUC of class :math:`k` needs, per distinct score :math:`s`, :math:`W_s = \sum_{i: s_i = s} w_i` and
  :math:`V_s = \sum_{i: s_i = s} v_i` (:func:`score_sums`; those of two parts of a window add up), and the sum
  :math:`\sum_i w_i v_i` of the left-out pairs. With :math:`V_{<s} = \sum_{t < s} V_t`, the numerator is
  :math:`\sum_s W_s V_{<s} + \tfrac12 (\sum_s W_s V_s - \sum_i w_i v_i)` and the denominator
  :math:`\sum_i w_i \sum_i v_i - \sum_i w_i v_i` (:class:`AucSums`, :func:`merge_score_sums`,
  :func:`auc_from_sums`).

These are ratios of expectations, as in NannyML's CBPE [1]_ and the paper it rests on [2]_; their difference from
the expectation of the ratio is :math:`O(1/n)` and is part of what the bands (:mod:`driftloop.estimate.bands`)
measure.

References
----------
.. [1] NannyML, "Confidence-based Performance Estimation (CBPE)", *How it works: performance estimation*,
   https://nannyml.readthedocs.io/en/stable/how_it_works/performance_estimation.html
.. [2] J. Kivimäki, J. Białek, W. Kuberski, J. K. Nurminen, "Performance Estimation in Binary Classification Using
   Calibrated Confidence", arXiv:2505.05295, 2025.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

#: The metrics CBPE estimates, in the order they are reported.
CLASSIFICATION_METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc")


def expected_confusion(probabilities: NDArray[np.float64], predicted: NDArray[np.intp]) -> NDArray[np.float64]:
    """:math:`C_{kj} = \\sum_{i:\\hat y_i=j} P_{ik}` (rows: true class, columns: predicted class).

    >>> expected_confusion(np.array([[0.9, 0.1], [0.3, 0.7], [0.0, 1.0]]), np.array([0, 1, 1]))
    array([[0.9, 0.3],
           [0.1, 1.7]])
    """
    k = probabilities.shape[1]
    return np.stack([np.bincount(predicted, weights=probabilities[:, c], minlength=k) for c in range(k)])


def _ratio(numerator: NDArray[np.float64], denominator: NDArray[np.float64]) -> NDArray[np.float64]:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, numerator / np.where(denominator > 0, denominator, 1.0), np.nan)


class AucSums(NamedTuple):
    """The sums an expected AUC is made of (see the module): ``ranked`` :math:`\\sum_s W_s V_{<s}`, ``tied``
    :math:`\\sum_s W_s V_s`, ``positive`` :math:`\\sum_i w_i`, ``negative`` :math:`\\sum_i v_i` and
    ``self_pairs`` :math:`\\sum_i w_i v_i`."""

    ranked: float
    tied: float
    positive: float
    negative: float
    self_pairs: float


def expected_auc_sums(weights: NDArray[np.float64], scores: NDArray[np.float64]) -> AucSums:
    """The :class:`AucSums` of the rows' positive ``weights`` ranked by ``scores``.

    >>> expected_auc_sums(np.array([0.0, 1.0, 1.0, 0.0]), np.array([0.1, 0.8, 0.4, 0.4]))
    AucSums(ranked=3.0, tied=1.0, positive=2.0, negative=2.0, self_pairs=0.0)
    """
    order = np.argsort(scores)  # ties are grouped below, so the order within a tie does not matter
    s, w = scores[order], weights[order]
    v = 1.0 - w
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
    w_group, v_group = np.add.reduceat(w, starts), np.add.reduceat(v, starts)
    v_below = np.cumsum(v_group) - v_group
    return AucSums(float(np.dot(w_group, v_below)), float(np.dot(w_group, v_group)), float(w.sum()),
                   float(v.sum()), float(np.dot(w, v)))


def auc_from_sums(sums: AucSums) -> float:
    """The expected AUC of its :class:`AucSums` (NaN when no positive-negative pair is possible).

    >>> auc_from_sums(AucSums(ranked=3.0, tied=1.0, positive=2.0, negative=2.0, self_pairs=0.0))
    0.875
    """
    numerator = sums.ranked + 0.5 * (sums.tied - sums.self_pairs)
    denominator = sums.positive * sums.negative - sums.self_pairs
    return numerator / denominator if denominator > 0 else float("nan")


def expected_auc(weights: NDArray[np.float64], scores: NDArray[np.float64]) -> float:
    """Expected one-vs-rest ROC AUC of positive weights ``weights`` ranked by ``scores`` (formula in the module).

    >>> expected_auc(np.array([0.0, 1.0, 1.0, 0.0]), np.array([0.1, 0.8, 0.4, 0.4]))   # 0/1 weights: the AUC
    0.875
    """
    return auc_from_sums(expected_auc_sums(weights, scores))


class ScoreSums(NamedTuple):
    """Per distinct score (``scores``, increasing): the sums of the positive weights (``positive``, :math:`W_s`)
    and of the negative ones (``negative``, :math:`V_s`); and over all rows ``self_pairs``, :math:`\\sum_i w_i
    v_i`. Those of two parts of a window merge into the window's (:func:`merge_score_sums`)."""

    scores: NDArray[np.float64]
    positive: NDArray[np.float64]
    negative: NDArray[np.float64]
    self_pairs: float


def score_sums(weights: NDArray[np.float64], scores: NDArray[np.float64]) -> ScoreSums:
    """The :class:`ScoreSums` of rows.

    >>> score_sums(np.array([0.25, 1.0, 0.5]), np.array([0.3, 0.9, 0.3]))
    ScoreSums(scores=array([0.3, 0.9]), positive=array([0.75, 1.  ]), negative=array([1.25, 0.  ]), self_pairs=0.4375)
    """
    distinct, group = np.unique(scores, return_inverse=True)
    positive = np.bincount(group, weights=weights, minlength=len(distinct))
    negative = np.bincount(group, weights=1.0 - weights, minlength=len(distinct))
    return ScoreSums(distinct, positive, negative, float(np.dot(weights, 1.0 - weights)))


def merge_score_sums(parts: Sequence[ScoreSums]) -> AucSums:
    """The :class:`AucSums` of a window from the :class:`ScoreSums` of its parts: the sums of equal scores added,
    then :math:`V_{<s}` a running sum over the distinct scores in increasing order.

    >>> rows = np.array([0.25, 1.0, 0.5, 0.0]), np.array([0.3, 0.9, 0.3, 0.1])
    >>> parts = [score_sums(rows[0][:2], rows[1][:2]), score_sums(rows[0][2:], rows[1][2:])]
    >>> auc_from_sums(merge_score_sums(parts)) == expected_auc(*rows)
    True
    """
    scores = np.concatenate([part.scores for part in parts])
    distinct, group = np.unique(scores, return_inverse=True)
    positive = np.bincount(group, weights=np.concatenate([part.positive for part in parts]), minlength=len(distinct))
    negative = np.bincount(group, weights=np.concatenate([part.negative for part in parts]), minlength=len(distinct))
    below = np.cumsum(negative) - negative
    return AucSums(float(np.dot(positive, below)), float(np.dot(positive, negative)), float(positive.sum()),
                   float(negative.sum()), float(sum(part.self_pairs for part in parts)))


def confusion_metrics(probabilities: NDArray[np.float64], predicted: NDArray[np.intp],
                      scores: NDArray[np.float64]) -> dict[str, float]:
    """The five :data:`CLASSIFICATION_METRICS` of ``probabilities`` (n x K), ``predicted`` (class codes) and the
    raw ``scores`` (n x K) the AUC ranks by.

    >>> proba = np.array([[0.8, 0.2], [0.4, 0.6], [0.1, 0.9], [0.7, 0.3]])
    >>> m = confusion_metrics(proba, np.array([0, 1, 1, 0]), proba)
    >>> {k: round(v, 4) for k, v in m.items()}
    {'accuracy': 0.75, 'precision': 0.75, 'recall': 0.75, 'f1': 0.75, 'roc_auc': 0.8636}
    """
    confusion = expected_confusion(probabilities, predicted)
    aucs = [expected_auc(probabilities[:, c], scores[:, c]) for c in scored_classes(probabilities.shape[1])]
    return metrics_from_confusion(confusion, aucs, len(predicted))


def scored_classes(n_classes: int) -> list[int]:
    """The classes whose one-vs-rest AUC is averaged: the positive one of two classes, every one of more.

    >>> scored_classes(2), scored_classes(3)
    ([1], [0, 1, 2])
    """
    return [1] if n_classes == 2 else list(range(n_classes))


def metrics_from_confusion(confusion: NDArray[np.float64], aucs: Sequence[float], n_rows: int) -> dict[str, float]:
    """The five :data:`CLASSIFICATION_METRICS` of a window from its (summed) expected ``confusion`` matrix (K x K,
    rows the true class), the AUC of each class of :func:`scored_classes` and its number of rows.

    >>> m = metrics_from_confusion(np.array([[1.1, 0.4], [0.6, 1.9]]), [0.8], 4)
    >>> {k: round(v, 4) for k, v in m.items()}
    {'accuracy': 0.75, 'precision': 0.8261, 'recall': 0.76, 'f1': 0.7917, 'roc_auc': 0.8}
    """
    hits = np.diag(confusion)
    truly, called = confusion.sum(axis=1), confusion.sum(axis=0)
    precision, recall, f1 = _ratio(hits, called), _ratio(hits, truly), _ratio(2.0 * hits, truly + called)
    k = confusion.shape[0]
    positive = scored_classes(k)
    auc = np.asarray(aucs, dtype=np.float64)

    def average(per_class: NDArray[np.float64]) -> float:
        chosen = per_class[positive] if len(per_class) == k else per_class
        return float(np.nanmean(chosen)) if np.isfinite(chosen).any() else float("nan")

    return {
        "accuracy": float(hits.sum() / n_rows) if n_rows else float("nan"),
        "precision": average(precision),
        "recall": average(recall),
        "f1": average(f1),
        "roc_auc": average(auc),
    }


def one_hot(labels: NDArray[np.intp], n_classes: int) -> NDArray[np.float64]:
    """The probabilities of known labels: row :math:`i` is 1 at ``labels[i]``.

    >>> one_hot(np.array([1, 0]), 3)
    array([[0., 1., 0.],
           [1., 0., 0.]])
    """
    matrix = np.zeros((len(labels), n_classes))
    matrix[np.arange(len(labels)), labels] = 1.0
    return matrix

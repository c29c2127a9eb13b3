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


def expected_auc(weights: NDArray[np.float64], scores: NDArray[np.float64]) -> float:
    """Expected one-vs-rest ROC AUC of positive weights ``weights`` ranked by ``scores`` (formula in the module).

    >>> expected_auc(np.array([0.0, 1.0, 1.0, 0.0]), np.array([0.1, 0.8, 0.4, 0.4]))   # 0/1 weights: the AUC
    0.875
    """
    order = np.argsort(scores)  # ties are grouped below, so the order within a tie does not matter
    s, w = scores[order], weights[order]
    v = 1.0 - w
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
    w_group, v_group = np.add.reduceat(w, starts), np.add.reduceat(v, starts)
    v_below = np.cumsum(v_group) - v_group
    self_pairs = float(np.dot(w, v))
    numerator = float(np.dot(w_group, v_below) + 0.5 * (np.dot(w_group, v_group) - self_pairs))
    denominator = float(w.sum() * v.sum() - self_pairs)
    return numerator / denominator if denominator > 0 else float("nan")


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
    hits = np.diag(confusion)
    truly, called = confusion.sum(axis=1), confusion.sum(axis=0)
    precision, recall, f1 = _ratio(hits, called), _ratio(hits, truly), _ratio(2.0 * hits, truly + called)
    k = probabilities.shape[1]
    positive = [1] if k == 2 else list(range(k))  # two classes: the positive one; more: all, macro-averaged
    auc = np.array([expected_auc(probabilities[:, c], scores[:, c]) for c in positive])

    def average(per_class: NDArray[np.float64]) -> float:
        chosen = per_class[positive] if len(per_class) == k else per_class
        return float(np.nanmean(chosen)) if np.isfinite(chosen).any() else float("nan")

    n = len(predicted)
    return {
        "accuracy": float(hits.sum() / n) if n else float("nan"),
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

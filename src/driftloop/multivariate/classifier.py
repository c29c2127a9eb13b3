r"""Domain classifier: can a model tell the window's rows from the reference's? ROC AUC with an exact p-value.

A ``HistGradientBoostingClassifier`` learns to separate reference rows (label 0) from window rows (label 1), on at
most ``max_rows`` rows of each (the reference's drawn once at fit, the window's drawn per window). If the window
is drawn from the reference's distribution, no model can separate them and the ROC AUC of its scores on rows it did
not see is 0.5 up to noise; drift of any kind (a marginal, a correlation, an interaction) that the trees can learn
lifts it.

Held-out rows, and why not the pooled out-of-fold scores of K-fold cross-fitting
--------------------------------------------------------------------------------
The rows of each side are split once, at random, into a training part and a held-out part of share ``holdout``;
the model is fitted on the training part (the larger side's cut to the smaller's size, so that the classes are
balanced without weights) and scores the held-out part, whose AUC is reported and tested. The
p-value is the Mann–Whitney null of that AUC (:func:`~driftloop.stats.auc_test`), and it is exact for this design:
under the null, reference and window rows are exchangeable, so *given the fitted model* the held-out rows of both
sides are i.i.d. draws of one distribution, their scores too, and every assignment of the held-out labels to the
held-out scores is equally likely — the premise of the Mann–Whitney distribution. The model depends only on the
training part, which is independent of the held-out rows.

Pooling the out-of-fold scores of K folds uses every row for the AUC, but breaks that premise: the model that scores
fold *k* was trained on the labels of the other folds' rows, whose scores it is then ranked against (a row's label
pulls up the scores its fold-mates' models give its neighbours), so the pooled scores are not independent of the
labels under the null and their AUC does not follow the Mann–Whitney distribution (a nearest-neighbour model makes
the folds' AUCs positively correlated, widening the null). Each fold's own AUC is exact, but the folds' p-values
are dependent, and combining them validly (Bonferroni, twice their mean) costs more power than the held-out split.
Only a permutation of the labels with every model refitted would be exact for the pooled scores, at hundreds of fits
per window. So driftloop tests on held-out rows, where an AUC of 0.52 on a million rows and of 0.6 on 200 rows get
the p-values they deserve.

The columns carrying the drift are ranked by permutation importance on the held-out rows: the drop of the AUC when
one column's held-out values are shuffled [1]_.

Categorical columns arrive frequency-encoded (:mod:`~driftloop.multivariate.encoding`); missing values stay NaN,
which the trees route natively.

References
----------
.. [1] L. Breiman, "Random forests", Machine Learning 45, 5-32, 2001, section 10 (permutation importance).
.. [2] D. Lopez-Paz and M. Oquab, "Revisiting classifier two-sample tests", ICLR 2017 (a classifier's held-out
   accuracy as a two-sample test).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from driftloop.errors import NotFittedError, invalid_parameter
from driftloop.multivariate.results import DetectorResult, too_small
from driftloop.stats.mann_whitney_auc import auc_test

NAME = "classifier"


def _split(n: int, holdout: float, rng: np.random.Generator) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """A random split of ``range(n)`` into training and held-out indices (at least one of each)."""
    order = rng.permutation(n)
    n_held = min(max(int(round(n * holdout)), 1), n - 1)
    return order[n_held:], order[:n_held]


class DomainClassifier:
    """The domain classifier detector (see the module docstring).

    Parameters
    ----------
    max_rows
        Rows of each side the classifier sees at most (a random subsample; the reference's is drawn at fit and
        saved). Default 10,000: a held-out part of 5,000 rows per side resolves an AUC of 0.52 (z of about 3.5),
        and fitting takes about a second on two cores.
    holdout
        Share of each side's rows held out for the AUC and its test, in (0, 1). Default 0.5.
    min_rows
        Smallest window judged. Default 50: 25 held-out window rows.
    max_iter
        Boosting iterations. Default 100 (scikit-learn's default), with ``early_stopping`` off so that every window
        gets the same model capacity.
    top_columns
        How many columns the reasons name, by importance. Default 3.
    importance_rows
        Held-out rows (of both sides together) on which the importances are measured, at most. Default 2,000: one
        prediction over ``columns x importance_rows`` shuffled rows, a fraction of the fit's time; enough to rank
        the columns that lift the AUC.
    seed
        Seed of the subsamples, the split, the model and the shuffles.
    """

    name = NAME

    def __init__(self, *, max_rows: int = 10_000, holdout: float = 0.5, min_rows: int = 50, max_iter: int = 100,
                 top_columns: int = 3, importance_rows: int = 2_000, seed: int = 0) -> None:
        self.max_rows = max_rows
        self.holdout = holdout
        self.min_rows = min_rows
        self.max_iter = max_iter
        self.top_columns = top_columns
        self.importance_rows = importance_rows
        self.seed = seed

    def get_params(self) -> dict[str, Any]:
        return {"max_rows": self.max_rows, "holdout": self.holdout, "min_rows": self.min_rows,
                "max_iter": self.max_iter, "top_columns": self.top_columns, "importance_rows": self.importance_rows,
                "seed": self.seed}

    def _validate(self) -> None:
        owner = "DomainClassifier"
        for name, low in (("max_rows", 4), ("min_rows", 4), ("max_iter", 1), ("top_columns", 0),
                          ("importance_rows", 2), ("seed", 0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise invalid_parameter(name, owner, f"an integer >= {low}", value)
        if isinstance(self.holdout, bool) or not isinstance(self.holdout, (int, float)) \
                or not 0.0 < self.holdout < 1.0:
            raise invalid_parameter("holdout", owner, "a number in (0, 1)", self.holdout)

    def fit(self, sample: NDArray[np.float64], columns: Sequence[str]) -> DomainClassifier:
        """Keep ``sample``: encoded reference rows in random order (NaN where missing), at least ``max_rows`` of
        them when the reference has that many; ``columns`` names its columns."""
        self._validate()
        self.reference_ = np.ascontiguousarray(sample[: self.max_rows])
        self.columns_ = list(columns)
        return self

    def _window_draw(self, n_rows: int) -> tuple[NDArray[np.int64] | None, np.random.Generator]:
        """The window's subsample (``None``: every row, in order) and the generator, seeded, after drawing it: the
        split and the shuffles go on from there."""
        rng = np.random.default_rng(self.seed)
        return (rng.choice(n_rows, size=self.max_rows, replace=False) if n_rows > self.max_rows else None), rng

    def taken(self, n_rows: int) -> NDArray[np.int64]:
        """The positions of the rows a window of ``n_rows`` rows is judged on, in the order they are read: a seeded
        random subsample of ``max_rows`` rows, or every row in order; none for a window below ``min_rows``. An
        engine that holds the rows elsewhere (Spark) fetches those rows and gives them to :meth:`compare_rows`."""
        if n_rows < self.min_rows:
            return np.empty(0, dtype=np.int64)
        chosen, _ = self._window_draw(n_rows)
        return np.arange(n_rows, dtype=np.int64) if chosen is None else chosen.astype(np.int64)

    def compare(self, window: NDArray[np.float64]) -> DetectorResult:
        """Judge the encoded ``window`` rows (NaN where missing)."""
        self._check_fitted()
        n = len(window)
        if n < self.min_rows:
            return too_small(NAME, n, self.min_rows)
        chosen, rng = self._window_draw(n)
        return self._judge(window if chosen is None else window[chosen], rng)

    def compare_rows(self, rows: NDArray[np.float64], n_rows: int) -> DetectorResult:
        """Judge a window of ``n_rows`` rows from its encoded rows at :meth:`taken` ``(n_rows)``, in that order: the
        result :meth:`compare` gives for the whole window."""
        self._check_fitted()
        if n_rows < self.min_rows:
            return too_small(NAME, n_rows, self.min_rows)
        chosen, rng = self._window_draw(n_rows)
        expected = n_rows if chosen is None else len(chosen)
        if len(rows) != expected:
            raise invalid_parameter("rows", "DomainClassifier.compare_rows", f"the {expected} rows of taken({n_rows})",
                                    f"{len(rows)} rows")
        return self._judge(rows, rng)

    def _check_fitted(self) -> None:
        if not hasattr(self, "reference_"):
            raise NotFittedError("This DomainClassifier instance is not fitted yet; call 'fit' first.")

    def _judge(self, window: NDArray[np.float64], rng: np.random.Generator) -> DetectorResult:
        """The test on the window's subsample, ``rng`` as :meth:`_window_draw` left it."""
        from sklearn.ensemble import HistGradientBoostingClassifier  # loaded before the thread limit (see drift)

        reference = self.reference_
        ref_train, ref_held = _split(len(reference), self.holdout, rng)
        win_train, win_held = _split(len(window), self.holdout, rng)
        n_train = min(len(ref_train), len(win_train))  # balanced classes, without weights
        features = np.concatenate([reference[ref_train[:n_train]], window[win_train[:n_train]]])
        labels = np.repeat([0.0, 1.0], n_train)
        model = HistGradientBoostingClassifier(max_iter=self.max_iter, early_stopping=False, random_state=self.seed)
        model.fit(features, labels)
        held = np.concatenate([reference[ref_held], window[win_held]])
        n_ref = len(ref_held)
        scores = model.predict_proba(held)[:, 1]
        result = auc_test(scores[n_ref:], scores[:n_ref])
        importances = self._importances(model, held, n_ref, result.auc, rng)
        ranked = sorted(range(len(self.columns_)), key=lambda j: -importances[j])
        named = tuple(self.columns_[j] for j in ranked[: self.top_columns] if importances[j] > 0.0)
        summary = f"AUC {result.auc:.4g} on held-out rows"
        return DetectorResult(NAME, {"auc": result.auc}, result.p_value, summary, columns=named,
                              importances={c: float(v) for c, v in zip(self.columns_, importances, strict=True)})

    def _importances(self, model: Any, held: NDArray[np.float64], n_ref: int, auc: float,
                     rng: np.random.Generator) -> NDArray[np.float64]:
        """Drop of the held-out AUC when each column is shuffled, all columns scored in one call, on at most
        ``importance_rows`` held-out rows: up to half of them from the window, the rest from the reference."""
        if len(held) > self.importance_rows:
            n_win = len(held) - n_ref
            keep_win = min(n_win, self.importance_rows // 2)
            keep_ref = min(n_ref, self.importance_rows - keep_win)
            held = np.concatenate([held[rng.choice(n_ref, size=keep_ref, replace=False)],
                                   held[n_ref + rng.choice(n_win, size=keep_win, replace=False)]])
            n_ref = keep_ref
            scores = model.predict_proba(held)[:, 1]
            auc = auc_test(scores[n_ref:], scores[:n_ref]).auc
        n, p = held.shape
        stacked = np.repeat(held[None, :, :], p, axis=0)
        for j in range(p):
            stacked[j, :, j] = held[rng.permutation(n), j]
        scores = model.predict_proba(stacked.reshape(p * n, -1))[:, 1].reshape(p, n)
        return np.array([auc - auc_test(row[n_ref:], row[:n_ref]).auc for row in scores])

    # ---------------------------------------------------------------- persistence (see multivariate.storage)
    def state(self) -> tuple[dict[str, Any], dict[str, NDArray[Any]]]:
        return {"params": self.get_params(), "columns": self.columns_}, {"reference": self.reference_}

    @classmethod
    def from_state(cls, document: dict[str, Any], arrays: dict[str, NDArray[Any]]) -> DomainClassifier:
        detector = cls(**document["params"])
        detector.reference_ = arrays["reference"]
        detector.columns_ = list(document["columns"])
        return detector

r"""Direct loss estimation (DLE): a regressor's MAE and RMSE on a window whose labels have not arrived.

Two nuisance models learn, on the reference, the loss of the monitored model from its inputs and its prediction:
:math:`g_1(x, \hat y) \approx E[\,|y - \hat y|\,]` and :math:`g_2(x, \hat y) \approx E[(y - \hat y)^2]`
(scikit-learn's ``HistGradientBoostingRegressor``, squared error, a fixed number of iterations: a loss is so noisy
a target that early stopping ended after about 25 iterations, still shrunk towards the mean loss, and a calm window's
MAE came out 6 % high).
A window's estimates are then

.. math:: \widehat{\mathrm{MAE}} = \frac1n \sum_i g_1(x_i, \hat y_i), \qquad
          \widehat{\mathrm{RMSE}} = \Big(\frac1n \sum_i g_2(x_i, \hat y_i)\Big)^{1/2},

with :math:`g` cut at 0 below (a loss is never negative; a boosted model can step below it). The estimate holds
under covariate shift as long as the loss given the inputs, :math:`P(y - \hat y \mid x)`, stays as on the
reference (no concept shift) — NannyML's DLE [1]_. Where driftloop differs: the nuisance models are cross-fitted
(each chunk of the reference is judged by models fitted without it, :mod:`driftloop.estimate.bands`), which is
what the bands are measured from, and the fitted trees are stored as arrays (:mod:`driftloop.estimate.trees`).

Inputs are columns by name. Numeric columns are used as numbers (NaN missing); any other column is encoded by its
categories on the reference (sorted), and a window's category the reference never had counts as missing — the
gradient-boosted trees send missing values where the reference's missing values went.

References
----------
.. [1] NannyML, "Direct Loss Estimation (DLE)", *How it works: performance estimation*,
   https://nannyml.readthedocs.io/en/stable/how_it_works/performance_estimation.html

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> x = rng.uniform(-1, 1, size=3000)
>>> y = 2 * x + rng.normal(size=3000) * (0.2 + np.abs(x))        # the error grows with |x|
>>> dle = LossEstimator(n_chunks=5, draws=10).fit({"x": x}, 2 * x, y)
>>> calm = rng.uniform(-0.2, 0.2, size=1000)                       # a window where the model is more accurate
>>> e = dle.estimate({"x": calm}, 2 * calm)["mae"]
>>> truth = float(np.sqrt(2 / np.pi) * (0.2 + 0.1))              # E|N(0, 1)| E(0.2 + |x|)
>>> round(e.value, 3), round(truth, 3), bool(e.lower < truth < e.upper)
(0.236, 0.239, True)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.ensemble import HistGradientBoostingRegressor
from threadpoolctl import threadpool_limits

from driftloop.errors import NotFittedError, invalid_parameter
from driftloop.estimate.bands import bounded, measure_errors
from driftloop.estimate.cbpe import Estimate, ModelOutputError
from driftloop.estimate.trees import Forest, forest_arrays, predict_forest

#: The metrics DLE estimates.
REGRESSION_METRICS = ("mae", "rmse")


def is_missing(values: NDArray[Any]) -> NDArray[np.bool_]:
    """Missing entries of a column of any dtype: NaN, None (and pandas' NA, which is not equal to itself).

    >>> is_missing(np.array(["a", None, float("nan")], dtype=object)).tolist()
    [False, True, True]
    """
    if values.dtype.kind in "fc":
        return np.isnan(values)
    if values.dtype.kind != "O":
        return np.zeros(len(values), dtype=bool)
    return np.fromiter((v is None or v != v for v in values), dtype=bool, count=len(values))


def encode_column(values: Any, categories: list[str] | None) -> NDArray[np.float64]:
    """A column as numbers: numeric columns as they are (``categories`` None), others as the position of their value
    (as text) in the reference's sorted ``categories``, NaN when missing or unknown.

    >>> encode_column(np.array(["b", "a", "z", None], dtype=object), ["a", "b"]).tolist()
    [1.0, 0.0, nan, nan]
    """
    array = np.asarray(values)
    if categories is None:
        return np.asarray(array, dtype=np.float64)  # no copy of a float column: the caller copies it into place
    missing = is_missing(array)
    text = array.astype(str)
    known = np.asarray(categories, dtype=str)
    position = np.searchsorted(known, text)
    found = (position < len(known)) & (known[np.minimum(position, len(known) - 1)] == text) & ~missing
    return np.where(found, position, np.nan).astype(np.float64)


def predictions_problem(owner: str, n_bad: int) -> str:
    """What DLE says of predictions of which ``n_bad`` are NaN or infinite — also from an engine's count.

    >>> predictions_problem("the window", 2)
    'The predictions of the window must be finite numbers; got 2 NaN or infinite value(s). A data-quality problem: no estimate is made from them.'
    """
    return (f"The predictions of {owner} must be finite numbers; got {n_bad} NaN or infinite value(s). A "
            "data-quality problem: no estimate is made from them.")


def column_categories(values: Any) -> list[str] | None:
    """``None`` for a numeric column, else its sorted distinct values as text (missing ones left out).

    >>> column_categories(np.array([2.5, 1.0])), column_categories(np.array(["b", "a", "b"], dtype=object))
    (None, ['a', 'b'])
    """
    array = np.asarray(values)
    if array.dtype.kind in "biuf":
        return None
    return sorted({str(v) for v, gone in zip(array, is_missing(array), strict=True) if not gone})


class LossEstimator:
    """DLE for a regressor (see the module).

    Parameters
    ----------
    coverage
        Probability that a band holds the realised metric. Default 0.95.
    n_chunks, draws
        Leave-one-chunk-out cross-fitting and the measurement of the bands. Defaults 10 and 20: the nuisance models
        are fitted ``n_chunks + 1`` times each.
    max_rows
        The nuisance models learn from at most this many reference rows (an even stride, row order kept). Default
        100,000: a loss is a noisy target, and more rows change its estimate little while the ``2 (n_chunks + 1)``
        fits grow with them.
    max_iter, learning_rate, max_leaf_nodes, min_samples_leaf
        The boosting of each nuisance model: iterations, shrinkage, leaves per tree, fewest rows in a leaf. Defaults
        35, 0.3, 31 and 100. A window costs one walk down every tree per row, so the forest is kept small: few
        iterations of full-size trees at a larger step. Measured on NannyML's car-price sample (mean absolute error
        of the estimated MAE / RMSE over its 10 analysis chunks, ``bench/estimate_oracle.py``): 100 iterations of
        8 leaves 12.8 / 18.8; 100 of 31 leaves at 0.1, 8.7 / 12.6; 35 of 31 leaves at 0.3, 7.7 / 11.4 (NannyML's
        LightGBM: 9.0 / 13.6). A leaf averages a noisy loss: 100 rows per leaf steady it.
    seed
        Seed of the draws.

    Notes
    -----
    The nuisance models are fitted on one thread: on a loaded two-core machine, the OpenMP threads of scikit-learn's
    gradient boosting made a fit on 8,000 rows 15 times slower (6 s instead of 0.4 s), and cross-fitting runs
    ``2 (n_chunks + 1)`` small fits.

    Attributes
    ----------
    columns_ : list[str]
    categories_ : dict[str, list[str] or None]
    forests_ : dict[str, Forest]
        The nuisance models of ``"mae"`` (absolute error) and ``"rmse"`` (squared error), as arrays.
    bands_ : ErrorBands
    """

    metrics = REGRESSION_METRICS

    def __init__(self, *, coverage: float = 0.95, n_chunks: int = 10, draws: int = 20, max_rows: int = 100_000,
                 max_iter: int = 35, learning_rate: float = 0.3, max_leaf_nodes: int = 31, min_samples_leaf: int = 100,
                 seed: int = 0) -> None:
        self.coverage, self.n_chunks, self.draws, self.max_rows, self.seed = coverage, n_chunks, draws, max_rows, seed
        self.max_iter, self.learning_rate = max_iter, learning_rate
        self.max_leaf_nodes, self.min_samples_leaf = max_leaf_nodes, min_samples_leaf

    def get_params(self) -> dict[str, Any]:
        return {"coverage": self.coverage, "n_chunks": self.n_chunks, "draws": self.draws,
                "max_rows": self.max_rows, "max_iter": self.max_iter, "learning_rate": self.learning_rate,
                "max_leaf_nodes": self.max_leaf_nodes,
                "min_samples_leaf": self.min_samples_leaf, "seed": self.seed}

    def _validate(self) -> None:
        for name, high in (("coverage", 1.0), ("learning_rate", float("inf"))):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 < value < high:
                raise invalid_parameter(name, "LossEstimator", f"a number in (0, {high:g})", value)
        for name, low in (("n_chunks", 2), ("draws", 1), ("max_rows", 4), ("max_iter", 1), ("max_leaf_nodes", 2),
                          ("min_samples_leaf", 1), ("seed", 0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise invalid_parameter(name, "LossEstimator", f"an integer >= {low}", value)

    def _inputs(self, columns: Mapping[str, Any], predictions: Any, owner: str) -> NDArray[np.float64]:
        absent = [name for name in self.columns_ if name not in columns]
        if absent:
            raise invalid_parameter("columns", owner, f"the columns {self.columns_}", f"none named {absent}")
        predicted = np.asarray(predictions, dtype=np.float64)
        if np.isnan(predicted).any() or np.isinf(predicted).any():
            raise ModelOutputError(predictions_problem(owner, int((~np.isfinite(predicted)).sum())))
        lengths = {len(columns[name]) for name in self.columns_} | {len(predicted)}
        if len(lengths) > 1:
            raise invalid_parameter("columns", owner, "columns and predictions of one length",
                                    f"lengths {sorted(lengths)}")
        # column by column into a column-major matrix, each column one contiguous copy (column_stack wrote each
        # column across every row: a third more CPU, and several times the wall time on a loaded machine)
        inputs = np.empty((len(predicted), len(self.columns_) + 1), order="F")
        for j, name in enumerate(self.columns_):
            inputs[:, j] = encode_column(columns[name], self.categories_[name])
        inputs[:, -1] = predicted
        return inputs

    def _nuisance(self, inputs: NDArray[np.float64], loss: NDArray[np.float64]) -> Forest:
        model = HistGradientBoostingRegressor(max_iter=self.max_iter, learning_rate=self.learning_rate,
                                              max_leaf_nodes=self.max_leaf_nodes,
                                              min_samples_leaf=self.min_samples_leaf, early_stopping=False,
                                              categorical_features=None)
        with threadpool_limits(limits=1):
            return forest_arrays(model.fit(inputs, loss))

    def fit(self, columns: Mapping[str, Any], predictions: Any, targets: Any) -> LossEstimator:
        """Fit on the reference: the model's input ``columns`` (name to values), its ``predictions`` and the
        ``targets`` (the labels)."""
        self._validate()
        self.columns_ = list(columns)
        self.categories_ = {name: column_categories(values) for name, values in columns.items()}
        inputs = self._inputs(columns, predictions, "LossEstimator.fit")
        truth = np.asarray(targets, dtype=np.float64)
        if truth.shape != (len(inputs),) or not np.isfinite(truth).all():
            raise invalid_parameter("targets", "LossEstimator.fit", f"{len(inputs)} finite numbers",
                                    f"shape {truth.shape} with {int((~np.isfinite(truth)).sum())} not finite")
        stride = max(1, -(-len(inputs) // self.max_rows))
        inputs, truth = inputs[::stride], truth[::stride]
        error = truth - inputs[:, -1]
        losses = {"mae": np.abs(error), "rmse": error**2}
        everything = np.ones(len(inputs), dtype=bool)

        def prepare(rest: NDArray[np.intp]) -> dict[str, NDArray[np.float64]]:
            chunk = everything.copy()
            chunk[rest] = False
            held_out = {}
            for metric, loss in losses.items():
                predicted = np.zeros(len(inputs))
                predicted[chunk] = predict_forest(self._nuisance(inputs[rest], loss[rest]), inputs[chunk])
                held_out[metric] = np.maximum(predicted, 0.0)
            return held_out

        def errors_of(held_out: dict[str, NDArray[np.float64]], rows: NDArray[np.intp]) -> list[float]:
            return [float(np.mean(losses["mae"][rows]) - np.mean(held_out["mae"][rows])),
                    float(np.sqrt(np.mean(losses["rmse"][rows])) - np.sqrt(np.mean(held_out["rmse"][rows])))]

        self.bands_ = measure_errors(len(inputs), prepare, errors_of, self.metrics, n_chunks=self.n_chunks,
                                     draws=self.draws, coverage=self.coverage, seed=self.seed)
        self.forests_ = {metric: self._nuisance(inputs, loss) for metric, loss in losses.items()}
        return self

    def _fitted(self) -> None:
        if not hasattr(self, "bands_"):
            raise NotFittedError("This LossEstimator is not fitted yet; call fit(columns, predictions, targets) "
                                 "first.")

    def predicted_losses(self, columns: Mapping[str, Any], predictions: Any
                         ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Each row's predicted absolute and squared loss, :math:`g_1` and :math:`g_2` cut at 0, from the model's
        input ``columns`` and its ``predictions``: row by row, so that a batch of rows gives each row what the
        whole window gives it; their means make the estimates (:meth:`estimate_from_means`)."""
        self._fitted()
        rows = np.ascontiguousarray(self._inputs(columns, predictions, "the window"))  # once for both models
        return (np.maximum(predict_forest(self.forests_["mae"], rows), 0.0),
                np.maximum(predict_forest(self.forests_["rmse"], rows), 0.0))

    def estimate(self, columns: Mapping[str, Any], predictions: Any) -> dict[str, Estimate]:
        """Estimated MAE and RMSE of a window from its input ``columns`` and the model's ``predictions``."""
        absolute, squared = self.predicted_losses(columns, predictions)
        if len(absolute) == 0:
            return {m: Estimate(float("nan"), float("nan"), float("nan")) for m in self.metrics}
        return self.estimate_from_means(float(np.mean(absolute)), float(np.mean(squared)), len(absolute))

    def estimate_from_means(self, mean_absolute: float, mean_squared: float, n_rows: int) -> dict[str, Estimate]:
        """Estimated MAE and RMSE of a window of ``n_rows`` rows from the means of its rows'
        :meth:`predicted_losses` (however they were summed).

        >>> rng = np.random.default_rng(0)
        >>> x = rng.uniform(-1, 1, size=1000)
        >>> dle = LossEstimator(n_chunks=3, draws=2).fit({"x": x}, x, x + rng.normal(size=1000))
        >>> absolute, squared = dle.predicted_losses({"x": x[:50]}, x[:50])
        >>> dle.estimate_from_means(absolute.mean(), squared.mean(), 50) == dle.estimate({"x": x[:50]}, x[:50])
        True
        """
        self._fitted()
        if n_rows == 0:
            return {m: Estimate(float("nan"), float("nan"), float("nan")) for m in self.metrics}
        result = {}
        for metric, value in (("mae", float(mean_absolute)), ("rmse", float(np.sqrt(mean_squared)))):
            lower, upper = bounded(value, self.bands_.half_width(metric, n_rows), 0.0, float("inf"))
            result[metric] = Estimate(value, lower, upper)
        return result

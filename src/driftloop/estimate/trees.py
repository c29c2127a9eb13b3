"""A fitted ``HistGradientBoostingRegressor`` as plain arrays, and a compiled predictor over them.

A profile is saved without pickle, and a scikit-learn estimator cannot be saved any other way. Refitting the
nuisance models from stored training rows at every load would store the reference's features twice and cost a fit
per monitoring pass. What a fitted gradient-boosting regressor (squared error, numeric features) predicts is fully
described by its trees' nodes, so those are stored: per node the feature, the threshold, where missing values go,
the two children, whether it is a leaf and the leaf's value; per model the baseline (the intercept) and where each
tree's nodes start. :func:`predict_forest` walks them exactly as scikit-learn's own predictor does (a value
``<= threshold`` goes left, NaN goes where the fit sent missing values), compiled with numba and parallel over rows;
``tests/estimate`` checks it against ``model.predict`` to the last bit of a float sum.

The arrays are read from the fitted model's ``_predictors`` and ``_baseline_prediction``, scikit-learn's internal
attributes (stable from 1.0 to 1.9); :func:`forest_arrays` refuses a model whose trees split on categories, which
the nuisance models never do (categories are encoded as numbers first).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numba
import numpy as np
from numpy.typing import NDArray


class Forest(NamedTuple):
    """The nodes of all trees of one model; ``left``/``right`` index the concatenated arrays."""

    baseline: float
    feature: NDArray[np.int64]
    threshold: NDArray[np.float64]
    missing_left: NDArray[np.bool_]
    left: NDArray[np.int64]
    right: NDArray[np.int64]
    is_leaf: NDArray[np.bool_]
    value: NDArray[np.float64]
    roots: NDArray[np.int64]


def forest_arrays(model: Any) -> Forest:
    """Read the trees of a fitted single-output ``HistGradientBoostingRegressor`` (squared error) as arrays."""
    nodes, roots, start = [], [], 0
    for iteration in model._predictors:
        (tree,) = iteration
        table = tree.nodes
        if table["is_categorical"].any():
            raise ValueError("forest_arrays: trees that split on categories are not supported")
        nodes.append((table, start))
        roots.append(start)
        start += len(table)

    def stacked(field: str, dtype: Any, shift: bool = False) -> NDArray[Any]:
        parts = [t[field].astype(np.int64) + offset if shift else t[field].astype(dtype) for t, offset in nodes]
        return np.concatenate(parts) if parts else np.zeros(0, dtype=dtype)

    return Forest(
        baseline=float(np.asarray(model._baseline_prediction).ravel()[0]),
        feature=stacked("feature_idx", np.int64), threshold=stacked("num_threshold", np.float64),
        missing_left=stacked("missing_go_to_left", np.bool_), left=stacked("left", np.int64, shift=True),
        right=stacked("right", np.int64, shift=True), is_leaf=stacked("is_leaf", np.bool_),
        value=stacked("value", np.float64), roots=np.asarray(roots, dtype=np.int64),
    )


@numba.njit(cache=True, nogil=True, parallel=True)
def _walk(x: Any, baseline: float, feature: Any, threshold: Any, missing_left: Any, left: Any, right: Any,
          is_leaf: Any, value: Any, roots: Any) -> Any:  # pragma: no cover - compiled
    n = x.shape[0]
    out = np.empty(n)
    for i in numba.prange(n):
        total = baseline
        for root in roots:
            node = root
            while not is_leaf[node]:
                v = x[i, feature[node]]
                if np.isnan(v):
                    node = left[node] if missing_left[node] else right[node]
                elif v <= threshold[node]:
                    node = left[node]
                else:
                    node = right[node]
            total += value[node]
        out[i] = total
    return out


def predict_forest(forest: Forest, features: NDArray[np.float64]) -> NDArray[np.float64]:
    """The model's prediction for each row of ``features`` (n x p, NaN for missing): baseline plus one leaf per
    tree, summed in the trees' order as scikit-learn does."""
    x = np.ascontiguousarray(features, dtype=np.float64)
    return _walk(x, forest.baseline, forest.feature, forest.threshold, forest.missing_left, forest.left,
                 forest.right, forest.is_leaf, forest.value, forest.roots)

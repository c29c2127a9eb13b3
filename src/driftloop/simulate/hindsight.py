"""The best retrain times in hindsight: the lowest cumulative error any retraining policy could reach on a replay.

A replayed policy serves each window with the model of its last promoted retrain. The challenger a retrain after
window ``p`` would train depends only on ``p`` (its rows are :func:`~driftloop.simulate.replay.challenger_rows` at the
window's end, the estimator is seeded), so every policy's error is a sum of entries of one matrix:

    ``costs[m, w]`` — the sum of absolute errors (of log losses, for a classifier) on window ``w`` of model ``m``,
    where model 0 is the first champion and model ``p + 1`` the challenger trained after window ``p`` (it serves
    from window ``p + 1``; with the refit, :attr:`~driftloop.simulate.replay.SimulationSettings.refit`, the model
    fitted on its holdout too).

The best schedule with at most ``k`` retrains solves

.. math::

    \\min_{0 < s_1 < \\dots < s_j < P,\\; j \\le k} \\; \\sum_{i=0}^{j} \\sum_{w=s_i}^{s_{i+1}-1} \\text{costs}[s_i, w],
    \\qquad s_0 = 0,\\; s_{j+1} = P,

by dynamic programming over (retrains used, window where the current model starts): O(k P²) steps. A rejected
challenger changes nothing but the retrain count, so the result bounds every policy that trains challengers this way,
validated or not: no policy with at most ``k`` retrains has a lower cumulative error. It is an oracle — it knows
the future — and serves only to measure how much of the possible gain a causal policy takes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from driftloop.errors import DriftloopError
from driftloop.retrain.validation import row_losses
from driftloop.simulate import scoring
from driftloop.simulate.fits import fit_model
from driftloop.simulate.replay import (Dataset, SimulationSettings, challenger_rows, first_champion,
                                       production_windows)


@dataclass(frozen=True)
class Schedule:
    """A retrain schedule and its total cost: ``retrain_after`` are the windows after which it retrains."""

    cost: float
    retrain_after: tuple[int, ...]


def best_schedules(costs: np.ndarray, max_retrains: int) -> list[Schedule]:
    """For each ``k`` in ``0 .. max_retrains``, the schedule with at most ``k`` retrains of lowest total cost.

    ``costs`` has shape ``(P + 1, P)``; entries ``costs[m, w]`` with ``w < m`` are never read (a model cannot
    serve before it exists) and may be NaN.

    >>> costs = np.array([[1.0, 5.0, 5.0], [9, 1.0, 1.0], [9, 9, 0.5], [9, 9, 9]])
    >>> [(s.cost, s.retrain_after) for s in best_schedules(costs, 2)]
    [(11.0, ()), (3.0, (0,)), (2.5, (0, 1))]
    """
    costs = np.asarray(costs, dtype="float64")
    if costs.ndim != 2 or costs.shape[0] != costs.shape[1] + 1:
        raise DriftloopError(f"The hindsight costs must have shape (windows + 1, windows); got {costs.shape}.")
    if isinstance(max_retrains, bool) or not isinstance(max_retrains, int) or max_retrains < 0:
        raise DriftloopError(f"The 'max_retrains' parameter must be an integer >= 0; got {max_retrains!r}.")
    windows = costs.shape[1]
    # prefix[m, w] = cost of model m on windows [0, w); only the part from where m starts serving is ever used.
    prefix = np.zeros((windows + 1, windows + 1))
    for model in range(windows + 1):
        served = costs[model, model:] if model < windows else np.array([])
        if np.isnan(served).any() or (served < 0).any():
            raise DriftloopError(f"The hindsight costs of model {model} must be numbers >= 0 from window {model} on "
                                 f"(+inf where the model cannot be trained); got NaN or a negative cost.")
        prefix[model, model + 1:] = np.cumsum(served)

    def serve(model: int, end: int) -> float:  # model serves windows [model, end)
        return float(prefix[model, end])

    # best[j][s]: lowest cost of windows [0, s) with j retrains, the j-th producing model s; parent for the path.
    best = np.full((max_retrains + 1, windows + 1), np.inf)
    parent = np.full((max_retrains + 1, windows + 1), -1, dtype=np.int64)
    best[0, 0] = 0.0
    for used in range(max_retrains):
        for start in np.flatnonzero(np.isfinite(best[used])):
            for nxt in range(start + 1, windows):  # a retrain after window nxt - 1, model nxt serves from nxt
                candidate = best[used, start] + serve(start, nxt)
                if candidate < best[used + 1, nxt]:
                    best[used + 1, nxt], parent[used + 1, nxt] = candidate, start
    # The best schedule with exactly `used` retrains; with at most `limit`, the best of those with used <= limit.
    exact = [min((best[used, start] + serve(start, windows), used, start)
                 for start in np.flatnonzero(np.isfinite(best[used])))
             if np.isfinite(best[used]).any() else (np.inf, used, -1)
             for used in range(max_retrains + 1)]
    schedules: list[Schedule] = []
    chosen = exact[0]
    for limit in range(max_retrains + 1):
        chosen = min(chosen, exact[limit])
        cost, used, start = chosen
        path = []
        while used > 0:
            path.append(int(start) - 1)
            start, used = parent[used, start], used - 1
        schedules.append(Schedule(float(cost), tuple(sorted(path))))
    return schedules


def replay_costs(dataset: Dataset, settings: SimulationSettings | None = None, *,
                 progress: Callable[[int], None] | None = None) -> tuple[np.ndarray, int]:
    """The costs matrix of :func:`best_schedules` for a replay, and the number of production rows.

    Fits the first champion and one challenger per window as :func:`~driftloop.simulate.replay.simulate_policy`
    would serve it once promoted (same rows, same estimator; refitted on the holdout too with ``settings.refit``),
    then scores every model on every window it could serve; ``progress`` is
    called with 1 after each model.
    """
    settings = settings or SimulationSettings()
    windows = production_windows(dataset, settings)
    features = list(dataset.features)
    labels = [window.frame[dataset.target].to_numpy() for window in windows]
    costs = np.full((len(windows) + 1, len(windows)), np.nan)
    models: list[object | None] = [first_champion(dataset, settings).model]
    for window in windows:
        fit_rows, holdout = challenger_rows(dataset, settings, window.end)
        if min(len(fit_rows), len(holdout)) < settings.min_holdout_rows:  # the replay would not retrain here
            models.append(None)
            continue
        rows = pd.concat([fit_rows, holdout]) if settings.refit else fit_rows  # what a promotion would serve
        models.append(fit_model(dataset, rows.index, profile=False)[0])
    loss = "mae" if dataset.task == "regression" else "log_loss"
    for first, model in enumerate(models):
        if model is None:  # never chosen
            costs[first, first:] = np.inf
        else:
            for position in range(first, len(windows)):
                predicted = scoring.predict(model, windows[position].frame[features], dataset.task,
                                            len(dataset.classes))
                costs[first, position] = float(np.sum(row_losses(labels[position], predicted, loss)))
        if progress is not None:
            progress(1)
    return costs, int(sum(len(y) for y in labels))

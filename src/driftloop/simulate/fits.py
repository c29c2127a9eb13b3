"""The models a replay fits at its retrains, each fitted once and shared by every replayed policy.

A retrain after window ``p`` fits the same models whatever the policy: its rows are the labelled rows known at the
window's end (:func:`driftloop.simulate.replay.challenger_rows`) and the estimator is seeded. Only the decision — is
the challenger promoted? — depends on the policy's champion. So :class:`ModelFits` fits, per position and on first
demand,

* the **challenger**: the estimator on the rows before the holdout (the model the paired validation judges);
* the **served** model: the one a promotion puts in production — the challenger refitted on all the rows, holdout
  included (``SimulationSettings.refit``), or the challenger itself — with the reference profile of its training
  rows and predictions, which the monitor compares each window with.

Replaying six policies on the bike data then fits at most one challenger and one served model per window (92 of
each) instead of one per policy's retrain (about 160). Given a process pool (:func:`fit_pool`), the fits run in
its processes, on every core, while the policies are replayed in threads of the calling process and wait for the
fits they need; the results are the same as fitting in process.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from driftloop.monitor.engine import MonitorInputs
from driftloop.profile import ReferenceProfile

if TYPE_CHECKING:
    from driftloop.simulate.replay import Dataset


@dataclass(frozen=True)
class Served:
    """A model ready to serve: fitted on ``rows`` (the features), monitored against the profile in ``inputs``;
    ``trained_through`` is the time of its freshest training row."""

    model: object
    inputs: MonitorInputs
    rows: pd.DataFrame
    trained_through: pd.Timestamp


def fit_model(dataset: Dataset, index: pd.Index, profile: bool) -> tuple[object, ReferenceProfile | None]:
    """A fresh estimator fitted on the rows ``index`` of the dataset, and with ``profile`` the reference profile of
    those rows' features and the model's predictions of them."""
    rows = dataset.frame.loc[index]
    features = list(dataset.features)
    model = dataset.make_model()
    model.fit(rows[features], rows[dataset.target])  # type: ignore[attr-defined]
    if not profile:
        return model, None
    reference = rows[features].assign(prediction=model.predict(rows[features]))  # type: ignore[attr-defined]
    return model, ReferenceProfile().fit(reference)


def served(dataset: Dataset, index: pd.Index, model: object, profile: ReferenceProfile) -> Served:
    """The :class:`Served` form of a model fitted on the rows ``index`` by :func:`fit_model`."""
    rows = dataset.frame.loc[index]
    inputs = MonitorInputs(profile, list(dataset.features), model.predict,  # type: ignore[attr-defined]
                           ignored_columns=[dataset.timestamp, dataset.target])
    return Served(model, inputs, rows[list(dataset.features)], rows[dataset.timestamp].max())


_WORKER_DATASET: Dataset | None = None


def _keep_dataset(dataset: Dataset) -> None:
    global _WORKER_DATASET
    _WORKER_DATASET = dataset


def _fit_in_worker(index: pd.Index, profile: bool) -> tuple[object, ReferenceProfile | None]:
    assert _WORKER_DATASET is not None, "fit_pool's initializer did not run"
    return fit_model(_WORKER_DATASET, index, profile)


@contextmanager
def fit_pool(dataset: Dataset, workers: int) -> Iterator[Executor]:
    """``workers`` processes that fit models of ``dataset`` (sent to each once, not with every fit)."""
    with ProcessPoolExecutor(max_workers=workers, initializer=_keep_dataset, initargs=(dataset,)) as pool:
        yield pool


class ModelFits:
    """Each position's challenger and served model, fitted once (in ``pool`` when given, else here) and shared by
    every policy replayed with this object, from any thread."""

    def __init__(self, dataset: Dataset, pool: Executor | None = None) -> None:
        self._dataset = dataset
        self._pool = pool
        self._lock = threading.Lock()
        self._fits: dict[tuple[str, int], Future] = {}
        self._served: dict[int, Served] = {}

    def _fit(self, kind: str, position: int, index: pd.Index) -> tuple[object, ReferenceProfile | None]:
        with self._lock:
            future = self._fits.get((kind, position))
            if future is None:
                profile = kind == "served"
                if self._pool is not None:
                    future = self._pool.submit(_fit_in_worker, index, profile)
                else:
                    future = Future()
                    future.set_result(fit_model(self._dataset, index, profile))
                self._fits[kind, position] = future
        return future.result()

    def challenger(self, position: int, rows: pd.DataFrame) -> object:
        """The estimator fitted on ``rows``, the challenger's training rows of the retrain after ``position``."""
        return self._fit("challenger", position, rows.index)[0]

    def served(self, position: int, rows: pd.DataFrame) -> Served:
        """The model that serves after a promotion at ``position``, fitted on ``rows``, with its profile."""
        model, profile = self._fit("served", position, rows.index)
        with self._lock:
            if position not in self._served:  # one object per position: its profile's caches are shared too
                assert profile is not None
                self._served[position] = served(self._dataset, rows.index, model, profile)
            return self._served[position]

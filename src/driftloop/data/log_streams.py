"""Streaming detectors run by the inference log's writer, with their state and detections in the log's database.

Two streams per model version: ``predictions`` (every numeric prediction as it is logged; booleans count as 0/1,
other predictions are not part of it) and ``errors`` (as labels arrive on ``/feedback``: the absolute error
``|prediction - label|`` when both are numbers, else 1 for a wrong class and 0 for a right one). Each stream feeds
one detector of each kind in :data:`DEFAULT_DETECTORS` (:mod:`driftloop.stream`). Only the first label of an id
feeds the errors stream (a replaced label does not count twice), and only when its prediction is in the log when
the label arrives (a label that comes before its prediction is stored, but not streamed).

The writer updates the detectors while it writes a group and saves their state and their detections in the same
transaction as the group's rows, so that after a crash or a restart the detectors are exactly where the committed
rows left them; if the group's transaction fails, they are read back from the database. Tables::

    stream_state(model_name, model_version, signal, detector, state, n_values, n_detections)
                                          the saved state of each detector (JSON, :meth:`StreamDetector.state`)
    stream_events(seq, ts, model_name, model_version, signal, detector, position)
                                          one row per detection: when (the time of the group's commit, ns) and
                                          the position of the value in its stream (0-based, counted from the model
                                          version's first value)

A log without these tables (written by an earlier driftloop) gets them when a writer opens it; readers of such a
log see no events.
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from driftloop.stream import DETECTORS, StreamDetector, detector_from_state

SIGNALS = ("predictions", "errors")
DEFAULT_DETECTORS: dict[str, Callable[[], StreamDetector]] = dict(DETECTORS)
"""The detectors each stream feeds, with their default parameters."""

SCHEMA = """
CREATE TABLE IF NOT EXISTS stream_state (
    model_name TEXT NOT NULL, model_version TEXT NOT NULL, signal TEXT NOT NULL, detector TEXT NOT NULL,
    state TEXT NOT NULL, n_values INTEGER NOT NULL, n_detections INTEGER NOT NULL,
    PRIMARY KEY (model_name, model_version, signal, detector)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS stream_events (
    seq INTEGER PRIMARY KEY, ts INTEGER NOT NULL, model_name TEXT NOT NULL, model_version TEXT NOT NULL,
    signal TEXT NOT NULL, detector TEXT NOT NULL, position INTEGER NOT NULL
);
"""

Key = tuple[str, str, str, str]  # model name, model version, signal, detector


@dataclass
class _Tracked:
    detector: StreamDetector
    n_values: int
    n_detections: int


@dataclass(frozen=True)
class StreamUpdate:
    """What one committed group did to one detector, for the service's metrics."""

    model_name: str
    model_version: str
    signal: str
    detector: str
    values: int
    detections: int
    statistic: float


def error_of(prediction: Any, label: Any) -> float | None:
    """The error of one labelled prediction: ``|prediction - label|`` for two numbers, else 0 (same) or 1 (wrong
    class); ``None`` when the prediction is missing.

    >>> error_of(5.5, 7), error_of("red", "white"), error_of(True, True), error_of(None, 1)
    (1.5, 1.0, 0.0, None)
    """
    if prediction is None:
        return None
    if _is_number(prediction) and _is_number(label):
        return abs(float(prediction) - float(label))
    return 0.0 if prediction == label else 1.0


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def streamable(values: Sequence[Any]) -> np.ndarray:
    """Predictions as the values of the predictions stream: numbers (booleans as 0/1), NaN for the others (skipped).

    >>> streamable([1.5, True, "a", None]).tolist()
    [1.5, 1.0, nan, nan]
    """
    return np.array([float(v) if isinstance(v, (int, float)) and math.isfinite(v) else math.nan for v in values],
                    dtype=np.float64)


class StreamMonitor:
    """The detectors of one inference log, updated by its writer (one process, one thread)."""

    def __init__(self, connection: sqlite3.Connection,
                 detectors: dict[str, Callable[[], StreamDetector]] | None = None) -> None:
        self.connection = connection
        self.factories = DEFAULT_DETECTORS if detectors is None else detectors
        connection.executescript(SCHEMA)
        self.reload()

    def reload(self) -> None:
        """Forget what was not saved: the detectors as the database holds them (after a rolled-back group)."""
        self._tracked = {
            (name, version, signal, kind): _Tracked(detector_from_state(json.loads(state)), n_values, n_detections)
            for name, version, signal, kind, state, n_values, n_detections in self.connection.execute(
                "SELECT * FROM stream_state")
        }
        self._fed: dict[Key, int] = {}  # values fed to each detector in the pending group
        self._events: list[tuple[Key, int]] = []  # its detections: (detector, position in the stream)

    def observe(self, model_name: str, model_version: str, signal: str, values: np.ndarray) -> None:
        """Feed ``values`` (NaN skipped) to every detector of the model version's ``signal``."""
        finite = values[np.isfinite(values)]
        if not len(finite):
            return
        for kind, factory in self.factories.items():
            key = (model_name, model_version, signal, kind)
            tracked = self._tracked.get(key)
            if tracked is None:
                tracked = self._tracked[key] = _Tracked(factory(), 0, 0)
            for position in tracked.detector.update_many(finite):
                self._events.append((key, tracked.n_values + position))
                tracked.n_detections += 1
            tracked.n_values += len(finite)
            self._fed[key] = self._fed.get(key, 0) + len(finite)

    def save(self, timestamp_ns: int) -> list[StreamUpdate]:
        """Write the changed states and the detections (inside the caller's transaction); say what changed."""
        if not self._fed:
            return []
        self.connection.executemany(
            "INSERT OR REPLACE INTO stream_state VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(*key, json.dumps(self._tracked[key].detector.state()), self._tracked[key].n_values,
              self._tracked[key].n_detections) for key in self._fed])
        self.connection.executemany(
            "INSERT INTO stream_events (ts, model_name, model_version, signal, detector, position) "
            "VALUES (?, ?, ?, ?, ?, ?)", [(timestamp_ns, *key, position) for key, position in self._events])
        detections: dict[Key, int] = {}
        for key, _ in self._events:
            detections[key] = detections.get(key, 0) + 1
        updates = [StreamUpdate(*key, fed, detections.get(key, 0), self._tracked[key].detector.statistic)
                   for key, fed in self._fed.items()]
        self._fed, self._events = {}, []
        return updates


def stream_events(connection: sqlite3.Connection) -> pd.DataFrame:
    """The detections recorded in a log (none when it has no ``stream_events`` table), in the order they happened:
    ``timestamp`` (datetime64[ns, UTC]), ``model_name``, ``model_version``, ``signal``, ``detector``, ``position``."""
    columns = ["timestamp", "model_name", "model_version", "signal", "detector", "position"]
    known = connection.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'stream_events'")
    if known.fetchone() is None:
        rows: list[tuple] = []
    else:
        rows = connection.execute(f"SELECT ts, {', '.join(columns[1:])} FROM stream_events ORDER BY seq").fetchall()
    frame = pd.DataFrame(rows, columns=columns)
    frame["timestamp"] = pd.to_datetime(frame["timestamp"].astype("int64"), unit="ns", utc=True)
    return frame

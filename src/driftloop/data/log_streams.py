"""Streaming detectors run by the inference log's writer, with their state and detections in the log's database.

Two streams per model version: ``predictions`` (every numeric prediction as it is logged; booleans count as 0/1,
other predictions are not part of it) and ``errors`` (as labels arrive on ``/feedback``: the absolute error
``|prediction - label|`` when both are numbers, else 1 for a wrong class and 0 for a right one). Each stream feeds
one detector of each configured kind (:func:`driftloop.stream.parse_detectors`; by default ADWIN alone, see
:data:`DEFAULT_STREAMS`). Only the first label of an id feeds the errors stream (a replaced label does
not count twice), and only when its prediction is in the log when the label arrives (a label that comes before its
prediction is stored, but not streamed).

The writer updates the detectors while it writes a group (one compiled pass per detector and group) and saves their
state and their detections in the same transaction as the group's rows, so that after a crash or a restart the
detectors are exactly where the committed rows left them; if the group's transaction fails, they are read back
from the database. Tables::

    stream_state(model_name, model_version, signal, detector, parameters, state, n_values, n_detections)
                            each detector's parameters (JSON) and state (:meth:`StreamDetector.pack`, bytes)
    stream_events(seq, ts, model_name, model_version, signal, detector, position, row_id)
                            one row per detection: when (the time of the group's commit, ns), the position of the
                            value in its stream (0-based, counted from the model version's first value) and the id
                            of the logged prediction whose value (or whose label's error) it was

A detector whose saved parameters differ from the configured ones starts afresh with the configured ones (its
count of values goes on); a saved detector that is no longer configured is kept but not fed. A log without these
tables (written by an earlier driftloop) gets them when a writer opens it.
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from driftloop.stream import StreamDetector

SIGNALS = ("predictions", "errors")
DEFAULT_STREAMS: dict[str, dict[str, Any]] = {"adwin": {}}
"""The detectors run by default: ADWIN alone, whose false alarms do not depend on the stream's scale or on a warm-up
(none on a million stationary values, ``bench/stream.py``). Page-Hinkley's defaults (river's) are in the stream's
units, and CUSUM's reference level comes from a warm-up of 100 values whose luck sets its false alarm rate (on a
stationary stream of wine-quality errors it fired after 242 values): they run when configured."""

SCHEMA = """
CREATE TABLE IF NOT EXISTS stream_state (
    model_name TEXT NOT NULL, model_version TEXT NOT NULL, signal TEXT NOT NULL, detector TEXT NOT NULL,
    parameters TEXT NOT NULL, state BLOB NOT NULL, n_values INTEGER NOT NULL, n_detections INTEGER NOT NULL,
    PRIMARY KEY (model_name, model_version, signal, detector)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS stream_events (
    seq INTEGER PRIMARY KEY, ts INTEGER NOT NULL, model_name TEXT NOT NULL, model_version TEXT NOT NULL,
    signal TEXT NOT NULL, detector TEXT NOT NULL, position INTEGER NOT NULL, row_id TEXT
);
"""

Key = tuple[str, str, str, str]  # model name, model version, signal, detector


@dataclass
class _Tracked:
    detector: StreamDetector
    parameters: str  # as saved (JSON)
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
    >>> streamable([2, 3]).tolist()
    [2.0, 3.0]
    """
    array = np.asarray(values)
    if array.ndim == 1 and array.dtype.kind in "biuf":  # numbers alone (the usual case): no loop in Python
        return array.astype(np.float64)
    return np.array([float(v) if isinstance(v, (int, float)) and math.isfinite(v) else math.nan for v in values],
                    dtype=np.float64)


def _detectors() -> Any:
    """:mod:`driftloop.stream`, imported where the detectors run (the writer): it compiles them with numba, which
    the log's readers (the monitor, the server process) need not load."""
    import driftloop.stream

    return driftloop.stream


def _upgrade(connection: sqlite3.Connection) -> None:
    """Bring the tables of a log written by the first release of the streaming detectors (state as JSON, events
    without row ids) to the current layout, keeping every state and event (inside the caller's transaction)."""
    columns = _columns(connection, "stream_state")
    if columns and "parameters" not in columns:
        rows = connection.execute("SELECT * FROM stream_state").fetchall()
        connection.execute("DROP TABLE stream_state")
        connection.execute(SCHEMA.split(";")[0])
        for name, version, signal, kind, state, n_values, n_detections in rows:
            detector = _detectors().detector_from_state(json.loads(state))
            connection.execute("INSERT INTO stream_state VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                               (name, version, signal, kind, json.dumps(detector.state()["parameters"]),
                                detector.pack(), n_values, n_detections))
    events = _columns(connection, "stream_events")
    if events and "row_id" not in events:
        connection.execute("ALTER TABLE stream_events ADD COLUMN row_id TEXT")


class StreamMonitor:
    """The detectors of one inference log, updated by its writer (one process, one thread).

    ``detectors``: the parameters of each detector that every stream feeds, by name
    (:data:`driftloop.stream.DETECTORS`; default :data:`DEFAULT_STREAMS`).
    """

    def __init__(self, connection: sqlite3.Connection, detectors: dict[str, dict[str, Any]] | None = None) -> None:
        self.connection = connection
        configured = DEFAULT_STREAMS if detectors is None else detectors
        kinds = _detectors().DETECTORS
        self.configured = {name: (kinds[name], json.dumps(kinds[name](**parameters).state()["parameters"]))
                           for name, parameters in configured.items()}
        for make, _ in self.configured.values():  # load the compiled code now (or compile it, the first time):
            make().update_many([0.0])  # not while the first request waits for its commit
        connection.execute("BEGIN IMMEDIATE")
        try:
            _upgrade(connection)
            for statement in filter(str.strip, SCHEMA.split(";")):
                connection.execute(statement)
            connection.execute("COMMIT")
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise
        self.reload()

    def reload(self) -> None:
        """Forget what was not saved: the detectors as the database holds them (after a rolled-back group)."""
        self._tracked: dict[Key, _Tracked] = {}
        for name, version, signal, kind, parameters, state, n_values, n_detections in self.connection.execute(
                "SELECT * FROM stream_state"):
            if kind not in self.configured:
                continue
            make, wanted = self.configured[kind]
            if parameters == wanted:
                detector = make(**json.loads(parameters)).unpack(state)
            else:  # configured anew: starts afresh, its stream's positions go on
                detector, parameters = make(**json.loads(wanted)), wanted
            self._tracked[(name, version, signal, kind)] = _Tracked(detector, parameters, n_values, n_detections)
        self._fed: dict[Key, int] = {}  # values fed to each detector in the pending group
        self._events: list[tuple[Key, int, str]] = []  # its detections: (detector, position in the stream, row id)

    def observe(self, model_name: str, model_version: str, signal: str, values: np.ndarray,
                ids: Sequence[str]) -> None:
        """Feed ``values`` (NaN skipped), those of the rows ``ids``, to every detector of the model version's
        ``signal``."""
        values = np.asarray(values, dtype=np.float64)
        finite = np.isfinite(values)
        if not finite.all():
            kept = np.flatnonzero(finite)
            values, ids = values[kept], [ids[i] for i in kept.tolist()]
        if not len(values):
            return
        for kind, (make, parameters) in self.configured.items():
            key = (model_name, model_version, signal, kind)
            tracked = self._tracked.get(key)
            if tracked is None:
                tracked = self._tracked[key] = _Tracked(make(**json.loads(parameters)), parameters, 0, 0)
            for position in tracked.detector.update_finite(values).tolist():
                self._events.append((key, tracked.n_values + position, ids[position]))
                tracked.n_detections += 1
            tracked.n_values += len(values)
            self._fed[key] = self._fed.get(key, 0) + len(values)

    def save(self, timestamp_ns: int) -> list[StreamUpdate]:
        """Write the changed states and the detections (inside the caller's transaction); say what changed."""
        if not self._fed:
            return []
        tracked = self._tracked
        self.connection.executemany(
            "INSERT OR REPLACE INTO stream_state VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [(*key, tracked[key].parameters, tracked[key].detector.pack(), tracked[key].n_values,
              tracked[key].n_detections) for key in self._fed])
        detections: dict[Key, int] = {}
        if self._events:
            self.connection.executemany(
                "INSERT INTO stream_events (ts, model_name, model_version, signal, detector, position, row_id) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(timestamp_ns, *key, position, row_id) for key, position, row_id in self._events])
            for key, _, _ in self._events:
                detections[key] = detections.get(key, 0) + 1
        updates = [StreamUpdate(*key, fed, detections.get(key, 0), tracked[key].detector.statistic)
                   for key, fed in self._fed.items()]
        self._fed, self._events = {}, []
        return updates


EVENT_COLUMNS = ("model_name", "model_version", "signal", "detector", "position", "row_id")


def stream_event_rows(connection: sqlite3.Connection) -> list[tuple]:
    """The detections recorded in a log, in the order they happened: ``(ts_ns, *EVENT_COLUMNS)``; none without the
    table (or in the first release's layout, until a writer upgrades it)."""
    if "row_id" not in _columns(connection, "stream_events"):
        return []
    return connection.execute(f"SELECT ts, {', '.join(EVENT_COLUMNS)} FROM stream_events ORDER BY seq").fetchall()


STATE_COLUMNS = ("model_name", "model_version", "signal", "detector", "parameters", "n_values", "n_detections")


def stream_state_rows(connection: sqlite3.Connection) -> list[tuple]:
    """The detectors a log's writer ran: ``STATE_COLUMNS`` (parameters as JSON) of each; none without the table
    (or in the first release's layout, until a writer upgrades it)."""
    if "parameters" not in _columns(connection, "stream_state"):
        return []
    return connection.execute(f"SELECT {', '.join(STATE_COLUMNS)} FROM stream_state").fetchall()


def _columns(connection: sqlite3.Connection, table: str) -> list[str]:
    return [row[1] for row in connection.execute(f"PRAGMA table_info({table})")]

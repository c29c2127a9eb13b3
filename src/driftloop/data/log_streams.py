"""Streaming detectors run by the inference log's writer, with their state and detections in the log's database.

Two streams per model version: ``predictions`` (every numeric prediction as it is logged; booleans count as 0/1,
other predictions are not part of it) and ``errors`` (as labels arrive on ``/feedback``: the absolute error
``|prediction - label|`` when both are numbers, else 1 for a wrong class and 0 for a right one). Each stream feeds
one detector of each configured kind (:func:`driftloop.stream.parse_detectors`; by default ADWIN alone, see
:data:`DEFAULT_STREAMS`). Only the first label of an id feeds the errors stream (a replaced label does
not count twice), and only when its prediction is in the log when the label arrives (a label that comes before its
prediction is stored, but not streamed).

The writer queues the values of each committed group as they come (one tuple appended per request: the request's
own lists, not converted, not split by model version) and runs the detectors on what is queued every
:data:`FLUSH_SECONDS`, when it closes, and (through :meth:`StreamMonitor.due`) when the queue waits that long
without new input. A flush groups the queued values by model version and stream, makes them arrays and feeds each
detector in one compiled pass; it saves the detectors' states, their detections and the position of the last row
they took (the log's last row: every committed row is queued) in one transaction. Why not per commit: saving the
states with every group commit gave up the writer's single-statement commit for a transaction, wrote one more page
to the write-ahead log (and its fsync), and added the detector calls to the writer and the Prometheus updates to
the server, for every commit; with 1-row requests, a commit or two per request, that was most of the ~10 % of CPU
per request the detectors added (``BENCHMARKS.md``). Why nothing else per request: in the service the writer runs
each request's Python after waiting for it (and for its fsync), with cold caches, where each line costs several
times what it does in a loop; converting the values to numpy, splitting them by model version and asking for the
last row's ``seq`` per request were a third of the ~30 µs of writer CPU the detectors added to a 1-label
``/feedback`` there (``BENCHMARKS.md``).
A flush takes every value queued in half a second at once, so its cost per request shrinks with the traffic.

A restart loses nothing: the values committed since the last flush are in the log's own rows, and a writer that
starts after one that did not close (killed, crashed) takes them again from the log, in the log's order
(:meth:`StreamMonitor.reload`), before any new value; so the detectors are exactly where a detector fed every
committed value would be, and the detections of a killed writer's last moments are recorded by the next one.
A detection is therefore recorded up to :data:`FLUSH_SECONDS` after its row is acknowledged (or, after a crash,
when the service starts again). The errors stream's values are kept in the ``error`` column of the ``feedback``
table (NULL for labels that were not streamed), so that it, too, can be taken again from the log. Tables::

    stream_state(model_name, model_version, signal, detector, parameters, state, n_values, n_detections)
                            each detector's parameters (JSON) and state (:meth:`StreamDetector.pack`, bytes)
    stream_events(seq, ts, model_name, model_version, signal, detector, position, row_id)
                            one row per detection: when (the time of the flush that found it, ns), the position of
                            the value in its stream (0-based, counted from the model version's first value) and the
                            id of the logged prediction whose value (or whose label's error) it was
    stream_position(signal, seq, open)
                            the ``seq`` of the last ``predictions`` (``feedback``) row the detectors took, and whether
                            a writer with detectors has the log open (1 until it closes: left at 1 by a crash)

Rows logged while no writer ran detectors (``--no-stream-detectors``) are not streamed: a writer that starts after
one that closed properly begins with the rows that come after it. (After a crash, the position stays where the
crashed writer left it: if writers without detectors ran in between, the next writer with detectors takes their
rows too, read from the log at its start.)

A detector whose saved parameters differ from the configured ones starts afresh with the configured ones (its
count of values goes on); a saved detector that is no longer configured is kept but not fed. A log without these
tables (written by an earlier driftloop) gets them when a writer opens it.
"""

from __future__ import annotations

import json
import math
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain
from operator import sub
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from driftloop.stream import StreamDetector

SIGNALS = ("predictions", "errors")
FLUSH_SECONDS = 0.5
"""How long committed values wait, at most, before the detectors take them (and their detections are recorded)."""
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
CREATE TABLE IF NOT EXISTS stream_position (signal TEXT PRIMARY KEY, seq INTEGER NOT NULL, open INTEGER NOT NULL);
"""
_LAST_SEQ = {"predictions": "SELECT coalesce(max(seq), 0) FROM predictions",
             "errors": "SELECT coalesce(max(seq), 0) FROM feedback"}
_TAKEN = ("UPDATE stream_position SET seq = (SELECT coalesce(max(seq), 0) FROM predictions) "
          "WHERE signal = 'predictions'",
          "UPDATE stream_position SET seq = (SELECT coalesce(max(seq), 0) FROM feedback) WHERE signal = 'errors'")
_REPLAY = {  # the values committed after a position, in the order the writer queued them
    "predictions": "SELECT seq, id, model_name, model_version, prediction FROM predictions WHERE seq > ? ORDER BY seq",
    "errors": "SELECT f.seq, f.id, p.model_name, p.model_version, f.error FROM feedback AS f JOIN predictions AS p "
              "ON p.id = f.id WHERE f.seq > ? AND f.error IS NOT NULL ORDER BY f.seq",
}

Key = tuple[str, str, str, str]  # model name, model version, signal, detector
Queued = tuple[str, "str | Sequence[str]", "str | Sequence[str]", Sequence[Any], Sequence[str]]
"""A request's values as queued: signal, model name(s), model version(s), values, ids (:meth:`StreamMonitor.queue`)."""


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


def errors_of(predictions: Sequence[Any], labels: Sequence[Any]) -> list[float | None]:
    """:func:`error_of` of each pair. When every prediction and label is an ``int`` or a ``float`` (a regressor's,
    or a classifier's integer classes: the usual case), ``|float(prediction) - float(label)|`` by ``map`` over
    the pairs, without a Python loop (about 80 ns a pair where :func:`error_of` takes 210 ns): the same formula,
    the same values.

    >>> errors_of([5.5, 2], [7, 2.5])
    [1.5, 0.5]
    >>> errors_of(["red", None, True], ["white", 1, True])
    [1.0, None, 0.0]
    """
    if _NUMBER_TYPES.issuperset(map(type, chain(predictions, labels))):
        return list(map(abs, map(sub, map(float, predictions), map(float, labels))))
    return list(map(error_of, predictions, labels))


_NUMBER_TYPES = frozenset({int, float})


def streamable(values: Sequence[Any]) -> np.ndarray:
    """Values as the detectors take them: numbers (booleans as 0/1), NaN for the others (skipped); the predictions
    as logged, the errors as :func:`error_of` gives them (``None`` for a missing prediction).

    >>> streamable([1.5, True, "a", None]).tolist()
    [1.5, 1.0, nan, nan]
    >>> streamable([2, 3.5]).tolist(), streamable([[1, 2], 3.0]).tolist()
    ([2.0, 3.5], [nan, 3.0])
    """
    if _NUMBER_TYPES.issuperset(map(type, values)):  # ints and floats alone (the usual case): no loop in Python
        return np.array(values, dtype=np.float64)
    try:
        array = np.asarray(values)
    except ValueError:  # lists of different lengths among the values: not numbers
        array = None
    if array is not None and array.ndim == 1 and array.dtype.kind in "biuf":  # numpy's numbers: no loop either
        return array.astype(np.float64)
    return np.array([float(v) if isinstance(v, (int, float)) and math.isfinite(v) else math.nan for v in values],
                    dtype=np.float64)


def _detectors() -> Any:
    """:mod:`driftloop.stream`, imported where the detectors run (the writer): it compiles them with numba, which
    the log's readers (the monitor, the server process) need not load."""
    import driftloop.stream

    return driftloop.stream


def _upgrade(connection: sqlite3.Connection) -> None:
    """Bring the tables of a log written by an earlier release of the streaming detectors (state as JSON, events
    without row ids, no streamed errors) to the current layout, keeping every state and event (inside the caller's
    transaction)."""
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
    if "error" not in _columns(connection, "feedback"):
        connection.execute("ALTER TABLE feedback ADD COLUMN error REAL")


class StreamMonitor:
    """The detectors of one inference log, fed by its writer (one process, one thread).

    ``detectors``: the parameters of each detector that every stream feeds, by name
    (:data:`driftloop.stream.DETECTORS`; default :data:`DEFAULT_STREAMS`). The writer calls :meth:`queue` after each
    commit and :meth:`flush` (inside a transaction of its own) when :meth:`due`, and :meth:`close` (idem) when it
    stops; :meth:`reload` after a failed flush.
    """

    def __init__(self, connection: sqlite3.Connection, detectors: dict[str, dict[str, Any]] | None = None,
                 flush_seconds: float = FLUSH_SECONDS) -> None:
        self.connection = connection
        self.flush_seconds = flush_seconds
        configured = DEFAULT_STREAMS if detectors is None else detectors
        kinds = _detectors().DETECTORS
        self.configured = {name: (kinds[name], json.dumps(kinds[name](**parameters).state()["parameters"]))
                           for name, parameters in configured.items()}
        for make, _ in self.configured.values():  # load the compiled code now (or compile it, the first time):
            make().update_many([0.0])  # not while the first values wait for it
        connection.execute("BEGIN IMMEDIATE")
        try:
            _upgrade(connection)
            for statement in filter(str.strip, SCHEMA.split(";")):
                connection.execute(statement)
            closed = connection.execute("SELECT count(*) FROM stream_position WHERE open = 0").fetchone()[0]
            if closed or not connection.execute("SELECT 1 FROM stream_position").fetchone():
                # a new table, or the last writer with detectors closed: rows logged since were not streamed
                connection.executemany("INSERT OR REPLACE INTO stream_position VALUES (?, ?, 1)",
                                       [(signal, connection.execute(_LAST_SEQ[signal]).fetchone()[0])
                                        for signal in SIGNALS])
            else:
                connection.execute("UPDATE stream_position SET open = 1")
            connection.execute("COMMIT")
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise
        self.reload()

    def reload(self) -> None:
        """Forget what is not saved: the detectors as the database holds them, and the values committed after the
        saved positions queued again from the log's rows."""
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
        self._queued: list[Queued] = []
        self._flushed_at = time.monotonic()
        for signal, position in self.connection.execute("SELECT signal, seq FROM stream_position").fetchall():
            self._replay(signal, position)

    def _replay(self, signal: str, position: int) -> None:
        """Queue the values of the rows committed after ``position`` for ``signal``, in the log's order."""
        rows = self.connection.execute(_REPLAY[signal], (position,)).fetchall()
        if rows:
            _, ids, names, versions, values = zip(*rows)
            self.queue(signal, names, versions, values, ids)

    def queue(self, signal: str, model_name: str | Sequence[str], model_version: str | Sequence[str],
              values: Sequence[Any], ids: Sequence[str]) -> None:
        """Queue the ``values`` of the committed rows ``ids`` for ``signal``: predictions as logged (made numbers
        by :func:`streamable` at the flush), errors as :func:`error_of` gives them (``None`` skipped); the model
        name and version of all of them, or one of each per value. Nothing else happens until the flush."""
        self._queued.append((signal, model_name, model_version, values, ids))

    def due(self) -> float | None:
        """Seconds until the queued values must be taken (0 or less: now); None when nothing is queued."""
        if not self._queued:
            return None
        return self.flush_seconds - (time.monotonic() - self._flushed_at)

    def flush(self, timestamp_ns: int) -> list[StreamUpdate]:
        """Feed the queued values to the detectors; write their states, detections and positions (inside the
        caller's transaction); say what changed. After a failed transaction, call :meth:`reload`; the next flush
        is due :attr:`flush_seconds` after this one began, whether it failed or not (a log that cannot be written
        is not retried in a busy loop)."""
        self._flushed_at = time.monotonic()
        fed: dict[Key, int] = {}
        events: list[tuple[Key, int, str]] = []  # (detector, position in its stream, row id)
        for (model_name, model_version, signal), (queued, ids) in by_stream(self._queued).items():
            values = streamable(queued)
            finite = np.isfinite(values)
            if not finite.all():
                kept = np.flatnonzero(finite)
                values, ids = values[kept], [ids[i] for i in kept.tolist()]
            if not len(values):
                continue
            for kind, (make, parameters) in self.configured.items():
                key = (model_name, model_version, signal, kind)
                tracked = self._tracked.get(key)
                if tracked is None:
                    tracked = self._tracked[key] = _Tracked(make(**json.loads(parameters)), parameters, 0, 0)
                for position in tracked.detector.update_finite(values).tolist():
                    events.append((key, tracked.n_values + position, ids[position]))
                    tracked.n_detections += 1
                tracked.n_values += len(values)
                fed[key] = fed.get(key, 0) + len(values)
        tracked = self._tracked
        self.connection.executemany(
            "INSERT OR REPLACE INTO stream_state VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [(*key, tracked[key].parameters, tracked[key].detector.pack(), tracked[key].n_values,
              tracked[key].n_detections) for key in fed])
        self.connection.executemany(
            "INSERT INTO stream_events (ts, model_name, model_version, signal, detector, position, row_id) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(timestamp_ns, *key, position, row_id) for key, position, row_id in events])
        for statement in _TAKEN:  # every committed row was queued: the detectors have taken the log to its end
            self.connection.execute(statement)
        detections: dict[Key, int] = {}
        for key, _, _ in events:
            detections[key] = detections.get(key, 0) + 1
        self._queued = []
        return [StreamUpdate(*key, count, detections.get(key, 0), tracked[key].detector.statistic)
                for key, count in fed.items()]

    def close(self, timestamp_ns: int) -> list[StreamUpdate]:
        """:meth:`flush`, and mark the log closed by this writer (inside the caller's transaction)."""
        updates = self.flush(timestamp_ns)
        self.connection.execute("UPDATE stream_position SET open = 0")
        return updates


def by_stream(queued: list[Queued]) -> dict[tuple[str, str, str], tuple[list[Any], list[str]]]:
    """The queued values and ids of each (model name, model version, signal), in the order they were queued.

    >>> streams = by_stream([("errors", ("m", "m"), ("1", "2"), [0.5, 1.0], ["a", "b"]),
    ...                      ("predictions", "m", "1", [3], ["c"]), ("errors", "m", "1", [2.0], ["d"])])
    >>> streams[("m", "1", "errors")], streams[("m", "2", "errors")], streams[("m", "1", "predictions")]
    (([0.5, 2.0], ['a', 'd']), ([1.0], ['b']), ([3], ['c']))
    """
    streams: dict[tuple[str, str, str], tuple[list[Any], list[str]]] = {}
    for signal, names, versions, values, ids in queued:
        if not isinstance(names, str):
            if names.count(names[0]) < len(names) or versions.count(versions[0]) < len(versions):
                for (name, version), kept in by_model_version(names, versions).items():
                    found = streams.setdefault((name, version, signal), ([], []))
                    found[0].extend(values[i] for i in kept)
                    found[1].extend(ids[i] for i in kept)
                continue
            names, versions = names[0], versions[0]  # one model version (the usual case)
        found = streams.setdefault((names, versions, signal), ([], []))
        found[0].extend(values)
        found[1].extend(ids)
    return streams


def by_model_version(names: Sequence[str], versions: Sequence[str]) -> dict[tuple[str, str], list[int]]:
    """The positions of each (model name, model version) in the rows, in order.

    >>> by_model_version(["m", "m", "m"], ["1", "2", "1"])
    {('m', '1'): [0, 2], ('m', '2'): [1]}
    """
    found: dict[tuple[str, str], list[int]] = {}
    for index, key in enumerate(zip(names, versions)):
        found.setdefault(key, []).append(index)
    return found


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

"""The inference log: every prediction the service acknowledged, and the labels that arrived later, in one SQLite file.

Layout (one file, SQLite in WAL mode: one writer, any number of concurrent readers)::

    meta(key, value)                 format marker and layout version
    features(name, dtype, position)  one row per input feature ever logged, with its numpy dtype
    predictions(seq, id, ts, model_name, model_version, prediction, "<feature>", ...)
                                     one row per predicted row; one typed column per input feature, under the
                                     feature's own name (added when a model version brings a new feature)
    feedback(seq, id, label, ts, orphan)
                                     every label received, append-only; ``orphan`` = 1 when no prediction had
                                     that id when the label arrived
    labels(id, label, ts)            the latest label of each id (what readers join)

Timestamps are integer nanoseconds since the epoch, UTC. Inputs are stored one typed column per feature rather than
as JSON text: a row costs its values and nothing else, and :func:`read_inference_log` needs no parsing.

Writes go through :class:`InferenceLog`, whose single writer (a child process, :mod:`driftloop.data.log_writer`)
does *group commit*. Callers send their rows and wait; the writer drains everything pending, writes it in one
transaction, commits, then acknowledges every message of the group. A caller is only told "written" after the commit returned, so the service answers 200 only for rows that are
in the database. Durability: ``synchronous="full"`` (the default) fsyncs the write-ahead log at every commit, so an
acknowledged row survives a process kill *and* a power loss or kernel crash; ``synchronous="normal"`` skips that
fsync (the commit reaches the OS page cache only), which survives ``SIGKILL`` of the server but may lose the last
commits on power loss. Group commit makes the fsync cheap: concurrent requests share it.

Feedback for an id that has no prediction is stored, never dropped, and counted as an orphan. Labels are joined to
predictions when the log is read, so an orphan label is reconciled as soon as a prediction with its id is in the log
(for instance after merging logs); :meth:`InferenceLog.count_orphans` counts the labels that are orphans *now*, the
``orphan`` flag of ``feedback`` records the state at arrival.

Feature names may be anything but the reader's reserved column names (:data:`RESERVED_COLUMNS`).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import fcntl
import itertools
import os
import pickle
import sqlite3
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote as url_quote

import numpy as np
import pandas as pd

from driftloop.data.log_writer import (
    RESERVED_COLUMNS,
    connect_rw,
    encode_columns,
    quote,
    read_message,
    split_frames,
)
from driftloop.errors import DriftloopError

FORMAT_NAME = "driftloop-inference-log"
FORMAT_VERSION = "1"
SYNCHRONOUS_MODES = ("full", "normal")
DEFAULT_MAX_GROUP_ROWS = 50_000
"""A group commit stops draining the queue once it holds this many rows (bounds one transaction's latency)."""
_NS_PER_DAY = 86_400 * 1_000_000_000
_SQLITE_HEADER = b"SQLite format 3\x00"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS features (name TEXT PRIMARY KEY, dtype TEXT NOT NULL, position INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS predictions (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    ts INTEGER NOT NULL,
    model_name TEXT NOT NULL,
    model_version TEXT NOT NULL,
    prediction
);
CREATE INDEX IF NOT EXISTS predictions_ts ON predictions (ts);
CREATE TABLE IF NOT EXISTS feedback (
    seq INTEGER PRIMARY KEY, id TEXT NOT NULL, label, ts INTEGER NOT NULL, orphan INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS labels (id TEXT PRIMARY KEY, label, ts INTEGER NOT NULL) WITHOUT ROWID;
"""


# --------------------------------------------------------------------------------------------------------- ids
def new_row_ids(count: int, timestamp_ns: int | None = None) -> list[str]:
    """``count`` fresh row ids: UUID version 7 strings (48-bit millisecond time, 74 random bits), so ids sort by time.

    >>> ids = new_row_ids(3, 1_700_000_000_000_000_000)
    >>> len(set(ids)), ids[0][:13], ids[0][14]
    (3, '018bcfe5-6800', '7')
    """
    ms = (time.time_ns() if timestamp_ns is None else timestamp_ns) // 1_000_000
    prefix = f"{ms & 0xFFFF_FFFF_FFFF:012x}"
    head = f"{prefix[:8]}-{prefix[8:]}-7"
    random_hex = os.urandom(10 * count).hex()
    variants = "89ab89ab89ab89ab"
    return [
        f"{head}{r[0:3]}-{variants[int(r[3], 16)]}{r[4:7]}-{r[7:19]}"
        for r in (random_hex[20 * i: 20 * i + 20] for i in range(count))
    ]


# ------------------------------------------------------------------------------------------------- what is written
@dataclass(frozen=True)
class PredictionBatch:
    """The rows of one answered request: what the model saw and what it predicted.

    ``inputs`` maps each feature name to a 1-D numpy array of the batch's values (numeric, bool, datetime64 or object
    holding ``str``); ``predictions`` holds one JSON-compatible value per row (a number, a string, or a list/dict,
    stored as JSON text).
    """

    ids: Sequence[str]
    timestamp_ns: int
    model_name: str
    model_version: str
    inputs: Mapping[str, np.ndarray]
    predictions: Sequence[Any]

    def __len__(self) -> int:
        return len(self.ids)


@dataclass(frozen=True)
class FeedbackResult:
    """What happened to a feedback request: labels stored, and the ids among them that matched no prediction."""

    accepted: int
    orphan_ids: tuple[str, ...]


def _initialise(path: Path) -> None:
    """Create the log at ``path`` (or check that the file there is one), in WAL mode."""
    if path.exists() and path.stat().st_size > 0 and not is_inference_log(path):
        raise DriftloopError(
            f"{path} exists and is not a driftloop inference log; choose another path for the log."
        )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        connection = connect_rw(path)
    except (OSError, sqlite3.Error) as error:
        raise DriftloopError(f"Cannot open the inference log {path}: {error}.") from None
    try:
        connection.execute("PRAGMA journal_mode = WAL")
        connection.executescript("BEGIN IMMEDIATE;" + _SCHEMA + "COMMIT;")
        connection.execute("INSERT OR IGNORE INTO meta VALUES ('format', ?)", (FORMAT_NAME,))
        connection.execute("INSERT OR IGNORE INTO meta VALUES ('version', ?)", (FORMAT_VERSION,))
    except sqlite3.Error as error:
        raise DriftloopError(f"Cannot create the inference log {path}: {error}.") from None
    finally:
        connection.close()


class InferenceLog:
    """The writer side of an inference log: hands rows to the writer process and tells callers once committed.

    Parameters
    ----------
    path
        The SQLite file; created when missing. An existing file must be a driftloop inference log.
    synchronous
        ``"full"`` (default: every commit is fsynced, acknowledged rows survive a power loss) or ``"normal"``
        (acknowledged rows survive a process kill, not a power loss).
    max_group_rows
        Upper bound on the rows of one group commit.
    on_commit
        Called after each commit with (requests, rows, seconds) of the group, e.g. to count them.

    The writing itself happens in a child process (:mod:`driftloop.data.log_writer`), so that it runs on another
    core and never competes for the GIL with the caller. If the child dies, every pending and later write fails
    with a :class:`DriftloopError` (nothing is acknowledged that is not committed). Use as a context manager, or
    call :meth:`start` and :meth:`close`.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        synchronous: str = "full",
        max_group_rows: int = DEFAULT_MAX_GROUP_ROWS,
        on_commit: Callable[[int, int, float], None] | None = None,
    ) -> None:
        if synchronous not in SYNCHRONOUS_MODES:
            raise DriftloopError(
                f"The 'synchronous' parameter of InferenceLog must be one of {', '.join(SYNCHRONOUS_MODES)}; "
                f"got {synchronous!r}."
            )
        self.path = Path(path).resolve()
        self.synchronous = synchronous
        self.max_group_rows = max_group_rows
        self.on_commit = on_commit
        self._process: subprocess.Popen[bytes] | None = None
        self._reader: threading.Thread | None = None
        self._send_lock = threading.Lock()
        self._pending: dict[int, Callable[[Any, BaseException | None], None]] = {}
        self._seq = itertools.count()
        self._failure: DriftloopError | None = None
        self._closed = False
        self._outbox: list[bytes] = []
        self._flush_scheduled = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ack_buffer = bytearray()

    # -- life cycle
    def prepare(self) -> InferenceLog:
        """Create the database (or check the file is a log) without starting the writer: errors raise here."""
        _initialise(self.path)
        return self

    def start(self, loop: asyncio.AbstractEventLoop | None = None) -> InferenceLog:
        """Create or open the log and start the writer process; errors (unwritable path, foreign file) raise here.

        With ``loop`` (a running event loop), acknowledgements are read by that loop itself (no thread, no wake-up
        from another thread); otherwise by a background thread.
        """
        if self._process is not None:
            return self
        _initialise(self.path)
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [_SOURCE_ROOT, os.environ.get("PYTHONPATH")])))
        self._process = subprocess.Popen(
            [sys.executable, "-m", "driftloop.data.log_writer", str(self.path), self.synchronous,
             str(self.max_group_rows)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, bufsize=0,
        )
        try:
            kind, detail = read_message(self._process.stdout)
        except EOFError:
            kind, detail = "error", f"the writer process exited with {self._process.wait()}"
        if kind != "ready":
            self._process.wait()
            self._process = None
            raise DriftloopError(f"Cannot open the inference log {self.path}: {detail}.")
        if hasattr(fcntl, "F_SETPIPE_SZ"):  # room for many batches while the writer syncs (Linux)
            try:
                fcntl.fcntl(self._process.stdin.fileno(), fcntl.F_SETPIPE_SZ, 1 << 20)
            except OSError:
                pass
        if loop is None:
            self._reader = threading.Thread(target=self._read_acknowledgements, name="driftloop-log-acks",
                                            daemon=True)
            self._reader.start()
        else:
            self._loop = loop
            fd = self._process.stdout.fileno()
            os.set_blocking(fd, False)
            loop.add_reader(fd, self._on_readable)
        return self

    def close(self) -> None:
        """Write what is queued, stop the writer process (it checkpoints the log) and wait for it."""
        if self._process is None or self._closed:
            return
        self._flush()
        self._closed = True
        with self._send_lock:
            try:
                self._process.stdin.close()
            except OSError:
                pass
        self._process.wait()
        if self._reader is not None:
            self._reader.join()
        elif self._loop is not None:  # the last acknowledgements, read here since the loop is blocked by us
            fd = self._process.stdout.fileno()
            self._loop.remove_reader(fd)
            os.set_blocking(fd, True)
            while chunk := os.read(fd, 1 << 20):
                self._ack_buffer += chunk
            messages, self._ack_buffer = split_frames(self._ack_buffer)
            for message in messages:
                self._acknowledge(message, on_loop=True)
            self._writer_gone()

    def __enter__(self) -> InferenceLog:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing
    def _submit(self, kind: str, payload: Any, settle: Callable[[Any, BaseException | None], None],
                loop: asyncio.AbstractEventLoop | None = None) -> None:
        """Frame the message and send it; from an event loop, the frames of one loop turn go in one write.

        One write per turn rather than one per request: under load a turn runs several request handlers, and every
        write (and every group the writer then commits and acknowledges) costs the server's one core time, so the
        fewer the better (with batches of 100 at concurrency 16, writing each frame at once added 11-23% to the
        server's CPU per request, one write per turn 2-12%; it answered sooner, but not enough to lower the tail).
        """
        if self._process is None or self._closed:
            raise DriftloopError(f"The inference log {self.path} is not open.")
        seq = next(self._seq)
        body = pickle.dumps((seq, kind, payload), protocol=pickle.HIGHEST_PROTOCOL)
        frame = struct.pack("<I", len(body)) + body
        with self._send_lock:
            if self._failure is not None:
                raise self._failure
            self._pending[seq] = settle
            if loop is not None:
                self._outbox.append(frame)
                if not self._flush_scheduled:
                    self._flush_scheduled = True
                    loop.call_soon(self._flush)
                return
            self._write(frame)

    def _flush(self) -> None:
        with self._send_lock:
            frames, self._outbox = self._outbox, []
            self._flush_scheduled = False
            if frames:
                self._write(b"".join(frames))

    def _write(self, data: bytes) -> None:
        """Write to the writer process (under the send lock); a dead writer fails its pending messages."""
        try:
            self._process.stdin.write(data)
        except (OSError, ValueError) as error:
            self._failure = DriftloopError(f"The writer of the inference log {self.path} is gone: {error}.")
            pending, self._pending = self._pending, {}
            for settle in pending.values():
                _settle_soon(settle, None, self._failure)

    def _read_acknowledgements(self) -> None:
        """The acknowledgement thread (without an event loop): settle each group's messages as it is committed."""
        assert self._process is not None
        stream = self._process.stdout
        while True:
            try:
                message = read_message(stream)
            except (EOFError, OSError):
                break
            self._acknowledge(message, on_loop=False)
        self._writer_gone()

    def _on_readable(self) -> None:
        """Settle the acknowledgements waiting in the pipe, without blocking (also the loop's reader callback).

        One read: the pipe is level-triggered, so whatever a read leaves behind makes the loop call again.
        """
        assert self._process is not None and self._loop is not None
        fd = self._process.stdout.fileno()
        try:
            chunk = os.read(fd, 1 << 20)
        except BlockingIOError:
            return
        if not chunk:  # the writer closed its end: it has exited
            self._loop.remove_reader(fd)
            self._writer_gone()
            return
        self._ack_buffer += chunk
        messages, self._ack_buffer = split_frames(self._ack_buffer)
        for message in messages:
            self._acknowledge(message, on_loop=True)

    def _acknowledge(self, message: Any, *, on_loop: bool) -> None:
        _, outcome, rows, seconds = message
        by_loop: dict[Any, list[tuple[Callable[..., None], Any, BaseException | None]]] = {}
        for seq, error, result in outcome:
            settle = self._pending.pop(seq, None)
            if settle is None:
                continue
            failure = None if error is None else DriftloopError(
                f"Could not write to the inference log {self.path}: {error}")
            loop = getattr(settle, "loop", None)
            if on_loop and loop is self._loop:
                loop = None  # already on the waiter's loop: settle now
            by_loop.setdefault(loop, []).append((settle, _feedback_result(result), failure))
        if self.on_commit is not None:
            self.on_commit(len(outcome), rows, seconds)
        for loop, items in by_loop.items():
            if loop is None:
                _settle_all(items)
            else:  # one wake-up of each other event loop per group
                try:
                    loop.call_soon_threadsafe(_settle_all, items)
                except RuntimeError:  # the loop is closed: nobody waits any more
                    pass

    def _writer_gone(self) -> None:
        failure = DriftloopError(f"The writer of the inference log {self.path} stopped"
                                 + ("" if self._closed else " unexpectedly") + "; nothing more can be logged.")
        with self._send_lock:
            self._failure = failure
            pending, self._pending = self._pending, {}
        for settle in pending.values():
            loop = getattr(settle, "loop", None)
            if loop is not None and loop is self._loop and self._closed:
                settle(None, failure)
            else:
                _settle_soon(settle, None, failure)

    @staticmethod
    def _prediction_payload(batch: PredictionBatch) -> tuple:
        return (list(batch.ids), batch.timestamp_ns, batch.model_name, batch.model_version,
                encode_columns(batch.inputs), list(batch.predictions))

    def submit_predictions(self, batch: PredictionBatch) -> concurrent.futures.Future[None]:
        """Queue ``batch``; the future completes once its rows are committed (or fails with the write error)."""
        future: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._submit("predictions", self._prediction_payload(batch), _settle_concurrent(future))
        return future

    def submit_feedback(self, items: Sequence[tuple[str, Any]]) -> concurrent.futures.Future[FeedbackResult]:
        """Queue labels ``[(id, label), ...]``; the future gives a :class:`FeedbackResult` once committed."""
        future: concurrent.futures.Future[FeedbackResult] = concurrent.futures.Future()
        self._submit("feedback", list(items), _settle_concurrent(future))
        return future

    async def write_predictions(self, batch: PredictionBatch) -> None:
        """Write ``batch`` and return once it is committed."""
        await self._write_async("predictions", self._prediction_payload(batch))

    async def write_feedback(self, items: Sequence[tuple[str, Any]]) -> FeedbackResult:
        """Store labels ``[(id, label), ...]`` and return once committed."""
        return await self._write_async("feedback", list(items))

    async def _write_async(self, kind: str, payload: Any) -> Any:
        """Send the message, then wait on the running loop until the writer acknowledges its commit.

        On the loop that reads the acknowledgements, the ones already in the pipe are settled first. asyncio runs
        the callbacks of one loop turn in order and a waiter resumed during a turn runs in the next; the loop itself
        would see a readable pipe only at the end of a turn of request handlers (about a millisecond each under
        load), and resume their waiters a turn later. Collected here, at each request, they answer a turn sooner.
        """
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._submit(kind, payload, _settle_async(loop, future), loop)
        if loop is self._loop:
            self._on_readable()
        return await future

    def count_orphans(self) -> int:
        """Labels whose id matches no prediction in the log now."""
        with _connect_ro(self.path) as connection:
            return _count_orphans(connection)


_SOURCE_ROOT = str(Path(__file__).resolve().parents[2])
"""The folder holding the ``driftloop`` package, so that the writer process imports this very copy."""


def _feedback_result(result: Any) -> Any:
    return None if result is None else FeedbackResult(result[0], tuple(result[1]))


def _settle_soon(settle: Callable[[Any, BaseException | None], None], result: Any,
                 failure: BaseException | None) -> None:
    """Settle now (a concurrent future) or on the waiter's event loop."""
    loop = getattr(settle, "loop", None)
    if loop is None:
        settle(result, failure)
        return
    try:
        loop.call_soon_threadsafe(settle, result, failure)
    except RuntimeError:  # the loop is closed: nobody waits any more
        pass


def _settle_all(items: list[tuple[Callable[..., None], Any, BaseException | None]]) -> None:
    for settle, result, failure in items:
        settle(result, failure)


def _settle_concurrent(future: concurrent.futures.Future[Any]) -> Callable[[Any, BaseException | None], None]:
    def settle(result: Any, error: BaseException | None) -> None:
        if error is None:
            future.set_result(result)
        else:
            future.set_exception(error)

    return settle


def _settle_async(loop: asyncio.AbstractEventLoop, future: asyncio.Future[Any]) -> Callable[[Any, BaseException | None], None]:
    """Settles ``future``; must run on ``loop`` (the acknowledgement reader batches the calls per loop)."""

    def settle(result: Any, error: BaseException | None) -> None:
        if future.done():  # the waiting request was cancelled (client gone): the rows are written all the same
            return
        if error is None:
            future.set_result(result)
        else:
            future.set_exception(error)

    settle.loop = loop  # type: ignore[attr-defined]
    return settle


# ------------------------------------------------------------------------------------------------------- reading
def is_inference_log(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a driftloop inference log: an SQLite file whose ``meta`` table says so.

    >>> is_inference_log("/nonexistent/log.db")
    False
    """
    target = Path(path)
    try:
        with open(target, "rb") as handle:
            if handle.read(16) != _SQLITE_HEADER:
                return False
    except OSError:
        return False
    try:
        with _connect_ro(target) as connection:
            row = connection.execute("SELECT value FROM meta WHERE key = 'format'").fetchone()
    except (sqlite3.Error, DriftloopError):
        return False
    return row is not None and row[0] == FORMAT_NAME


class _ReadOnly:
    def __init__(self, path: Path) -> None:
        uri = f"file:{url_quote(str(path.resolve()))}?mode=ro"
        try:
            self.connection = sqlite3.connect(uri, uri=True, timeout=30.0, check_same_thread=False)
            self.connection.execute("PRAGMA busy_timeout = 30000")
        except sqlite3.Error as error:
            raise DriftloopError(f"Cannot open the inference log {path} for reading: {error}.") from None

    def __enter__(self) -> sqlite3.Connection:
        return self.connection

    def __exit__(self, *exc: object) -> None:
        self.connection.close()


def _connect_ro(path: Path) -> _ReadOnly:
    return _ReadOnly(path)


def _count_orphans(connection: sqlite3.Connection) -> int:
    return connection.execute(
        "SELECT count(*) FROM labels WHERE NOT EXISTS (SELECT 1 FROM predictions p WHERE p.id = labels.id)"
    ).fetchone()[0]


def _to_ns(value: Any, name: str) -> int:
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return int(value)
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError):
        raise DriftloopError(f"{name!r} must be a date, a datetime or an ISO 8601 string; got {value!r}.") from None
    if stamp is pd.NaT:
        raise DriftloopError(f"{name!r} must be a date, a datetime or an ISO 8601 string; got {value!r}.")
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return int(stamp.value)


def _column(values: list[Any], dtype: str) -> Any:
    if dtype == "datetime64[ns]":
        return pd.to_datetime(pd.array(values, dtype="Int64"), unit="ns")
    if dtype == "object":
        return np.array(values, dtype=object)
    if dtype.startswith(("float", "int", "uint", "bool")):
        if None in values:  # a feature absent from some model versions, or an optional value not given
            if dtype == "bool":
                return pd.array(values, dtype="boolean")
            return np.array([np.nan if v is None else v for v in values], dtype="float64")
        try:
            return np.array(values, dtype=dtype)
        except (TypeError, ValueError, OverflowError):
            return np.array(values, dtype=object)
    return np.array(values, dtype=object)


def _scalar_column(values: list[Any]) -> Any:
    """Predictions or labels: float64 when every value is a number (None as NaN), else the values as they are."""
    if all(isinstance(v, (int, float)) or v is None for v in values):
        return np.array([np.nan if v is None else v for v in values], dtype="float64")
    return np.array(values, dtype=object)


def read_inference_log(
    path: str | os.PathLike[str],
    *,
    since: datetime | date | str | int | None = None,
    until: datetime | date | str | int | None = None,
) -> pd.DataFrame:
    """Read the inference log at ``path`` as a DataFrame, one row per prediction, in the order they were logged.

    The database is opened read-only, so this works while a server writes to it (it sees the rows committed when
    the read starts). ``since`` (inclusive) and ``until`` (exclusive) bound the prediction timestamps; they accept
    datetimes (naive ones are UTC), dates, ISO 8601 strings or integer nanoseconds since the epoch.

    Columns: ``id`` (str), ``timestamp`` (datetime64[ns, UTC]), ``model_name`` (str), ``model_version`` (str), one
    column per input feature under its original name with its logged dtype (numeric dtypes preserved; an integer or
    boolean feature missing in some rows becomes float64 / nullable boolean), ``prediction`` (float64 when numeric),
    ``label`` (the latest label received for the row: float64 when numeric, NaN until feedback arrives) and
    ``label_timestamp`` (datetime64[ns, UTC], NaT until feedback arrives).
    """
    target = Path(path)
    if not target.is_file():
        raise DriftloopError(f"The inference log {str(path)!r} does not exist.")
    if not is_inference_log(target):
        raise DriftloopError(f"{str(path)!r} is not a driftloop inference log.")
    conditions, parameters = [], []
    if since is not None:
        conditions.append("p.ts >= ?")
        parameters.append(_to_ns(since, "since"))
    if until is not None:
        conditions.append("p.ts < ?")
        parameters.append(_to_ns(until, "until"))
    where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
    with _connect_ro(target) as connection:
        connection.execute("BEGIN")  # one snapshot for both queries
        features = connection.execute("SELECT name, dtype FROM features ORDER BY position").fetchall()
        feature_sql = "".join(f", p.{quote(name)}" for name, _ in features)
        rows = connection.execute(
            f"SELECT p.id, p.ts, p.model_name, p.model_version{feature_sql}, p.prediction, l.label, l.ts "
            f"FROM predictions p LEFT JOIN labels l ON l.id = p.id {where} ORDER BY p.seq",
            parameters,
        ).fetchall()
        connection.execute("COMMIT")
    names = [name for name, _ in features]
    columns = list(zip(*rows)) if rows else [()] * (7 + len(names))
    data: dict[str, Any] = {
        "id": np.array(columns[0], dtype=object),
        "timestamp": pd.to_datetime(np.array(columns[1], dtype="int64"), unit="ns", utc=True),
        "model_name": np.array(columns[2], dtype=object),
        "model_version": np.array(columns[3], dtype=object),
    }
    for index, (name, dtype) in enumerate(features):
        data[name] = _column(list(columns[4 + index]), dtype)
    tail = 4 + len(names)
    data["prediction"] = _scalar_column(list(columns[tail]))
    data["label"] = _scalar_column(list(columns[tail + 1]))
    label_ts = pd.array(list(columns[tail + 2]), dtype="Int64")
    data["label_timestamp"] = pd.to_datetime(label_ts, unit="ns", utc=True)
    frame = pd.DataFrame(data)
    frame["timestamp"] = frame["timestamp"].astype("datetime64[ns, UTC]")
    frame["label_timestamp"] = frame["label_timestamp"].astype("datetime64[ns, UTC]")
    return frame


def log_summary(path: str | os.PathLike[str]) -> dict[str, int]:
    """Counts of the log at ``path``: predictions, labels (ids with a label), orphans (labels matching no prediction)."""
    with _connect_ro(Path(path)) as connection:
        predictions = connection.execute("SELECT count(*) FROM predictions").fetchone()[0]
        labels = connection.execute("SELECT count(*) FROM labels").fetchone()[0]
        return {"predictions": predictions, "labels": labels, "orphans": _count_orphans(connection)}


# ------------------------------------------------------------------------------------------------------- export
def export_partitions(path: str | os.PathLike[str], to_dir: str | os.PathLike[str]) -> list[Path]:
    """Write the log as Parquet partitions by UTC date: ``to_dir/date=YYYY-MM-DD/part-0.parquet`` (hive style).

    Each partition holds :func:`read_inference_log`'s columns for one day. Re-exporting is idempotent: a day's
    partition is rewritten whole (to a temporary file, then renamed over the old one), so labels that arrived since
    the last export are included and nothing is duplicated. Returns the files written.
    """
    target = Path(path)
    if not is_inference_log(target):
        raise DriftloopError(f"{str(path)!r} is not a driftloop inference log.")
    out = Path(to_dir)
    if out.exists() and not out.is_dir():
        raise DriftloopError(f"The export destination {str(to_dir)!r} exists and is not a folder.")
    with _connect_ro(target) as connection:
        days = [row[0] for row in connection.execute(
            f"SELECT DISTINCT ts / {_NS_PER_DAY} FROM predictions ORDER BY 1"
        )]
    written = []
    for day in days:
        start = day * _NS_PER_DAY
        frame = read_inference_log(target, since=start, until=start + _NS_PER_DAY)
        day_name = datetime.fromtimestamp(day * 86_400, tz=timezone.utc).strftime("%Y-%m-%d")
        folder = out / f"date={day_name}"
        folder.mkdir(parents=True, exist_ok=True)
        final = folder / "part-0.parquet"
        temporary = folder / f".part-0.parquet.{os.getpid()}.tmp"
        frame.to_parquet(temporary, index=False)
        os.replace(temporary, final)
        for stale in folder.glob("part-*.parquet"):
            if stale != final:
                stale.unlink()
        written.append(final)
    return written


__all__ = [
    "FeedbackResult",
    "InferenceLog",
    "PredictionBatch",
    "RESERVED_COLUMNS",
    "export_partitions",
    "is_inference_log",
    "log_summary",
    "new_row_ids",
    "read_inference_log",
]

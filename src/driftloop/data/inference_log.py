"""The inference log: every prediction the service acknowledged, and the labels that arrived later, in one SQLite file.

One file, SQLite in WAL mode (one writer, any number of concurrent readers); its tables are described in
:mod:`driftloop.data.log_layout`: the predictions (one typed column per input feature, under a column name of the
log's choosing, so that any feature name works), every label received (``feedback``, append-only: the history) and
the latest label of each id (``labels``, what readers join).

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

Feature names may be anything but the reader's reserved column names (:data:`RESERVED_COLUMNS`). The features a
model version logs are fixed by its first logged request, and values the log cannot store are refused before they
reach the writer (:mod:`driftloop.data.log_checks`). A label never silently replaces a different one
(:meth:`InferenceLog.write_feedback`).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import fcntl
import itertools
import json
import logging
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
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote as url_quote

import numpy as np
import pandas as pd

from driftloop.data.log_checks import (
    MAX_FEATURES,
    RESERVED_COLUMNS,
    FeatureSets,
    UnloggableInput,
    check_feedback,
    check_inputs,
    storable_predictions,
)
from driftloop.data.log_layout import FORMAT_NAME, FORMAT_VERSION, SCHEMA, feature_columns, feature_sets, upgrade
from driftloop.data.log_streams import (
    DEFAULT_STREAMS,
    EVENT_COLUMNS,
    STATE_COLUMNS,
    StreamUpdate,
    stream_event_rows,
    stream_state_rows,
)
from driftloop.data.log_writer import connect_rw, encode_columns, quote, read_message, split_frames
from driftloop.errors import DriftloopError

SYNCHRONOUS_MODES = ("full", "normal")
DEFAULT_MAX_GROUP_ROWS = 50_000
"""A group commit stops draining the queue once it holds this many rows (bounds one transaction's latency)."""
MAX_RESTART_DELAY = 5.0
"""Longest wait, in seconds, between two attempts to restart a writer process that died."""
_SQLITE_HEADER = b"SQLite format 3\x00"
logger = logging.getLogger("driftloop.data.inference_log")


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
    """What happened to a feedback request: labels stored, the ids among them that matched no prediction, and the
    ids whose earlier, different label was replaced (only when asked for with ``overwrite``)."""

    accepted: int
    orphan_ids: tuple[str, ...]
    overwritten_ids: tuple[str, ...] = ()


class IdsInLog(DriftloopError):
    """Prediction ids that the log holds already; nothing of the batch was stored."""

    def __init__(self, ids: Sequence[str]) -> None:
        self.ids = tuple(ids)
        shown = ", ".join(map(repr, self.ids[:5])) + (f" and {len(self.ids) - 5} more" if len(self.ids) > 5 else "")
        super().__init__(f"{len(self.ids)} prediction id(s) are in the inference log already ({shown}); nothing "
                         "of the batch was stored.")


class LabelConflict(DriftloopError):
    """Labels that would replace an earlier, different label of the same id; nothing of the request was stored."""

    def __init__(self, ids: Sequence[str]) -> None:
        self.ids = tuple(ids)
        shown = ", ".join(map(repr, self.ids[:5])) + (f" and {len(self.ids) - 5} more" if len(self.ids) > 5 else "")
        super().__init__(f"{len(self.ids)} id(s) already have a different label ({shown}); nothing was stored. "
                         f"Send them again with overwrite to replace their labels (the old ones are kept in the "
                         f"label history).")


def _initialise(path: Path) -> FeatureSets:
    """Create the log at ``path`` (or check that the file there is one, upgrading an older layout), in WAL mode;
    return the feature sets it holds."""
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
        new = connection.execute("SELECT count(*) FROM sqlite_schema WHERE name = 'meta'").fetchone()[0] == 0
        if new:
            connection.executescript("BEGIN IMMEDIATE;" + SCHEMA + "INSERT OR IGNORE INTO meta VALUES "
                                     f"('format', '{FORMAT_NAME}'), ('version', '{FORMAT_VERSION}'); COMMIT;")
        elif upgrade(connection):
            logger.warning("The inference log %s was upgraded to layout version %s.", path, FORMAT_VERSION)
        return FeatureSets(feature_sets(connection), [name for name, _, _ in feature_columns(connection)])
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
    streams
        The streaming detectors run on the predictions and errors (:mod:`driftloop.data.log_streams`): their
        parameters by name (:func:`driftloop.stream.parse_detectors`); ``None`` or empty: none.
    on_streams
        Called after each flush of the detectors (every
        :data:`~driftloop.data.log_streams.FLUSH_SECONDS` while values come), with what it did to each
        (:class:`~driftloop.data.log_streams.StreamUpdate`), e.g. to set gauges.

    The writing itself happens in a child process (:mod:`driftloop.data.log_writer`), so that it runs on another
    core and never competes for the GIL with the caller. Every message is checked first
    (:mod:`driftloop.data.log_checks`): one the log cannot store raises :class:`UnloggableInput` at once and never
    reaches the writer. If the writer dies, the messages waiting for it fail with a :class:`DriftloopError` (nothing
    is acknowledged that is not committed) and a new writer is started (after 0.1 s, doubling to at most
    :data:`MAX_RESTART_DELAY` while it cannot start); writes made meanwhile fail the same way, and :attr:`state`
    says ``"restarting"``. Use as a context manager, or call :meth:`start` and :meth:`close`.

    Error messages of writes do not name the file (a service passes them to its clients).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        synchronous: str = "full",
        max_group_rows: int = DEFAULT_MAX_GROUP_ROWS,
        on_commit: Callable[[int, int, float], None] | None = None,
        streams: Mapping[str, Mapping[str, Any]] | None = DEFAULT_STREAMS,
        on_streams: Callable[[list[StreamUpdate]], None] | None = None,
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
        self.streams = streams
        self.on_streams = on_streams
        self.restarts = 0
        """How many times the writer process was restarted after it died."""
        self._process: subprocess.Popen[bytes] | None = None
        self._reader: threading.Thread | None = None
        self._restarter: threading.Thread | None = None
        self._stopping = threading.Event()
        self._send_lock = threading.Lock()
        self._pending: dict[int, Callable[[Any, BaseException | None], None]] = {}
        self._seq = itertools.count()
        self._failure: DriftloopError | None = None
        self._closed = False
        self._outbox: list[bytes] = []
        self._flush_scheduled = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ack_buffer = bytearray()
        self._feature_sets: FeatureSets | None = None
        self._gone: subprocess.Popen[bytes] | None = None  # the writer whose end was handled

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
        self._feature_sets = _initialise(self.path)
        self._process = self._spawn()
        self._loop = loop
        self._attach(self._process)
        return self

    @property
    def state(self) -> str:
        """``"not started"``, ``"ok"`` (the writer runs), ``"restarting"`` (it died; a new one is being started) or
        ``"closed"``."""
        if self._closed:
            return "closed"
        if self._process is None:
            return "not started"
        return "ok" if self._failure is None else "restarting"

    @property
    def failure(self) -> str | None:
        """Why writes fail now (the writer died and is being restarted), ``None`` while they can succeed."""
        return None if self._failure is None else self._failure.message

    def _spawn(self) -> subprocess.Popen[bytes]:
        """Start a writer process and wait until it has opened the log."""
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [_SOURCE_ROOT, os.environ.get("PYTHONPATH")])))
        process = subprocess.Popen(
            [sys.executable, "-m", "driftloop.data.log_writer", str(self.path), self.synchronous,
             str(self.max_group_rows), json.dumps(dict(self.streams) if self.streams else None)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, bufsize=0,
        )
        try:
            kind, detail = read_message(process.stdout)
        except EOFError:
            kind, detail = "error", f"the writer process exited with {process.wait()}"
        if kind != "ready":
            process.wait()
            raise DriftloopError(f"Cannot open the inference log {self.path}: {detail}.")
        if hasattr(fcntl, "F_SETPIPE_SZ"):  # room for many batches while the writer syncs (Linux)
            try:
                fcntl.fcntl(process.stdin.fileno(), fcntl.F_SETPIPE_SZ, 1 << 20)
            except OSError:
                pass
        if self._loop is not None:
            os.set_blocking(process.stdout.fileno(), False)
        return process

    def _attach(self, process: subprocess.Popen[bytes]) -> None:
        """Start reading ``process``'s acknowledgements: on the event loop, or in a thread."""
        if self._loop is None:
            self._reader = threading.Thread(target=self._read_acknowledgements, args=(process,),
                                            name="driftloop-log-acks", daemon=True)
            self._reader.start()
            return
        fd = process.stdout.fileno()
        os.set_blocking(fd, False)
        self._loop.add_reader(fd, self._on_readable)

    def close(self) -> None:
        """Write what is queued, stop the writer process (it checkpoints the log) and wait for it."""
        if self._process is None or self._closed:
            return
        self._flush()
        with self._send_lock:
            self._closed = True
            self._stopping.set()
            process = self._process
        try:
            process.stdin.close()
        except OSError:
            pass
        if self._restarter is not None:  # a writer it starts now sees the log closed and stops it
            self._restarter.join()
        process.wait()
        if self._loop is None:
            if self._reader is not None:
                self._reader.join()
            return
        # the last acknowledgements, read here since the loop is blocked by us
        fd = process.stdout.fileno()
        self._loop.remove_reader(fd)
        os.set_blocking(fd, True)
        while chunk := os.read(fd, 1 << 20):
            self._ack_buffer += chunk
        messages, self._ack_buffer = split_frames(self._ack_buffer)
        for message in messages:
            self._acknowledge(message, on_loop=True)
        self._writer_gone(process)

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

    def _check_open(self) -> None:
        if self._process is None or self._closed:
            raise DriftloopError("The inference log is not open.")

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
            self._failure = DriftloopError(f"The writer of the inference log is gone ({error}); it is being "
                                           "restarted. Nothing of this request was written.")
            pending, self._pending = self._pending, {}
            for settle in pending.values():
                _settle_soon(settle, None, self._failure)

    def _read_acknowledgements(self, process: subprocess.Popen[bytes]) -> None:
        """The acknowledgement thread (without an event loop): settle each group's messages as it is committed."""
        while True:
            try:
                message = read_message(process.stdout)
            except (EOFError, OSError):
                break
            self._acknowledge(message, on_loop=False)
        self._writer_gone(process)

    def _on_readable(self) -> None:
        """Settle the acknowledgements waiting in the pipe, without blocking (also the loop's reader callback).

        One read: the pipe is level-triggered, so whatever a read leaves behind makes the loop call again.
        """
        process = self._process
        assert process is not None and self._loop is not None
        fd = process.stdout.fileno()
        try:
            chunk = os.read(fd, 1 << 20)
        except BlockingIOError:
            return
        if not chunk:  # the writer closed its end: it has exited
            self._loop.remove_reader(fd)
            self._writer_gone(process)
            return
        self._ack_buffer += chunk
        messages, self._ack_buffer = split_frames(self._ack_buffer)
        for message in messages:
            self._acknowledge(message, on_loop=True)

    def _acknowledge(self, message: Any, *, on_loop: bool) -> None:
        if message[0] == "streams":  # a flush of the streaming detectors
            if message[1] and self.on_streams is not None:
                self.on_streams([StreamUpdate(*update) for update in message[1]])
            return
        _, outcome, rows, seconds = message
        by_loop: dict[Any, list[tuple[Callable[..., None], Any, BaseException | None]]] = {}
        for seq, error, result in outcome:
            settle = self._pending.pop(seq, None)
            if settle is None:
                continue
            failure = None if error is None else DriftloopError(f"Could not write to the inference log: {error}")
            loop = getattr(settle, "loop", None)
            if on_loop and loop is self._loop:
                loop = None  # already on the waiter's loop: settle now
            by_loop.setdefault(loop, []).append((settle, result, failure))
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

    def _writer_gone(self, process: subprocess.Popen[bytes]) -> None:
        """``process`` exited: fail what waits for it and, unless the log is closing, start a new writer."""
        with self._send_lock:
            if process is not self._process or process is self._gone:
                return  # an older writer, or this one's end already handled
            self._gone = process
            if self._closed:
                failure = DriftloopError("The inference log is closed; nothing more can be logged.")
            else:
                code = process.wait()
                how = f"killed by signal {-code}" if code < 0 else f"exit code {code}"
                failure = DriftloopError(f"The writer of the inference log stopped unexpectedly ({how}); it is "
                                         "being restarted. Nothing of this request was acknowledged.")
            self._failure = failure
            pending, self._pending = self._pending, {}
            self._outbox = []  # their waiters are failed here: never send them
            if not self._closed:  # started under the lock, so that close() sees the thread it must wait for
                self._restarter = threading.Thread(target=self._restart, name="driftloop-log-restart", daemon=True)
                self._restarter.start()
        for settle in pending.values():
            loop = getattr(settle, "loop", None)
            if loop is not None and loop is self._loop and self._closed:
                settle(None, failure)
            else:
                _settle_soon(settle, None, failure)

    def _restart(self) -> None:
        """Start a new writer (retrying with a doubling delay while it cannot start), then read its answers."""
        delay = 0.1
        while not self._stopping.is_set():
            try:
                process = self._spawn()
            except (DriftloopError, OSError) as error:  # OSError: the process itself could not be started
                logger.error("%s (retrying in %.1f s)", error, delay)
                if self._stopping.wait(delay):
                    return
                delay = min(2 * delay, MAX_RESTART_DELAY)
                continue
            with self._send_lock:
                if self._closed:
                    process.stdin.close()
                    process.wait()
                    return
                self._process, self._ack_buffer, self._failure = process, bytearray(), None
                self.restarts += 1
            logger.warning("The writer of the inference log %s was restarted.", self.path)
            if self._loop is None:
                self._reader = threading.current_thread()
                self._read_acknowledgements(process)
            else:
                try:
                    self._loop.call_soon_threadsafe(self._attach_on_loop, process)
                except RuntimeError:  # the loop is closed
                    pass
            return

    def _attach_on_loop(self, process: subprocess.Popen[bytes]) -> None:
        if process is self._process and not self._closed:
            self._loop.add_reader(process.stdout.fileno(), self._on_readable)

    def _prediction_payload(self, batch: PredictionBatch) -> tuple:
        """Check that the log can store ``batch`` (:class:`UnloggableInput` otherwise) and encode it."""
        self._check_open()
        n = len(batch.ids)
        if len(batch.predictions) != n or any(len(values) != n for values in batch.inputs.values()):
            raise DriftloopError(f"A prediction batch must have {n} values in every column and {n} predictions.")
        check_inputs(batch.inputs)
        predictions = storable_predictions(list(batch.predictions))
        with self._send_lock:
            self._feature_sets.admit(batch.model_name, batch.model_version, tuple(batch.inputs))
        return (list(batch.ids), batch.timestamp_ns, batch.model_name, batch.model_version,
                encode_columns(batch.inputs), predictions)

    def _feedback_payload(self, items: Sequence[tuple[str, Any]], overwrite: bool) -> tuple:
        self._check_open()
        items = list(items)
        check_feedback(items)
        return items, bool(overwrite)

    def submit_predictions(self, batch: PredictionBatch) -> concurrent.futures.Future[None]:
        """Queue ``batch``; the future completes once its rows are committed (or fails with the write error)."""
        future: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._submit("predictions", self._prediction_payload(batch), _settle_predictions(_settle_concurrent(future)))
        return future

    def submit_feedback(self, items: Sequence[tuple[str, Any]], *,
                        overwrite: bool = False) -> concurrent.futures.Future[FeedbackResult]:
        """Queue labels ``[(id, label), ...]``; the future gives a :class:`FeedbackResult` once committed, or fails
        with :class:`LabelConflict` (see :meth:`write_feedback`)."""
        future: concurrent.futures.Future[FeedbackResult] = concurrent.futures.Future()
        self._submit("feedback", self._feedback_payload(items, overwrite), _settle_feedback(_settle_concurrent(future)))
        return future

    async def write_predictions(self, batch: PredictionBatch) -> None:
        """Write ``batch`` and return once it is committed; :class:`IdsInLog` (nothing written) when some of its ids
        are in the log already."""
        await self._write_async("predictions", self._prediction_payload(batch))

    async def write_feedback(self, items: Sequence[tuple[str, Any]], *, overwrite: bool = False) -> FeedbackResult:
        """Store labels ``[(id, label), ...]`` and return once committed.

        A label never silently replaces another: if an id already has a *different* label (or gets two in
        ``items``), nothing of ``items`` is stored and :class:`LabelConflict` names those ids, unless ``overwrite``
        is true. Sending the same label again is not a conflict. Every label stored is kept in the log's
        ``feedback`` table, the replaced ones included (see :func:`read_label_history`).
        """
        return await self._write_async("feedback", self._feedback_payload(items, overwrite))

    async def _write_async(self, kind: str, payload: Any) -> Any:
        """Send the message, then wait on the running loop until the writer acknowledges its commit.

        On the loop that reads the acknowledgements, the ones already in the pipe are settled first. asyncio runs
        the callbacks of one loop turn in order and a waiter resumed during a turn runs in the next; the loop itself
        would see a readable pipe only at the end of a turn of request handlers (about a millisecond each under
        load), and resume their waiters a turn later. Collected here, at each request, they answer a turn sooner.
        """
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        settle = _settle_async(loop, future)
        self._submit(kind, payload, _settle_feedback(settle) if kind == "feedback" else _settle_predictions(settle),
                     loop)
        if loop is self._loop:
            self._on_readable()
        return await future

    def count_orphans(self) -> int:
        """Labels whose id matches no prediction in the log now."""
        with _connect_ro(self.path) as connection:
            return _count_orphans(connection)


_SOURCE_ROOT = str(Path(__file__).resolve().parents[2])
"""The folder holding the ``driftloop`` package, so that the writer process imports this very copy."""


def _settle_feedback(settle: Callable[[Any, BaseException | None], None]) -> Callable[[Any, BaseException | None], None]:
    """Wraps ``settle`` to turn the writer's result of a feedback message into a :class:`FeedbackResult`, or into
    :class:`LabelConflict` when it refused to replace labels."""

    def settle_feedback(result: Any, error: BaseException | None) -> None:
        if error is not None:
            settle(None, error)
        elif result[3]:
            settle(None, LabelConflict(result[3]))
        else:
            settle(FeedbackResult(result[0], tuple(result[1]), tuple(result[2])), None)

    settle_feedback.loop = getattr(settle, "loop", None)  # type: ignore[attr-defined]
    return settle_feedback


def _settle_predictions(
    settle: Callable[[Any, BaseException | None], None],
) -> Callable[[Any, BaseException | None], None]:
    """Wraps ``settle`` to turn the writer's result of a prediction batch (the ids it found in the log already, which
    kept it from writing the batch) into :class:`IdsInLog`."""

    def settle_predictions(result: Any, error: BaseException | None) -> None:
        if error is None and result:
            settle(None, IdsInLog(result))
        else:
            settle(None, error)

    settle_predictions.loop = getattr(settle, "loop", None)  # type: ignore[attr-defined]
    return settle_predictions


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
        features = feature_columns(connection)
        feature_sql = "".join(f", p.{quote(column)}" for _, column, _ in features)
        rows = connection.execute(
            f"SELECT p.id, p.ts, p.model_name, p.model_version{feature_sql}, p.prediction, l.label, l.ts "
            f"FROM predictions p LEFT JOIN labels l ON l.id = p.id {where} ORDER BY p.seq",
            parameters,
        ).fetchall()
        connection.execute("COMMIT")
    names = [name for name, _, _ in features]
    columns = list(zip(*rows)) if rows else [()] * (7 + len(names))
    data: dict[str, Any] = {
        "id": np.array(columns[0], dtype=object),
        "timestamp": pd.to_datetime(np.array(columns[1], dtype="int64"), unit="ns", utc=True),
        "model_name": np.array(columns[2], dtype=object),
        "model_version": np.array(columns[3], dtype=object),
    }
    for index, (name, _, dtype) in enumerate(features):
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


def read_label_history(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Every label the log at ``path`` received, in order of arrival, replaced ones included.

    Columns: ``id`` (str), ``label`` (float64 when numeric), ``label_timestamp`` (datetime64[ns, UTC]) and ``orphan``
    (bool: no prediction had that id when the label arrived). The latest label of each id is the one
    :func:`read_inference_log` joins.
    """
    target = Path(path)
    if not is_inference_log(target):
        raise DriftloopError(f"{str(path)!r} is not a driftloop inference log.")
    with _connect_ro(target) as connection:
        rows = connection.execute("SELECT id, label, ts, orphan FROM feedback ORDER BY seq").fetchall()
    ids, labels, stamps, orphans = zip(*rows) if rows else ((), (), (), ())
    return pd.DataFrame({
        "id": np.array(ids, dtype=object),
        "label": _scalar_column(list(labels)),
        "label_timestamp": pd.to_datetime(np.array(stamps, dtype="int64"), unit="ns", utc=True),
        "orphan": np.array(orphans, dtype=bool),
    })


def read_stream_events(path: str | os.PathLike[str]) -> pd.DataFrame:
    """The detections of the log's streaming detectors (see :mod:`driftloop.data.log_streams`), oldest first:
    ``timestamp``, ``model_name``, ``model_version``, ``signal`` (``predictions`` or ``errors``), ``detector``,
    ``position`` (of the value in its stream), ``row_id`` (the id of the logged prediction whose value, or whose
    label's error, it was). Read-only, like :func:`read_inference_log`; empty for a log without detectors."""
    target = Path(path)
    if not is_inference_log(target):
        raise DriftloopError(f"{str(path)!r} is not a driftloop inference log.")
    with _connect_ro(target) as connection:
        rows = stream_event_rows(connection)
    frame = pd.DataFrame(rows, columns=["timestamp", *EVENT_COLUMNS])
    frame["timestamp"] = pd.to_datetime(frame["timestamp"].astype("int64"), unit="ns", utc=True)
    frame["position"] = frame["position"].astype("int64")
    return frame


def read_stream_detectors(path: str | os.PathLike[str]) -> pd.DataFrame:
    """The streaming detectors the log's writer ran (see :mod:`driftloop.data.log_streams`), one row per model
    version, stream and detector: ``model_name``, ``model_version``, ``signal``, ``detector``, ``parameters`` (dict),
    ``n_values`` (values fed) and ``n_detections``. Read-only; empty for a log without detectors."""
    target = Path(path)
    if not is_inference_log(target):
        raise DriftloopError(f"{str(path)!r} is not a driftloop inference log.")
    with _connect_ro(target) as connection:
        rows = stream_state_rows(connection)
    frame = pd.DataFrame(rows, columns=list(STATE_COLUMNS))
    frame["parameters"] = [json.loads(text) for text in frame["parameters"]]
    return frame


def read_labels(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Every label the log at ``path`` holds, also those of ids it never served (orphans): ``id``, ``label`` (the
    latest; float64 when every label is a number) and ``label_timestamp`` (datetime64[ns, UTC])."""
    with _connect_ro(Path(path)) as connection:
        rows = connection.execute("SELECT id, label, ts FROM labels").fetchall()
    ids, values, stamps = (list(column) for column in zip(*rows)) if rows else ([], [], [])
    label = pd.Series(values, dtype=object)
    numeric = pd.to_numeric(label, errors="coerce")
    return pd.DataFrame({
        "id": pd.Series(ids, dtype=object),
        "label": numeric if numeric.notna().sum() == label.notna().sum() else label,
        "label_timestamp": pd.to_datetime(pd.Series(stamps, dtype="int64"), unit="ns", utc=True),
    })


def log_summary(path: str | os.PathLike[str]) -> dict[str, int]:
    """Counts of the log at ``path``: predictions, labels (ids with a label), orphans (labels matching no prediction)."""
    with _connect_ro(Path(path)) as connection:
        predictions = connection.execute("SELECT count(*) FROM predictions").fetchone()[0]
        labels = connection.execute("SELECT count(*) FROM labels").fetchone()[0]
        return {"predictions": predictions, "labels": labels, "orphans": _count_orphans(connection)}


__all__ = [
    "FeedbackResult",
    "InferenceLog",
    "LabelConflict",
    "MAX_FEATURES",
    "PredictionBatch",
    "RESERVED_COLUMNS",
    "UnloggableInput",
    "is_inference_log",
    "log_summary",
    "new_row_ids",
    "read_inference_log",
    "read_label_history",
    "read_labels",
]

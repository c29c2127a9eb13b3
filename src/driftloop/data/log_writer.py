"""The writer process of the inference log: group commit in a process of its own.

:class:`driftloop.data.inference_log.InferenceLog` starts ``python -m driftloop.data.log_writer PATH SYNCHRONOUS
MAX_GROUP_ROWS STREAMS`` (``STREAMS``: the streaming detectors' parameters by name as JSON, ``null`` for none) and
talks to it over its standard input and output with length-prefixed pickled messages (a private pipe between a
process and the child it started: nothing else writes to it).

Why a process and not a thread: every SQLite call releases Python's GIL and must take it back, and binding one value
per column per row holds it. In a thread of the server, that work competes with the event loop for the one GIL and
cost the service a third of its throughput on batches; in its own process it runs on another core, and the server
only pickles each batch once (a few microseconds for numpy columns).

The writer also runs the log's streaming detectors (:mod:`driftloop.data.log_streams`): it queues the predictions
and errors of each committed group, and the detectors take them every
:data:`~driftloop.data.log_streams.FLUSH_SECONDS` in a transaction of their own (the flush's
:class:`~driftloop.data.log_streams.StreamUpdate` tuples then go to the parent as ``("streams", updates)``).

Protocol. Parent to child: ``(seq, kind, payload)`` with kind ``"predictions"`` (payload ``(ids, timestamp_ns,
model_name, model_version, encode_columns(inputs), predictions)``, checked by :mod:`driftloop.data.log_checks`) or
``"feedback"`` (payload ``([(id, label), ...], overwrite)``). Child to parent: first ``("ready", None)`` or
``("error", message)``; then, after each commit, ``("done", [(seq, error_message_or_None, result), ...], rows,
seconds)``, and after each flush of the streaming detectors ``("streams", updates)``; the result of feedback is
``(accepted, orphan ids, overwritten ids, conflicting ids)``, that of predictions ``()`` or, when nothing was written
because some of its ids are in the log already, those ids. The child acknowledges a message only after the
transaction holding it is committed; a message that cannot be written is reported failed alone
(:meth:`GroupWriter.write`). On end of input (the parent closed the pipe, or died), it writes what it has,
checkpoints the write-ahead log and exits.
"""

from __future__ import annotations

import json
import os
import pickle
import select
import signal
import sqlite3
import struct
import sys
import time
from dataclasses import dataclass, field
from itertools import chain, repeat
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from driftloop.data.log_layout import INTERNAL_COLUMNS, column_for, feature_columns, feature_sets, upgrade
from driftloop.data.log_streams import Queued, StreamMonitor, errors_of

_HEADER = struct.Struct("<I")


# --------------------------------------------------------------------------------------------------- framing
def send_message(stream: BinaryIO, message: Any) -> None:
    """Write one length-prefixed pickled message and flush."""
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_HEADER.pack(len(data)) + data)
    stream.flush()


def read_message(stream: BinaryIO) -> Any:
    """Read one message; ``EOFError`` at the end of the stream."""
    size = _HEADER.unpack(_read_exactly(stream, _HEADER.size))[0]
    data = _read_exactly(stream, size)
    return pickle.loads(data)


# -------------------------------------------------------------------------------------------------- values
def _read_exactly(stream: BinaryIO, size: int) -> bytes:
    """``size`` bytes from ``stream``; a pipe read without a buffer returns what has arrived, so read until all
    have (a message larger than the pipe's atomic write size arrives in pieces). ``EOFError`` if the stream ends."""
    chunks = []
    while size:
        chunk = stream.read(size)
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def encode_columns(columns: dict[str, np.ndarray]) -> dict[str, tuple[str, Any]]:
    """Columns as (dtype, raw bytes) for fixed-width dtypes, (``"O"``, list) otherwise: cheap to pickle.

    >>> decode_columns(encode_columns({"x": np.array([1.5, 2.0]), "s": np.array(["a"], dtype=object)}))["x"]
    array([1.5, 2. ])
    """
    return {name: (values.dtype.str, values.tobytes()) if values.dtype.kind in "fiubM" else ("O", values.tolist())
            for name, values in columns.items()}


def decode_columns(encoded: dict[str, tuple[str, Any]]) -> dict[str, np.ndarray]:
    return {name: np.frombuffer(data, dtype=np.dtype(dtype)) if dtype != "O" else np.array(data, dtype=object)
            for name, (dtype, data) in encoded.items()}


def quote(identifier: str) -> str:
    """An SQL identifier, quoted (any feature name is allowed, spaces included).

    >>> print(quote('fixed acidity'), quote('a"b'))
    "fixed acidity" "a""b"
    """
    return '"' + identifier.replace('"', '""') + '"'


def dtype_name(values: np.ndarray) -> str:
    """The name under which the log records a column's dtype, cached per dtype (``str(dtype)`` takes about 2 µs
    and is asked for every column of every batch).

    >>> dtype_name(np.array([1.5])), dtype_name(np.array(["a"], dtype=object))
    ('float64', 'object')
    """
    dtype = values.dtype
    name = _DTYPE_NAMES.get(dtype)
    if name is None:
        kind = dtype.kind
        name = "datetime64[ns]" if kind == "M" else str(dtype) if kind in "fiub" else "object"
        _DTYPE_NAMES[dtype] = name
    return name


_DTYPE_NAMES: dict[np.dtype, str] = {}


def widen(old: str, new: str) -> str:
    """The dtype that holds both ``old`` and ``new`` (when a model version changes a feature's type).

    >>> widen("int64", "float64"), widen("float64", "object")
    ('float64', 'object')
    """
    if old == new:
        return old
    numeric = {"float64", "float32", "float16", "int64", "int32", "int16", "int8", "uint8", "uint16", "uint32",
               "uint64", "bool"}
    if old in numeric and new in numeric:
        return "float64"
    return "object"


def _sql_values(values: np.ndarray) -> list[Any]:
    """A column as Python values SQLite can bind (datetimes as integer ns; NaN becomes NULL in SQLite)."""
    if values.dtype.kind == "M":
        ints = values.astype("datetime64[ns]").view("int64").tolist()
        nat = np.iinfo(np.int64).min
        return [None if v == nat else v for v in ints]
    return values.tolist()


def connect_rw(path: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False, timeout=30.0,
                                 cached_statements=512)
    connection.execute("PRAGMA busy_timeout = 30000")
    return connection


# -------------------------------------------------------------------------------------------------- writing
@dataclass
class _State:
    """What the writer knows of the log's tables (reloaded after a rolled-back transaction)."""

    columns: dict[str, tuple[str, str]] = field(default_factory=dict)  # feature name -> (SQL column, dtype)
    taken: set[str] = field(default_factory=set)  # the SQL columns of ``predictions``, lower-cased
    feature_sets: set[tuple[str, str]] = field(default_factory=set)  # model versions whose features are recorded

    @classmethod
    def load(cls, connection: sqlite3.Connection) -> _State:
        features = feature_columns(connection)
        return cls({name: (column, dtype) for name, column, dtype in features},
                   {*INTERNAL_COLUMNS, *(column.lower() for _, column, _ in features)},
                   set(feature_sets(connection)))


class GroupWriter:
    """Writes groups of messages, each group in as few SQLite calls as possible, and commits it.

    A group that fails is written again one message at a time, each in its own transaction, so that a message
    that cannot be written fails alone and never takes the other requests of its group with it.
    """

    def __init__(self, path: Path, synchronous: str, streams: dict[str, dict[str, Any]] | None = None) -> None:
        self.connection = connect_rw(path)
        self.connection.execute("PRAGMA journal_mode = WAL")
        self.connection.execute(f"PRAGMA synchronous = {synchronous.upper()}")
        # A multi-row INSERT inside a transaction keeps a statement journal (to undo that statement alone), in a
        # temporary file by default: the transaction then cost a 100-row group 35-50 us of CPU more than the lone
        # INSERT, ~12 us with the journal in memory (loaded machine).
        self.connection.execute("PRAGMA temp_store = MEMORY")
        upgrade(self.connection)
        self.state = _State.load(self.connection)
        self.streams = StreamMonitor(self.connection, streams) if streams else None

    def flush_streams(self, *, closing: bool = False) -> list[tuple]:
        """Feed the queued values to the streaming detectors and commit what they did (closing: also mark the log
        closed by this writer); the :class:`~driftloop.data.log_streams.StreamUpdate` tuples. A flush that fails is
        rolled back, and the detectors and their queue read back from the log."""
        if self.streams is None:
            return []
        connection = self.connection
        connection.execute("BEGIN IMMEDIATE")
        try:
            updates = (self.streams.close if closing else self.streams.flush)(time.time_ns())
            connection.execute("COMMIT")
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            self.streams.reload()
            raise
        return [tuple(vars(update).values()) for update in updates]

    def close(self) -> list[tuple]:
        """Flush the streaming detectors, checkpoint and close; what the last flush did to the detectors."""
        updates = []
        try:
            updates = self.flush_streams(closing=True)
        except sqlite3.Error:  # their values are in the log: the next writer takes them
            pass
        try:
            self.connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error:
            pass
        self.connection.close()
        return updates

    def write(self, group: list[tuple[int, str, Any]]) -> list[tuple[int, str | None, Any]]:
        """Write and commit ``group``; return ``(seq, error or None, result)`` for each message.

        All rows of the group that share a feature set go into one multi-row ``INSERT`` (chunked by SQLite's
        variable limit). A group of predictions only, with no new feature or model version, that fits one
        statement is written by that single statement, which is its own transaction. If the group fails, each of
        its messages is written again on its own (isolation: only the messages that fail alone are failed).
        """
        try:
            results = self._write_group(group)
        except Exception as error:  # noqa: BLE001 - reported per message, never acknowledged
            if len(group) > 1:
                return [outcome for message in group for outcome in self.write([message])]
            seq, kind, payload = group[0]
            if kind == "predictions" and isinstance(error, sqlite3.IntegrityError):
                taken = self._logged_ids(payload[0])
                if taken:
                    return [(seq, None, taken)]
            return [(seq, f"{type(error).__name__}: {error}", None)]
        return [(seq, None, result) for (seq, _, _), result in zip(group, results)]

    def _logged_ids(self, ids: list[str]) -> tuple[str, ...]:
        """Those of ``ids`` that the log holds already (or that ``ids`` holds twice), in their order."""
        limit = self.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
        found: set[str] = set()
        for start in range(0, len(ids), limit):
            chunk = ids[start: start + limit]
            sql = f"SELECT id FROM predictions WHERE id IN ({', '.join('?' * len(chunk))})"
            found.update(row[0] for row in self.connection.execute(sql, chunk))
        seen: set[str] = set()
        for row_id in ids:
            if row_id in seen:
                found.add(row_id)
            seen.add(row_id)
        return tuple(row_id for row_id in dict.fromkeys(ids) if row_id in found)

    def _write_group(self, group: list[tuple[int, str, Any]]) -> list[Any]:
        connection = self.connection
        results: list[Any] = [() if kind == "predictions" else None for _, kind, _ in group]
        batches = [payload for _, kind, payload in group if kind == "predictions"]
        changes = self._schema_changes(batches)
        new_sets = {(b[2], b[3]): tuple(b[4]) for b in batches if (b[2], b[3]) not in self.state.feature_sets}
        statements, batches = self._insert_statements(batches, changes)
        streamed: list[Queued] = []  # the errors of the group's feedback, queued once committed
        if len(statements) == 1 and not changes and not new_sets and len(batches) == len(group):
            connection.execute(*statements[0])
        else:
            connection.execute("BEGIN IMMEDIATE")
            try:
                self._apply_schema_changes(changes)
                if new_sets:  # (a /feedback group has none: no statement to prepare for it)
                    connection.executemany("INSERT OR IGNORE INTO feature_sets VALUES (?, ?, ?)",
                                           [(*key, json.dumps(names)) for key, names in new_sets.items()])
                for sql, parameters in statements:
                    connection.execute(sql, parameters)
                for index, (_, kind, payload) in enumerate(group):
                    if kind == "feedback":
                        results[index] = self._insert_feedback(*payload, streamed)
                connection.execute("COMMIT")
            except BaseException:
                if connection.in_transaction:  # SQLite rolls back by itself after some errors (disk full, I/O)
                    connection.execute("ROLLBACK")
                self.state = _State.load(connection)
                raise
            self.state.feature_sets.update(new_sets)
        if self.streams is not None:
            for model_name, model_version, ids, predictions in batches:  # in the order of their rows in the log
                self.streams.queue("predictions", model_name, model_version, predictions, ids)
            for item in streamed:
                self.streams.queue(*item)
        return results

    def _schema_changes(self, batches: list[tuple]) -> dict[str, tuple[str, str, bool]]:
        """``{name: (column, dtype, is_new)}`` for the features the group adds or whose dtype it widens."""
        changes: dict[str, tuple[str, str, bool]] = {}
        taken, added = set(self.state.taken), 0
        for batch in batches:
            for name, values in batch[4].items():
                dtype = dtype_name(values)
                if name in changes:
                    column, known, is_new = changes[name]
                elif name in self.state.columns:
                    (column, known), is_new = self.state.columns[name], False
                else:
                    column = column_for(len(self.state.columns) + added, taken)
                    taken.add(column.lower())
                    added += 1
                    changes[name] = (column, dtype, True)
                    continue
                if widen(known, dtype) != known:
                    changes[name] = (column, widen(known, dtype), is_new)
        return changes

    def _apply_schema_changes(self, changes: dict[str, tuple[str, str, bool]]) -> None:
        for name, (column, dtype, is_new) in changes.items():
            if is_new:
                self.connection.execute(f"ALTER TABLE predictions ADD COLUMN {quote(column)}")
                self.connection.execute("INSERT INTO features VALUES (?, ?, ?, ?)",
                                        (name, dtype, len(self.state.columns), column))
                self.state.taken.add(column.lower())
            else:
                self.connection.execute("UPDATE features SET dtype = ? WHERE name = ?", (dtype, name))
            self.state.columns[name] = (column, dtype)

    def _insert_statements(self, batches: list[tuple], changes: dict[str, tuple[str, str, bool]]
                           ) -> tuple[list[tuple[str, list[Any]]], list[tuple[str, str, list[str], list[Any]]]]:
        """The statements that insert ``batches`` (one multi-row INSERT per feature set, chunked), and the batches'
        ``(model name, model version, ids, predictions)`` in the order the statements insert their rows."""
        by_names: dict[tuple[str, ...], list[Any]] = {}
        inserted: dict[tuple[str, ...], list[tuple[str, str, list[str], list[Any]]]] = {}
        for ids, timestamp_ns, model_name, model_version, inputs, predictions in batches:
            names = tuple(inputs)
            n = len(ids)
            rows = zip(ids, repeat(timestamp_ns, n), repeat(model_name, n), repeat(model_version, n), predictions,
                       *(_sql_values(inputs[k]) for k in names))
            by_names.setdefault(names, []).extend(chain.from_iterable(rows))
            inserted.setdefault(names, []).append((model_name, model_version, ids, predictions))
        limit = self.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
        statements = []
        for names, flat in by_names.items():
            width = 5 + len(names)
            columns = ", ".join(["id", "ts", "model_name", "model_version", "prediction",
                                 *(quote((changes.get(k) or self.state.columns[k])[0]) for k in names)])
            placeholder = "(" + ", ".join("?" * width) + ")"
            per_statement = max(1, limit // width) * width
            for start in range(0, len(flat), per_statement):
                chunk = flat[start: start + per_statement]
                sql = f"INSERT INTO predictions ({columns}) VALUES " + ", ".join([placeholder] * (len(chunk) // width))
                statements.append((sql, chunk))
        return statements, [batch for group in inserted.values() for batch in group]

    def _insert_feedback(self, items: list[tuple[str, Any]], overwrite: bool, streamed: list[tuple]) -> tuple:
        """Store the labels; without ``overwrite``, none at all if one would replace a different label.

        Returns ``(accepted, orphan ids, overwritten ids, conflicting ids)``: with conflicts, nothing is written and
        ``accepted`` is 0. Every label received is appended to ``feedback`` (the history); ``labels`` keeps the latest.
        With streaming detectors, the first label of a logged prediction also records its error in ``feedback``,
        and the request's errors are appended to ``streamed`` (as :meth:`StreamMonitor.queue` takes them).
        """
        now = time.time_ns()
        execute = self.connection.execute
        changed, first, labelled = [], {}, set()  # labelled: the ids that had a label before this request
        for row_id, label in items:
            if row_id in first:
                if first[row_id] != label:
                    changed.append(row_id)
                continue
            first[row_id] = label
            row = execute("SELECT label IS NOT ? FROM labels WHERE id = ?", (label, row_id)).fetchone()
            if row is not None:
                labelled.add(row_id)
                if row[0]:
                    changed.append(row_id)
        if changed and not overwrite:
            return 0, (), (), tuple(dict.fromkeys(changed))
        ids, labels = [row_id for row_id, _ in items], [label for _, label in items]
        predicted = [execute("SELECT prediction, model_name, model_version FROM predictions WHERE id = ?",
                             (row_id,)).fetchone() for row_id in ids]
        orphan = [int(found is None) for found in predicted]
        if self.streams is None:
            self.connection.executemany("INSERT INTO feedback (id, label, ts, orphan) VALUES (?, ?, ?, ?)",
                                        zip(ids, labels, repeat(now), orphan))
        else:
            self._insert_streamed_feedback(ids, labels, now, orphan, predicted, labelled, len(first) < len(items),
                                           streamed)
        self.connection.executemany("INSERT INTO labels VALUES (?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
                                    "label = excluded.label, ts = excluded.ts", zip(ids, labels, repeat(now)))
        orphans = tuple(row_id for row_id, is_orphan in zip(ids, orphan) if is_orphan)
        return len(items), orphans, tuple(dict.fromkeys(changed)), ()

    def _insert_streamed_feedback(self, ids: list[str], labels: list[Any], now: int, orphan: list[int],
                                  predicted: list[tuple | None], labelled: set[str], repeated: bool,
                                  streamed: list[Queued]) -> None:
        """Append the labels to ``feedback`` with the error of each id's first label of a logged prediction, and
        those errors to ``streamed``. ``labelled``: the ids that had a label before this request; ``repeated``:
        whether an id comes twice in it.

        The usual request (labels of logged predictions, each for the first time) takes no Python loop per label:
        the errors come from :func:`~driftloop.data.log_streams.errors_of`, the rows go to ``executemany`` as
        columns; the errors are queued as they are, with each one's model name and version, and become an array
        (split by model version) at the flush (``BENCHMARKS.md``: the errors stream's cost per label, and per
        request).
        """
        if labelled or repeated:
            firsts = []  # the positions of the labels that feed the errors stream
            for index, (row_id, found) in enumerate(zip(ids, predicted)):
                if found is not None and row_id not in labelled:
                    labelled.add(row_id)
                    firsts.append(index)
        else:
            firsts = [index for index, found in enumerate(predicted) if found is not None]
        every = len(firsts) == len(ids)
        errors: list[float | None] = []
        column: list[float | None] = [None] * len(ids)  # the error column of each row (NULL: not streamed)
        if firsts:
            predictions, names, versions = zip(*(predicted if every else [predicted[i] for i in firsts]))
            errors = errors_of(predictions, labels if every else [labels[i] for i in firsts])
            if every:
                column = errors
            else:
                for index, error in zip(firsts, errors):
                    column[index] = error
        self.connection.executemany("INSERT INTO feedback (id, label, ts, orphan, error) VALUES (?, ?, ?, ?, ?)",
                                    zip(ids, labels, repeat(now), orphan, column))
        if firsts:  # None (a missing prediction) is skipped by the detectors
            streamed.append(("errors", names, versions, errors, ids if every else [ids[i] for i in firsts]))


def _rows(kind: str, payload: Any) -> int:
    return len(payload[0])  # the ids of predictions, the (id, label) items of feedback


def split_frames(buffer: bytearray) -> tuple[list[Any], bytearray]:
    """The complete messages at the start of ``buffer``, unpickled, and what remains of it."""
    messages, offset = [], 0
    while len(buffer) - offset >= _HEADER.size:
        size = _HEADER.unpack_from(buffer, offset)[0]
        if len(buffer) - offset - _HEADER.size < size:
            break
        start = offset + _HEADER.size
        messages.append(pickle.loads(buffer[start: start + size]))
        offset = start + size
    return messages, buffer[offset:] if offset else buffer  # a message arriving in pieces is not copied each time


def _frames(buffer: bytearray) -> tuple[list[Any], bytearray]:
    messages, rest = split_frames(buffer)
    decoded = []
    for seq, kind, payload in messages:
        if kind == "predictions":
            payload = (*payload[:4], decode_columns(payload[4]), payload[5])
        decoded.append((seq, kind, payload))
    return decoded, rest


def main(argv: list[str] | None = None) -> int:
    """The child: read messages from stdin, write them in groups, acknowledge each group on stdout.

    One thread: it blocks until input arrives, then takes everything waiting in the pipe (what arrived while the
    previous group was being committed) as the next group. With streaming detectors and values queued, it waits at
    most until they are due (:meth:`~driftloop.data.log_streams.StreamMonitor.due`), then flushes them.
    """
    path, synchronous, max_group_rows, streams = (argv if argv is not None else sys.argv[1:])[:4]
    # Ctrl+C reaches the whole process group, a service manager may signal it too: the writer stops only when its
    # parent closes the pipe (or dies), after writing everything the parent sent.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    stdin_fd, stdout = sys.stdin.buffer.fileno(), sys.stdout.buffer
    sys.stdout = sys.stderr  # nothing but messages may reach the parent's pipe
    try:
        writer = GroupWriter(Path(path), synchronous, streams=json.loads(streams))
    except Exception as error:  # noqa: BLE001 - reported to the parent
        send_message(stdout, ("error", f"{type(error).__name__}: {error}"))
        return 1
    send_message(stdout, ("ready", None))
    limit = int(max_group_rows)
    buffer = bytearray()
    # One read buffer for the writer's life: os.read(fd, 1 MiB) maps a new one, shrinks it and unmaps it for every
    # read (three system calls and page faults per request, ~10 % of the writer's CPU on 1-label requests).
    chunk = bytearray(1 << 20)
    ended = False
    while not ended:
        due = writer.streams.due() if writer.streams is not None else None  # None: nothing queued
        if due is not None and (due <= 0 or not select.select([stdin_fd], [], [], due)[0]):
            try:  # the queued values waited FLUSH_SECONDS (under traffic, or with no input meanwhile)
                _send(stdout, ("streams", writer.flush_streams()))
            except sqlite3.Error as error:  # their values are in the log: queued again, for the next flush
                print(f"driftloop log writer: the streaming detectors could not save their state: {error}",
                      file=sys.stderr)
            continue
        size = os.readv(stdin_fd, [chunk])  # blocks until the parent sends (all it has sent), or closes the pipe
        ended = not size
        buffer += memoryview(chunk)[:size]
        messages, buffer = _frames(buffer)
        while messages:
            group, rows = [], 0
            while messages and (not group or rows < limit):
                message = messages.pop(0)
                group.append(message)
                rows += _rows(message[1], message[2])
            started = time.perf_counter()
            outcome = writer.write(group)
            _send(stdout, ("done", outcome, rows, time.perf_counter() - started))
    _send(stdout, ("streams", writer.close()))
    return 0


def _send(stdout: BinaryIO, message: Any) -> None:
    try:
        send_message(stdout, message)
    except OSError:  # the parent is gone: what the message reports is committed all the same
        pass


if __name__ == "__main__":
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    sys.exit(main())

"""The tables of the inference log, the names of its feature columns, and the upgrade of logs of an older layout.

Layout version 2 (one SQLite file)::

    meta(key, value)                          format marker and layout version
    features(name, dtype, position, column)   one row per input feature ever logged: its name as the model and the
                                              client know it, its numpy dtype, and the SQL column that holds it
    feature_sets(model_name, model_version, names)
                                              the features each model version logs (JSON list), fixed by the
                                              first request it logged
    predictions(seq, id, ts, model_name, model_version, prediction, f0, f1, ...)
    feedback(seq, id, label, ts, orphan)      every label received, append-only (the history of each id's labels)
    labels(id, label, ts)                     the latest label of each id (what readers join)
    stream_state, stream_events               the streaming detectors' state and detections
                                              (:mod:`driftloop.data.log_streams`; created by the writer)

A feature is stored under a column name of the log's choosing (``f<position>``), never under its own name: SQLite
compares column names case-insensitively, so a feature named ``ts``, ``seq`` or ``Id`` would collide with the log's
own columns, and ``A`` with ``a``. Any feature name is therefore possible; :func:`feature_columns` gives the mapping.

Layout version 1 (driftloop before this module) stored each feature under its own name and had no ``column`` nor
``feature_sets``. It is read as it is, and upgraded in place by :func:`upgrade` when a writer opens it: its columns
keep their names (they were valid, or the log could not have been written) and new features get ``f<n>`` names.
"""

from __future__ import annotations

import json
import sqlite3

from driftloop.errors import DriftloopError

FORMAT_NAME = "driftloop-inference-log"
FORMAT_VERSION = "2"
INTERNAL_COLUMNS = ("seq", "id", "ts", "model_name", "model_version", "prediction")
"""The columns of ``predictions`` that are not features."""

_FEATURE_SETS = """CREATE TABLE IF NOT EXISTS feature_sets (
    model_name TEXT NOT NULL, model_version TEXT NOT NULL, names TEXT NOT NULL,
    PRIMARY KEY (model_name, model_version)
)"""
SCHEMA = _FEATURE_SETS + """;
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS features (
    name TEXT PRIMARY KEY, dtype TEXT NOT NULL, position INTEGER NOT NULL, "column" TEXT NOT NULL
);
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


def layout_version(connection: sqlite3.Connection) -> str:
    """The log's layout version, ``"1"`` or ``"2"``; a newer one (a later driftloop wrote it) is refused."""
    row = connection.execute("SELECT value FROM meta WHERE key = 'version'").fetchone()
    version = "1" if row is None else row[0]
    if version not in ("1", FORMAT_VERSION):
        raise DriftloopError(f"The inference log has layout version {version}, which this driftloop cannot read "
                             f"(it reads 1 and {FORMAT_VERSION}); upgrade driftloop.")
    return version


def feature_columns(connection: sqlite3.Connection) -> list[tuple[str, str, str]]:
    """``(name, column, dtype)`` of every feature of the log, in the order they were first logged."""
    if layout_version(connection) == "1":
        return [(name, name, dtype)
                for name, dtype in connection.execute("SELECT name, dtype FROM features ORDER BY position")]
    return connection.execute('SELECT name, "column", dtype FROM features ORDER BY position').fetchall()


def column_for(position: int, taken: set[str]) -> str:
    """The SQL column of the feature at ``position``: ``f<position>``, with leading ``_`` while it would collide
    (case-insensitively) with a column in ``taken`` (lower-cased names; only an upgraded layout-1 log has others).

    >>> column_for(3, {"seq", "id"}), column_for(3, {"f3"})
    ('f3', '_f3')
    """
    column = f"f{position}"
    while column.lower() in taken:
        column = "_" + column
    return column


def upgrade(connection: sqlite3.Connection) -> bool:
    """Bring a layout-1 log to layout 2 in one transaction (no row is rewritten); ``True`` if it did."""
    if layout_version(connection) != "1":
        return False
    connection.execute("BEGIN IMMEDIATE")
    try:
        if layout_version(connection) == "1":  # not upgraded meanwhile by another process
            connection.execute('ALTER TABLE features ADD COLUMN "column" TEXT')
            connection.execute('UPDATE features SET "column" = name')
            connection.execute(_FEATURE_SETS)
            connection.execute("INSERT OR REPLACE INTO meta VALUES ('version', ?)", (FORMAT_VERSION,))
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    return True


def feature_sets(connection: sqlite3.Connection) -> dict[tuple[str, str], tuple[str, ...]]:
    """The features each model version logs: ``{(model_name, model_version): names}`` (empty for layout 1)."""
    if layout_version(connection) == "1":
        return {}
    return {(model_name, model_version): tuple(json.loads(names))
            for model_name, model_version, names in connection.execute("SELECT * FROM feature_sets")}

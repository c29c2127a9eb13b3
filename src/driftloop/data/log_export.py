"""The inference logs of several service replicas as one dataset: Parquet partitions by UTC date and replica, with
the labels each replica received for predictions that another replica served.

Behind a load balancer, each ``driftloop serve`` replica writes its own inference log, and the feedback for a
prediction may reach another replica than the one that served it: that replica keeps the label as an *orphan* (a
label whose id it never served). Row ids are UUID version 7 (74 random bits), so ids are unique across replicas and
an orphan label finds its prediction once the logs are read together.

Layout of an export folder (every replica exports into the same folder, at any time, as often as wanted)::

    _driftloop_export.json                        marker: what the folder is (format, version)
    date=YYYY-MM-DD/replica=R/part-0.parquet      the predictions replica R served that day, with the labels it
                                                  holds for them (:func:`read_inference_log`'s columns)
    _labels/replica=R/part-0.parquet              R's orphan labels: id, label, label_timestamp
    _streams/replica=R/detectors.parquet          the streaming detectors R's writer ran (:func:`read_stream_detectors`;
                                                  ``parameters`` as JSON text)
    _streams/replica=R/events.parquet             their detections (:func:`read_stream_events`)

Re-exporting a replica rewrites its partitions whole (a temporary file renamed over the old one): labels that
arrived since are included and nothing is duplicated. Each file records the id of the log it came from (Parquet
metadata ``driftloop.log_id``; the log keeps its id in its ``meta`` table), so two logs exported under one replica
name cannot overwrite each other's rows: the second export is refused.

:func:`read_log_export` reads the union: every replica's predictions, each row's label being the latest one
received by any replica (by label timestamp). The partition keys are not added as columns (a feature may be named
``date``); the rows' own ``timestamp`` carries the date. :func:`read_export_stream_detectors` and
:func:`read_export_stream_events` read the union of the replicas' streaming detectors and detections (a detection
names the row id whose value set it off, unique across replicas), so that ``driftloop monitor`` on the export
reports the ``stream/<detector>/<signal>`` metrics and reasons as on a single log.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from driftloop.data.inference_log import (
    is_inference_log,
    read_inference_log,
    read_labels,
    read_stream_detectors,
    read_stream_events,
)
from driftloop.errors import DriftloopError

MARKER = "_driftloop_export.json"
FORMAT = {"format": "driftloop-inference-log-export", "version": 1}
LABELS_FOLDER = "_labels"
STREAMS_FOLDER = "_streams"
LOG_ID_KEY = b"driftloop.log_id"
_REPLICA_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def log_id(path: str | os.PathLike[str]) -> str:
    """The id of the inference log at ``path`` (32 hex digits, in its ``meta`` table), given to it on first use."""
    target = Path(path)
    if not is_inference_log(target):
        raise DriftloopError(f"{str(path)!r} is not a driftloop inference log.")
    connection = sqlite3.connect(target, timeout=30)
    try:
        with connection:
            connection.execute("INSERT OR IGNORE INTO meta VALUES ('log_id', ?)", (uuid.uuid4().hex,))
        return connection.execute("SELECT value FROM meta WHERE key = 'log_id'").fetchone()[0]
    except sqlite3.Error as error:
        raise DriftloopError(f"Cannot read the id of the inference log {str(path)!r}: {error}.") from None
    finally:
        connection.close()


@dataclass(frozen=True)
class Export:
    """What :func:`export_log` wrote: the replica's name, the files (prediction partitions, then labels) and the
    streaming detectors' files (detectors, detections) with the number of detections."""

    replica: str
    files: list[Path]
    stream_files: list[Path]
    detections: int


def export_log(path: str | os.PathLike[str], to_dir: str | os.PathLike[str], replica: str | None = None) -> Export:
    """Write the inference log at ``path`` into the export folder ``to_dir`` as replica ``replica`` (default: the
    first 12 digits of the log's id); see the module docstring for the layout."""
    identity = log_id(path)
    replica = replica or identity[:12]
    if not _REPLICA_NAME.fullmatch(replica):
        raise DriftloopError(f"The replica name must be 1-100 letters, digits, '.', '_' or '-', starting with a letter "
                             f"or digit; got {replica!r}.")
    out = Path(to_dir)
    if out.exists() and not out.is_dir():
        raise DriftloopError(f"The export destination {str(to_dir)!r} exists and is not a folder.")
    old_layout = sorted(out.glob("date=*/*.parquet")) if out.is_dir() else []
    if old_layout:
        raise DriftloopError(f"{str(to_dir)!r} holds an export in the layout before replicas ({old_layout[0]}): "
                             "export into a new folder (or delete the old partitions).")
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text(json.dumps(FORMAT) + "\n")
    frame = read_inference_log(path)
    labels = read_labels(path)
    files = []
    days = frame["timestamp"].dt.floor("D")
    for day in sorted(days.unique()):
        name = datetime.fromtimestamp(day.value // 10**9, tz=timezone.utc).strftime("%Y-%m-%d")
        rows = frame[days == day]
        files.append(_write(rows, out / f"date={name}" / f"replica={replica}" / "part-0.parquet", identity, replica))
    orphans = labels[~labels["id"].isin(frame["id"])]
    files.append(_write(orphans, out / LABELS_FOLDER / f"replica={replica}" / "part-0.parquet", identity, replica))
    streams = out / STREAMS_FOLDER / f"replica={replica}"
    detectors = read_stream_detectors(path)
    detectors["parameters"] = [json.dumps(parameters, sort_keys=True) for parameters in detectors["parameters"]]
    events = read_stream_events(path)
    stream_files = [_write(detectors, streams / "detectors.parquet", identity, replica),
                    _write(events, streams / "events.parquet", identity, replica)]
    return Export(replica, files, stream_files, len(events))


def _write(frame: pd.DataFrame, final: Path, identity: str, replica: str) -> Path:
    """Write ``frame`` to ``final`` (atomically), unless ``final`` was written from another log."""
    if final.exists():
        written_by = (pq.read_schema(final).metadata or {}).get(LOG_ID_KEY, b"").decode()
        if written_by != identity:
            raise DriftloopError(
                f"Replica {replica!r} of this export was written from another inference log (id {written_by or '?'}, "
                f"this log's id is {identity}): give each replica its own --replica name."
            )
    final.parent.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pandas(frame.reset_index(drop=True), preserve_index=False)
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), LOG_ID_KEY: identity.encode()})
    temporary = final.with_name(f".{final.name}.{os.getpid()}.tmp")
    pq.write_table(table, temporary)
    os.replace(temporary, final)
    return final


def is_log_export(folder: str | os.PathLike[str]) -> bool:
    """Whether ``folder`` is an export folder written by :func:`export_log`."""
    return (Path(folder) / MARKER).is_file()


def read_log_export(folder: str | os.PathLike[str]) -> pd.DataFrame:
    """The union of the replicas in the export ``folder``: every prediction once, in timestamp order, each with the
    latest label any replica received for it. ``attrs["unmatched_labels"]`` counts the orphan labels whose
    prediction is in no exported replica (its replica not exported yet, or feedback for an unknown id)."""
    root = Path(folder)
    parts = sorted(root.glob("date=*/replica=*/part-0.parquet"))
    frame = (pd.concat([pd.read_parquet(part) for part in parts], ignore_index=True) if parts
             else pd.DataFrame(columns=["id", "timestamp", "model_name", "model_version", "prediction", "label",
                                        "label_timestamp"]))
    repeated = frame["id"].duplicated(keep=False)
    if repeated.any():
        example = frame.loc[repeated, "id"].iloc[0]
        raise DriftloopError(f"The export {str(folder)!r} holds {int(repeated.sum())} rows whose id another row has "
                             f"too, such as {example!r}: two replicas exported the same log under different names?")
    label_parts = sorted((root / LABELS_FOLDER).glob("replica=*/part-0.parquet"))
    orphans = pd.concat([pd.read_parquet(part) for part in label_parts], ignore_index=True) if label_parts else None
    unmatched = 0
    if orphans is not None and len(orphans):
        latest = orphans.sort_values("label_timestamp", kind="stable").drop_duplicates("id", keep="last")
        known = latest["id"].isin(frame["id"])
        unmatched = int((~known).sum())
        latest = latest[known].set_index("id")
        incoming = frame["id"].map(latest["label_timestamp"])
        newer = incoming.notna() & (frame["label_timestamp"].isna() | (incoming > frame["label_timestamp"]))
        if newer.any():
            if frame["label"].dtype != object and latest["label"].dtype == object:
                frame["label"] = frame["label"].astype(object)
            frame.loc[newer, "label"] = frame.loc[newer, "id"].map(latest["label"]).to_numpy()
            frame.loc[newer, "label_timestamp"] = incoming[newer].to_numpy()
    frame = frame.sort_values("timestamp", kind="stable").reset_index(drop=True)
    frame.attrs["unmatched_labels"] = unmatched
    return frame


def read_export_stream_detectors(folder: str | os.PathLike[str]) -> pd.DataFrame:
    """The streaming detectors every exported replica ran: :func:`read_stream_detectors`'s columns and ``replica``;
    empty for an export without them (replicas without detectors, or exported by an earlier driftloop)."""
    frame = _read_stream_parts(folder, "detectors.parquet")
    if frame is None:
        return pd.DataFrame(columns=["model_name", "model_version", "signal", "detector", "parameters", "n_values",
                                     "n_detections", "replica"])
    frame["parameters"] = [json.loads(text) for text in frame["parameters"]]
    return frame


def read_export_stream_events(folder: str | os.PathLike[str]) -> pd.DataFrame:
    """The detections of every exported replica's streaming detectors, oldest first: :func:`read_stream_events`'s
    columns and ``replica`` (``position`` counts the values of that replica's stream)."""
    frame = _read_stream_parts(folder, "events.parquet")
    if frame is None:
        return pd.DataFrame({"timestamp": pd.Series(dtype="datetime64[ns, UTC]"), "model_name": [], "model_version": [],
                             "signal": [], "detector": [], "position": pd.Series(dtype="int64"), "row_id": [],
                             "replica": []})
    return frame.sort_values("timestamp", kind="stable").reset_index(drop=True)


def _read_stream_parts(folder: str | os.PathLike[str], name: str) -> pd.DataFrame | None:
    """The replicas' ``name`` files under ``_streams``, one frame with a ``replica`` column; None without any."""
    frames = []
    for part in sorted((Path(folder) / STREAMS_FOLDER).glob(f"replica=*/{name}")):
        frame = pd.read_parquet(part)
        frame["replica"] = part.parent.name.split("=", 1)[1]
        frames.append(frame)
    frames = [frame for frame in frames if len(frame)]
    return pd.concat(frames, ignore_index=True) if frames else None

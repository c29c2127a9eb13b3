"""MLflow metric names for window metrics about columns: any column name a pandas frame can hold.

A window metric about a column is keyed ``<group>/<column>/<statistic>`` (group ``drift`` or ``quality``, see
:mod:`driftloop.monitor.engine`); the column part is the column's name as the user wrote it (``temp (°C)``,
``price ($)``, ``km/h``), and the report, the JSON output and the alert rules use these keys. MLflow is stricter
(``mlflow/utils/validation.py``, MLflow 3):

* a metric name may only hold alphanumerics, ``_``, ``-``, ``.``, space, ``/`` (and ``:`` except on Windows);
* it must be unchanged by ``posixpath.normpath`` (no empty, ``.`` or ``..`` path part, no leading ``/``);
* it is at most 250 characters (``MAX_ENTITY_KEY_LENGTH``; the SQL store's ``metrics.key`` is ``VARCHAR(250)``);
* the file store (``./mlruns``) writes each metric to a file named after it, and MySQL compares keys ignoring case
  and accents, so two names that differ only in case (``Temp``/``temp``) or accents are one metric there.

Mapping. Each column gets a *segment* of at most :data:`MAX_SEGMENT` characters, used in place of the column in
the MLflow metric name ``<group>/<segment>/<statistic>``; the other metrics (``performance/mae``, ``drift/share``)
keep their names. Segments are given to the columns of a run in one deterministic pass, and kept once given:

1. A column keeps its name when it is *plain*: ASCII letters, digits, ``_``, ``-``, ``.`` and spaces, starting and
   ending with a letter, digit or ``_``, at most :data:`MAX_SEGMENT` characters — and no column before it (in code
   point order) took that segment ignoring case. ``fixed acidity`` stays ``fixed acidity``.
2. Every other column gets a *slug*: decomposed (NFKD), accents dropped, each run of other characters replaced by
   one ``_``, ``_`` trimmed at both ends, cut to leave room for a suffix (``column`` when nothing is left); then
   ``-2``, ``-3``, ... is appended until no segment given so far equals it ignoring case.
   ``temp (°C)`` becomes ``temp_C``, ``price ($)`` becomes ``price``, ``名前`` becomes ``column``.

So the mapping is injective, also ignoring case and accents (segments are ASCII), and every MLflow name it makes is
valid on every store. It is recorded with the run as the artifact ``metric_names.json`` (``{"columns": {column:
segment}}``) so that the original name of every metric can be read back (:meth:`MetricNames.column`), and read
again on the next pass so that a column keeps its segment.
"""

from __future__ import annotations

import json
import re
import tempfile
import unicodedata
from collections.abc import Iterable, Mapping
from pathlib import Path

from mlflow import MlflowClient

COLUMN_GROUPS = ("drift", "quality")
"""The metric groups whose keys are ``<group>/<column>/<statistic>``."""
MAX_SEGMENT = 64
"""Longest segment: leaves room for the group and the statistic within MLflow's 250 characters."""
ARTIFACT = "metric_names.json"

_PLAIN = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_ .-]*[A-Za-z0-9_])?")
_OTHER = re.compile(r"[^A-Za-z0-9_.-]+")


def column_of(key: str) -> str | None:
    """The column a window metric key is about, or None for the other metrics.

    >>> column_of("drift/km/h/ks"), column_of("quality/temp (°C)/missing_rate"), column_of("drift/share")
    ('km/h', 'temp (°C)', None)
    """
    group, separator, rest = key.partition("/")
    if group not in COLUMN_GROUPS or not separator or "/" not in rest:
        return None
    return rest.rsplit("/", 1)[0]


def slug(column: str) -> str:
    """The ASCII stem of a column's segment (step 2 of the module docstring), before any ``-N`` suffix.

    >>> slug("temp (°C)"), slug("price ($)"), slug("Höhe/Weite"), slug("名前"), slug("..")
    ('temp_C', 'price', 'Hohe_Weite', 'column', 'column')
    """
    ascii_only = unicodedata.normalize("NFKD", column).encode("ascii", "ignore").decode("ascii")
    stem = _OTHER.sub("_", ascii_only).strip("_.-")
    stem = stem[: MAX_SEGMENT - 8].rstrip("_.-")  # room for "-" and a counter
    return stem or "column"


class MetricNames:
    """The segments of the columns of one run (see the module docstring), column -> segment.

    >>> names = MetricNames()
    >>> names.add(["drift/temp/ks", "drift/Temp/ks", "drift/temp (°C)/ks", "drift/a/b/ks", "drift/share/ks",
    ...            "drift/share", "rows"])
    >>> names.metric("drift/temp (°C)/ks"), names.metric("drift/Temp/ks"), names.metric("rows")
    ('drift/temp_C/ks', 'drift/Temp/ks', 'rows')
    >>> names.metric("drift/temp/ks"), names.metric("drift/a/b/ks"), names.metric("drift/share/ks")
    ('drift/temp-2/ks', 'drift/a_b/ks', 'drift/share-2/ks')
    >>> names.column("temp-2")
    'temp'
    """

    def __init__(self, segments: Mapping[str, str] | None = None) -> None:
        self.segments: dict[str, str] = dict(segments or {})
        self._taken = {segment.lower() for segment in self.segments.values()}

    def add(self, keys: Iterable[str]) -> None:
        """Give a segment to each column of these window metric keys that has none yet (plain names first, then
        the others, each in code point order).

        The second part of a group's own metrics (``share`` of ``drift/share``) is never given to a column: the
        file store writes ``drift/share`` as a file, so it cannot also be the folder of ``drift/share/ks``.
        """
        keys = list(keys)
        columns = {column_of(key) for key in keys} - {None}
        self._taken |= {key.split("/", 1)[1].lower() for key in keys
                        if column_of(key) is None and key.split("/", 1)[0] in COLUMN_GROUPS and "/" in key}
        later = []
        for column in sorted(c for c in columns if c not in self.segments):
            if _PLAIN.fullmatch(column) and len(column) <= MAX_SEGMENT and column.lower() not in self._taken:
                self._give(column, column)
            else:
                later.append(column)
        for column in later:
            stem = candidate = slug(column)
            count = 1
            while candidate.lower() in self._taken:
                count += 1
                candidate = f"{stem}-{count}"
            self._give(column, candidate)

    def _give(self, column: str, segment: str) -> None:
        self.segments[column] = segment
        self._taken.add(segment.lower())

    def metric(self, key: str) -> str:
        """The MLflow metric name of a window metric key (its column must have been added)."""
        column = column_of(key)
        if column is None:
            return key
        group = key.split("/", 1)[0]
        statistic = key.rsplit("/", 1)[1]
        return f"{group}/{self.segments[column]}/{statistic}"

    def column(self, segment: str) -> str:
        """The column a segment stands for (the mapping read backwards)."""
        for column, given in self.segments.items():
            if given == segment:
                return column
        raise KeyError(segment)

    def to_json(self) -> str:
        return json.dumps({"columns": self.segments}, ensure_ascii=False, indent=1)

    @classmethod
    def from_json(cls, text: str) -> MetricNames:
        return cls(json.loads(text)["columns"])


def read_metric_names(client: MlflowClient, run_id: str) -> MetricNames:
    """The mapping recorded with the run, or an empty one when none was recorded yet."""
    with tempfile.TemporaryDirectory(prefix="driftloop-names-") as folder:
        try:
            path = client.download_artifacts(run_id, ARTIFACT, folder)
        except Exception:  # nothing recorded yet: MLflow raises a store-specific error for a missing path
            return MetricNames()
        return MetricNames.from_json(Path(path).read_text(encoding="utf-8"))


def record_metric_names(client: MlflowClient, run_id: str, names: MetricNames) -> None:
    """Record the mapping with the run (artifact ``metric_names.json``)."""
    with tempfile.TemporaryDirectory(prefix="driftloop-names-") as folder:
        path = Path(folder) / ARTIFACT
        path.write_text(names.to_json(), encoding="utf-8")
        client.log_artifact(run_id, str(path))

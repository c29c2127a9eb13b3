"""MLflow's scoring formats, parsed into columns.

The four JSON formats of ``mlflow models serve`` are accepted, each under its key, with optional ``params``::

    {"dataframe_split": {"columns": ["a", "b"], "data": [[1, 2], [3, 4]]}}
    {"dataframe_records": [{"a": 1, "b": 2}, {"a": 3, "b": 4}]}
    {"instances": [{"a": 1, "b": 2}]}      # or rows as lists, in the signature's column order
    {"inputs": {"a": [1, 3], "b": [2, 4]}}  # columnar, or a list as for "instances"

and CSV with a header line (``Content-Type: text/csv``), as MLflow's scoring server reads it.

The result is one Python list per column (transposed with C-level ``zip``, not cell by cell), which the signature
validator turns into numpy arrays. A value absent from a record is :data:`MISSING`. A request may name at most
``max_columns`` columns (checked before any transposing); every step is linear in the size of the request.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

import pandas as pd

from driftloop.serve.errors import BadRequest, CellError, InvalidInput, describe
from driftloop.serve.limits import RequestLimits

FORMATS = ("dataframe_split", "dataframe_records", "instances", "inputs")
MISSING: Any = type("Missing", (), {"__repr__": lambda self: "MISSING"})()
"""Marks a value absent from a record (told apart from an explicit ``null``)."""
_NUMERIC_TYPES = ("double", "float", "long", "integer")


@dataclass(frozen=True)
class ParsedInput:
    """A request's rows as columns: ``columns[name]`` is the list of that column's values, ``n_rows`` long."""

    columns: dict[str, list[Any]]
    n_rows: int
    params: dict[str, Any] | None
    format: str


def parse_payload(payload: Any, names: list[str] | None, max_columns: int = RequestLimits.max_columns, *,
                  other_keys: bool = False) -> ParsedInput:
    """Split a decoded request into columns; ``names`` is the signature's column order (for rows given as lists).

    A key besides the format's and ``params`` is refused, unless ``other_keys`` is true: then it is ignored, as
    MLflow's scoring server ignores it (``/invocations``).

    >>> parse_payload({"dataframe_split": {"columns": ["a", "b"], "data": [[1, 2], [3, 4]]}}, None).columns
    {'a': [1, 3], 'b': [2, 4]}
    >>> parse_payload({"inputs": [[1, 2]]}, ["a", "b"]).columns
    {'a': [1], 'b': [2]}
    """
    if not isinstance(payload, dict):
        raise BadRequest(
            f"The body must be a JSON object with one of the keys {', '.join(FORMATS)}; got a JSON {_kind(payload)}."
        )
    keys = [key for key in payload if key in FORMATS]
    unknown = [] if other_keys else [key for key in payload if key not in FORMATS and key != "params"]
    if len(keys) != 1 or unknown:
        raise BadRequest(f"The body must have exactly one of the keys {', '.join(FORMATS)} (and optionally "
                         f"'params'); got {listed(payload) or 'no key'}.")
    params = payload.get("params")
    if params is not None and not isinstance(params, dict):
        raise BadRequest(f"'params' must be a JSON object; got a JSON {_kind(params)}.")
    key = keys[0]
    value = payload[key]
    if key == "dataframe_split":
        columns, n_rows = _from_split(value, names, max_columns)
    elif key == "dataframe_records":
        if not isinstance(value, list):
            raise BadRequest(f"'dataframe_records' must be a list of records; got a JSON {_kind(value)}.")
        columns, n_rows = _from_records(value, names, max_columns)
    elif isinstance(value, dict):
        _check_width(len(value), repr(key), max_columns)
        columns, n_rows = _from_columnar(value, key)
    elif isinstance(value, list):
        columns, n_rows = _from_list(value, names, key, max_columns)
    else:
        raise BadRequest(f"{key!r} must be a list of rows or an object of columns; got a JSON {_kind(value)}.")
    if n_rows == 0:
        raise BadRequest("The request holds no rows.")
    return ParsedInput(columns, n_rows, params, key)


def parse_csv(body: bytes, types: Mapping[str, str] | None,
              max_columns: int = RequestLimits.max_columns) -> ParsedInput:
    """Split a CSV body (a header line, then one line per row) into columns.

    ``types`` maps the signature's columns to their types: CSV holds text, so a cell of a numeric column becomes a
    number where it reads as one (else it stays text, for the validator to name), ``true``/``false`` become booleans
    in a boolean column, and an empty cell is null. Without a signature, pandas infers the types as MLflow does.

    >>> parse_csv(b"a,b,c\\n1,x,true\\n2.5,,false\\n", {"a": "double", "b": "string", "c": "boolean"}).columns
    {'a': [1.0, 2.5], 'b': ['x', None], 'c': [True, False]}
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise BadRequest(f"The CSV body is not UTF-8 text: {error}.") from None
    header = next(csv.reader(io.StringIO(text)), None)
    if not header:
        raise BadRequest("The CSV body has no header line naming the columns.")
    _check_names(header, "The CSV header", max_columns)
    try:
        if types is None:
            frame = pd.read_csv(io.StringIO(text))
        else:
            frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    except (ValueError, pd.errors.ParserError) as error:
        raise BadRequest(f"The body is not valid CSV: {str(error).strip().splitlines()[0][:200]}.") from None
    if types is None:
        columns = {name: frame[name].astype(object).where(frame[name].notna(), None).tolist() for name in frame}
    else:
        columns = {name: _typed_cells(frame[name], types.get(name)) for name in frame}
    if len(frame) == 0:
        raise BadRequest("The request holds no rows.")
    return ParsedInput(columns, len(frame), None, "csv")


def _typed_cells(text: pd.Series, kind: str | None) -> list[Any]:
    """A CSV column (text) as the values of a signature type: see :func:`parse_csv`."""
    empty = (text == "").to_numpy()
    cells = text.to_numpy(dtype=object, copy=True)
    if kind in _NUMERIC_TYPES:
        numbers = pd.to_numeric(text.where(~empty), errors="coerce").to_numpy(dtype=object)
        readable = pd.notna(numbers)
        cells[readable] = numbers[readable]
    elif kind == "boolean":
        lowered = text.str.lower().to_numpy()
        cells[lowered == "true"] = True
        cells[lowered == "false"] = False
    cells[empty] = None
    return cells.tolist()


def listed(names: Iterable[Any], most: int = 8) -> str:
    """Names for a message: the first ``most``, then how many in all (a message stays one short line).

    >>> listed(["a", "b"]), listed(map(str, range(20)), 3)
    ("'a', 'b'", "'0', '1', '2', ... (20 in all)")
    """
    names = list(names)
    shown = ", ".join(repr(name)[:40] for name in names[:most])
    return shown + (f", ... ({len(names)} in all)" if len(names) > most else "")


def _kind(value: Any) -> str:
    return describe(value).rsplit("(", 1)[-1].rstrip(")") if value is not None else "null"


def _check_width(count: int, where: str, max_columns: int) -> None:
    if count > max_columns:
        raise BadRequest(f"{where} names {count} columns; the limit is {max_columns} (--max-columns).")


def _check_names(columns: Any, where: str, max_columns: int) -> list[str]:
    if not isinstance(columns, list) or not all(isinstance(name, str) for name in columns):
        raise BadRequest(f"{where} must be a list of column names (strings); got {describe(columns)}.")
    _check_width(len(columns), where, max_columns)
    if len(set(columns)) != len(columns):
        duplicated = [name for name, count in Counter(columns).items() if count > 1]
        raise BadRequest(f"{where} names a column more than once: {listed(duplicated)}.")
    return columns


def _from_rows(rows: list[Any], names: list[str]) -> tuple[dict[str, list[Any]], int]:
    """Rows given as lists, in the order of ``names``: transposed in C when every row is a list of the right width."""
    if set(map(type, rows)) != {list} or set(map(len, rows)) != {len(names)}:
        for index, row in enumerate(rows):
            if not isinstance(row, list):
                raise InvalidInput([CellError(index, None, f"a row given as a list of {len(names)} values",
                                              describe(row))])
            if len(row) != len(names):
                raise InvalidInput([CellError(index, None, f"{len(names)} values (columns {listed(names)})",
                                              f"{len(row)} values")])
    return dict(zip(names, map(list, zip(*rows)))) if rows else {name: [] for name in names}, len(rows)


def _from_split(value: Any, names: list[str] | None, max_columns: int) -> tuple[dict[str, list[Any]], int]:
    if not isinstance(value, dict) or "data" not in value:
        raise BadRequest(f"'dataframe_split' must be an object with 'columns' and 'data'; got {describe(value)}.")
    data = value["data"]
    if not isinstance(data, list):
        raise BadRequest(f"'dataframe_split.data' must be a list of rows; got {describe(data)}.")
    if "columns" in value:
        columns = _check_names(value["columns"], "'dataframe_split.columns'", max_columns)
    elif names is not None:
        columns = names
    else:
        raise BadRequest("'dataframe_split' needs 'columns': the model has no signature to name them.")
    return _from_rows(data, columns)


def _from_records(records: list[Any], names: list[str] | None,
                  max_columns: int) -> tuple[dict[str, list[Any]], int]:
    if not records:
        return {}, 0
    if set(map(type, records)) != {dict}:
        index = next(i for i, record in enumerate(records) if not isinstance(record, dict))
        raise InvalidInput([CellError(index, None, "a record (a JSON object of column: value)",
                                      describe(records[index]))])
    if names is None:
        _check_width(len(records[0]), "The first record", max_columns)
    wanted = names if names is not None else list(records[0])
    if not wanted:
        return {}, len(records)
    getter = itemgetter(*wanted)
    try:
        values = list(map(getter, records))
    except KeyError:  # some record lacks a column: marked MISSING, cell by cell
        return {name: [record.get(name, MISSING) for record in records] for name in wanted}, len(records)
    if len(wanted) == 1:
        return {wanted[0]: values}, len(records)
    return dict(zip(wanted, map(list, zip(*values)))), len(records)


def _from_columnar(value: dict[str, Any], key: str) -> tuple[dict[str, list[Any]], int]:
    if all(not isinstance(column, list) for column in value.values()):
        return {name: [column] for name, column in value.items()}, 1 if value else 0
    lengths = {name: len(column) if isinstance(column, list) else None for name, column in value.items()}
    sizes = set(lengths.values())
    if len(sizes) != 1 or None in sizes:
        detail = ", ".join(f"{name[:40]!r}: {'not a list' if n is None else n}"
                           for name, n in list(lengths.items())[:8])
        raise BadRequest(f"{key!r} given as columns needs lists of equal length; got {detail}.")
    return dict(value), sizes.pop()


def _from_list(value: list[Any], names: list[str] | None, key: str,
               max_columns: int) -> tuple[dict[str, list[Any]], int]:
    if not value:
        return {}, 0
    first = value[0]
    if isinstance(first, dict):
        return _from_records(value, names, max_columns)
    if names is None:
        raise BadRequest(f"{key!r} given as lists of values needs column names: the model has no signature; send "
                         "records or 'dataframe_split' with 'columns'.")
    if isinstance(first, list):
        return _from_rows(value, names)
    if len(names) == 1:  # a list of scalars for a one-column model
        return {names[0]: list(value)}, len(value)
    raise InvalidInput([CellError(0, None, f"a row: a list of {len(names)} values or a record", describe(first))])

"""What the inference log can store, checked before a message reaches its writer.

The writer commits the messages of many requests together (group commit); a value SQLite cannot bind (an integer
beyond 64 bits, a nested object, a string that is not valid Unicode) would fail the whole group. So every message is
checked here, in the caller, and refused with :class:`UnloggableInput` (one row, one column, what was expected, what
was received), which the service answers with 422.

The features a model version logs are fixed by the first request it logs (:class:`FeatureSets`): for a model
with a signature that is the signature's columns; for a model without one, the columns of its first request. A
later request of that version with other columns is refused, so that clients cannot grow the log's table.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from driftloop.errors import DriftloopError

RESERVED_COLUMNS = ("id", "timestamp", "model_name", "model_version", "prediction", "label", "label_timestamp")
"""Columns of :func:`~driftloop.data.inference_log.read_inference_log`'s frame: no feature may take these names."""
MAX_FEATURES = 1000
"""Most feature columns one log holds, over all model versions (SQLite allows 2000 columns in a table)."""
INT64_RANGE = (-(2**63), 2**63 - 1)
_SCALARS = frozenset({type(None), bool, int, float, str})
_SCALAR_EXPECTED = "null, a boolean, a number (integers within 64 bits) or a string"


class UnloggableInput(DriftloopError):
    """A value or feature the inference log cannot store; nothing of the request is written.

    ``row`` is the 0-based row (or feedback item) of the request, ``None`` when the whole column is concerned;
    ``column`` the feature (or ``"id"``, ``"label"``), ``None`` when the whole request is concerned.
    """

    def __init__(self, row: int | None, column: str | None, expected: str, received: str) -> None:
        self.row, self.column, self.expected, self.received = row, column, expected, received
        where = ([f"row {row}"] if row is not None else []) + ([f"column {column!r}"] if column is not None else [])
        prefix = ", ".join(where) or "the input"
        super().__init__(f"{prefix[0].upper()}{prefix[1:]}: expected {expected}; received {received}.")


_JSON_TYPES = {bool: "boolean", int: "number", float: "number", str: "string", list: "array", dict: "object"}


def describe(value: Any) -> str:
    """A received value, short, with its JSON type (the service's clients send JSON).

    >>> describe(2**63), describe({"a": 1})
    ('9223372036854775808 (number)', "{'a': 1} (object)")
    """
    text = repr(value)
    kind = _JSON_TYPES.get(type(value), type(value).__name__)
    return f"{text[:57] + '...' if len(text) > 60 else text} ({kind})"


def _is_scalar(value: Any) -> bool:
    if isinstance(value, bool) or value is None or isinstance(value, float):
        return True
    if isinstance(value, int):
        return INT64_RANGE[0] <= value <= INT64_RANGE[1]
    return isinstance(value, str) and _is_unicode(value)


def _is_unicode(text: str) -> bool:
    """Whether ``text`` can be encoded in UTF-8 (JSON's ``"\\ud800"`` decodes to a lone surrogate, which cannot)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_scalars(values: Sequence[Any], column: str, expected: str = _SCALAR_EXPECTED) -> None:
    """Raise :class:`UnloggableInput` at the first value SQLite cannot store as it is.

    Fast path for the common case: the set of types is taken in C, integers are range-checked by ``min``/``max``
    and strings encoded once, joined; only a failing column is walked value by value.

    >>> check_scalars([1, 2.5, "a", None, True], "x")
    >>> check_scalars([1, 2**63], "x")
    Traceback (most recent call last):
    ...
    driftloop.data.log_checks.UnloggableInput: Row 1, column 'x': expected null, a boolean, a number (integers \
within 64 bits) or a string; received 9223372036854775808 (number).
    """
    types = set(map(type, values))
    if types <= _SCALARS:
        ints = [v for v in values if type(v) is int] if int in types else []
        texts = [v for v in values if type(v) is str] if str in types else []
        if (not ints or (INT64_RANGE[0] <= min(ints) and max(ints) <= INT64_RANGE[1])) and \
                (not texts or _is_unicode("".join(texts))):
            return
    for row, value in enumerate(values):
        if not _is_scalar(value):
            raise UnloggableInput(row, column, expected, describe(value))


def check_inputs(inputs: dict[str, np.ndarray]) -> None:
    """Every input column can be stored: fixed-width numeric, boolean or datetime arrays, or objects that are
    scalars (:func:`check_scalars`)."""
    for name, values in inputs.items():
        kind = values.dtype.kind
        if kind == "O":
            check_scalars(values.tolist(), name)
        elif kind == "u" and values.dtype.itemsize == 8 and values.size and values.max() > INT64_RANGE[1]:
            row = int(np.argmax(values > INT64_RANGE[1]))
            raise UnloggableInput(row, name, "an integer within 64 bits", describe(int(values[row])))
        elif kind not in "fiubM":
            raise UnloggableInput(None, name, "numbers, booleans, date-times or strings",
                                  f"values of dtype {values.dtype}")


def storable_predictions(values: list[Any]) -> list[Any]:
    """The predictions as SQLite stores them: scalars as they are, anything else (a list, a dict, an integer beyond
    64 bits) as JSON text.

    >>> storable_predictions([1.5, [1, 2], 2**64])
    [1.5, '[1, 2]', '18446744073709551616']
    """
    try:
        check_scalars(values, "prediction")
        return values
    except UnloggableInput:
        return [v if _is_scalar(v) else json.dumps(v, default=str) for v in values]


def check_feedback(items: Sequence[tuple[Any, Any]]) -> None:
    """Every ``(id, label)`` can be stored: the id a non-empty string, the label a non-null scalar."""
    for row, (row_id, label) in enumerate(items):
        if not isinstance(row_id, str) or not row_id or not _is_unicode(row_id):
            raise UnloggableInput(row, "id", "a prediction id (a non-empty string)", describe(row_id))
        if label is None:
            raise UnloggableInput(row, "label", "a label", describe(label))
    check_scalars([label for _, label in items], "label", "a boolean, a number (integers within 64 bits) or a string")


class FeatureSets:
    """The features each model version logs, fixed by its first request (see the module's docstring).

    Parameters
    ----------
    fixed
        ``{(model_name, model_version): names}`` already in the log.
    logged
        Every feature name the log holds a column for.
    max_features
        Most feature columns the log may hold.
    """

    def __init__(self, fixed: dict[tuple[str, str], tuple[str, ...]], logged: Iterable[str],
                 max_features: int = MAX_FEATURES) -> None:
        self.fixed = dict(fixed)
        self.logged = set(logged)
        self.max_features = max_features

    def admit(self, model_name: str, model_version: str, names: tuple[str, ...]) -> None:
        """Accept ``names`` for this model version (fixing them if it is its first request) or raise
        :class:`UnloggableInput` naming the first feature that differs."""
        key = (model_name, model_version)
        fixed = self.fixed.get(key)
        if fixed is not None:
            if names != fixed and set(names) != set(fixed):
                self._refuse(model_name, model_version, names, fixed)
            return
        for name in names:
            if name in RESERVED_COLUMNS:
                raise UnloggableInput(None, name, f"a feature name other than the log's own columns "
                                      f"({', '.join(RESERVED_COLUMNS)})", repr(name))
            if not _is_unicode(name):
                raise UnloggableInput(None, None, "feature names in valid Unicode", describe(name))
        total = len(self.logged.union(names))
        if total > self.max_features:
            raise UnloggableInput(None, None, f"at most {self.max_features} features in the inference log",
                                  f"{len(names)} features, which would bring the log to {total}")
        self.fixed[key] = names
        self.logged.update(names)

    @staticmethod
    def _refuse(model_name: str, model_version: str, names: tuple[str, ...], fixed: tuple[str, ...]) -> None:
        known = ", ".join(map(repr, fixed[:10])) + (", ..." if len(fixed) > 10 else "")
        extra = [name for name in names if name not in set(fixed)]
        if extra:
            raise UnloggableInput(None, extra[0], f"one of the features that model {model_name!r} version "
                                  f"{model_version} logs ({known})", "a column it does not log")
        missing = [name for name in fixed if name not in set(names)]
        raise UnloggableInput(None, missing[0], f"a value (model {model_name!r} version {model_version} logs this "
                              f"feature)", "no such column")

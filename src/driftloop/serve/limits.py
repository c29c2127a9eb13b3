"""Bounds on what one request may hold, so that no request can make the service work long.

Every step that reads a request is linear in the request's size, and every size is bounded here: the body, the
columns per request, the nesting of its JSON, the digits of an integer, and the id and label of each feedback item.
A request over a bound is answered 413 (body) or 400 (the others) with one line naming the limit and its option,
before the expensive step it guards runs.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from driftloop.errors import DriftloopError


@dataclass(frozen=True)
class RequestLimits:
    """The limits of the prediction service; each is a ``driftloop serve`` option of the same name.

    Parameters
    ----------
    max_body_bytes
        Largest request body in bytes (``--max-body-bytes``, 10 MiB): larger ones get 413 without being read.
    max_columns
        Most columns one request may name (``--max-columns``, 1,000): checked before the rows are transposed.
    max_json_depth
        Deepest nesting of arrays and objects in a JSON body (``--max-json-depth``, 32): checked by one linear scan
        of the bytes before they are parsed. A scoring request needs 4 levels (``{"dataframe_split": {"data":
        [[...]]}}``); the rest leaves room for array-valued cells and ``params``.
    max_number_digits
        Most digits of an integer in a JSON body (``--max-number-digits``, 100): converting a decimal string to an
        integer takes time quadratic in its length, so longer ones are refused before they are converted. (The
        columns of the inference log hold 64-bit integers, 19 digits; a larger integer that passes this bound is a
        422 where it meets such a column.)
    max_id_length
        Longest prediction id on ``/feedback``, in characters (``--max-id-length``, 128; the ids the service hands
        out have 36).
    max_label_length
        Longest string label on ``/feedback``, in characters (``--max-label-length``, 1,000).

    >>> RequestLimits(max_columns=0)
    Traceback (most recent call last):
    ...
    driftloop.errors.DriftloopError: --max-columns must be a positive integer; got 0.
    """

    max_body_bytes: int = 10 * 1024 * 1024
    max_columns: int = 1_000
    max_json_depth: int = 32
    max_number_digits: int = 100
    max_id_length: int = 128
    max_label_length: int = 1_000

    def __post_init__(self) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            if type(value) is not int or value <= 0:
                raise DriftloopError(f"{option(field.name)} must be a positive integer; got {value!r}.")


def option(name: str) -> str:
    """The command-line option of a limit.

    >>> option("max_json_depth")
    '--max-json-depth'
    """
    return "--" + name.replace("_", "-")

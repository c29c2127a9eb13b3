"""A request body's media type, and its JSON decoded within the service's limits in time linear in its size.

Before :func:`json.loads` sees the bytes, two linear scans at C speed bound what it would do:

* nesting depth: escaped backslashes and quotes are removed (``bytes.replace``), every byte but ``"[]{}`` is
  dropped (``bytes.translate``), and the depth is the largest running sum of +1 per opening and -1 per closing
  bracket outside strings (a quote count that is odd so far means "inside a string"), taken with numpy;
* integer size: every digit becomes ``1`` and every other byte a space (``bytes.translate``), and a substring
  search looks for ``max_number_digits + 1`` ones in a row. Only when there is such a run (it may be inside a
  string) is the body decoded with a ``parse_int`` hook that refuses a longer integer: Python converts a decimal
  string to an integer in time quadratic in its length.

Both are guards on the parser's cost, not on the content: what the values must be is checked afterwards, against
the model signature.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import numpy as np

from driftloop.serve.errors import BadRequest, UnsupportedMediaType
from driftloop.serve.limits import RequestLimits

JSON = "application/json"
CSV = "text/csv"
_STRUCTURE = b'"[]{}'
_NOT_STRUCTURE = bytes(b for b in range(256) if b not in _STRUCTURE)
_STEP = np.zeros(256, dtype=np.int32)  # bodies are far below 2**31 bytes
_STEP[list(b"[{")] = 1
_STEP[list(b"]}")] = -1
_DIGITS_AS_ONES = bytes(ord("1") if chr(b).isdigit() and b < 128 else ord(" ") for b in range(256))


def media_type(content_type: str | None, accepted: tuple[str, ...]) -> str:
    """The body's media type (``Content-Type`` without parameters), which must be one of ``accepted``.

    Anything else is a :class:`UnsupportedMediaType` (415), as in MLflow's scoring server. This is also what keeps
    other web sites out: a page can make a browser send ``text/plain`` or a form across sites without asking, but
    not ``application/json``. As in MLflow's scoring server, the only parameter allowed is ``charset``, and it must be
    ``utf-8`` (the body is read as UTF-8: text in another charset would be read wrong).

    >>> media_type("application/json; charset=utf-8", (JSON,))
    'application/json'
    >>> media_type("text/plain", (JSON,))
    Traceback (most recent call last):
    ...
    driftloop.serve.errors.UnsupportedMediaType: The body must be sent with Content-Type application/json; got text/plain.
    >>> media_type("text/csv; charset=latin-1", (CSV,))
    Traceback (most recent call last):
    ...
    driftloop.serve.errors.UnsupportedMediaType: The body must be UTF-8 text (Content-Type parameter charset=utf-8); got charset=latin-1.
    """
    received, *parameters = (content_type or "").split(";")
    received = received.strip().lower()
    if received not in accepted:
        raise UnsupportedMediaType(f"The body must be sent with Content-Type {' or '.join(accepted)}; got "
                                   f"{received[:60] or 'no Content-Type'}.")
    for parameter in parameters:
        name, _, value = (part.strip().lower() for part in parameter.partition("="))
        if name == "charset" and value.strip('"') == "utf-8":
            continue
        shown = parameter.strip()[:60]
        if name == "charset":
            raise UnsupportedMediaType(f"The body must be UTF-8 text (Content-Type parameter charset=utf-8); got "
                                       f"{shown}.")
        raise UnsupportedMediaType(f"The Content-Type may only have the parameter charset=utf-8; got {shown!r} "
                                   "(MLflow 1.x request formats such as format=pandas-split are not read: send "
                                   "MLflow 2's JSON formats).")
    return received


def json_depth(body: bytes) -> int:
    """The deepest nesting of arrays and objects in a JSON text (brackets inside strings do not count).

    >>> json_depth(b'{"a": [[1], "]]]\\\\"[["], "b\\\\\\\\": {}}')
    3
    """
    text = body.replace(b"\\\\", b"").replace(b'\\"', b"")  # escaped backslashes first, then escaped quotes
    marks = np.frombuffer(text.translate(None, _NOT_STRUCTURE), dtype=np.uint8)
    steps = _STEP[marks]
    quotes = marks == ord('"')
    if quotes.any():
        steps[(np.cumsum(quotes) & 1) == 1] = 0  # inside a string (a quote's own step is 0 anyway)
    return int(np.cumsum(steps, dtype=np.int32).max(initial=0))


def has_digit_run(body: bytes, length: int) -> bool:
    """Whether ``body`` holds ``length`` consecutive ASCII digits.

    >>> has_digit_run(b'[12, "3456"]', 4), has_digit_run(b'[12, 345]', 4)
    (True, False)
    """
    return b"1" * length in body.translate(_DIGITS_AS_ONES)


def decode_json(body: bytes, limits: RequestLimits) -> Any:
    """Decode a JSON body, refusing (400) one nested deeper than ``limits.max_json_depth`` or holding an integer
    longer than ``limits.max_number_digits`` before the costly step runs; anything that is not JSON is a 400 too.

    >>> decode_json(b'{"a": [1, 2.5, "x"]}', RequestLimits())
    {'a': [1, 2.5, 'x']}
    >>> decode_json(b"[" * 50 + b"]" * 50, RequestLimits())
    Traceback (most recent call last):
    ...
    driftloop.serve.errors.BadRequest: The JSON body is nested 50 levels deep; the limit is 32 (--max-json-depth).
    """
    max_depth = limits.max_json_depth
    if body.count(b"[") + body.count(b"{") > max_depth:
        depth = json_depth(body)
        if depth > max_depth:
            raise BadRequest(f"The JSON body is nested {depth} levels deep; the limit is {max_depth} "
                             "(--max-json-depth).")
    parse_int = None
    if len(body) > limits.max_number_digits and has_digit_run(body, limits.max_number_digits + 1):
        parse_int = _bounded_int(limits.max_number_digits)
    try:
        return json.loads(body.decode("utf-8"), parse_int=parse_int)  # JSON between systems is UTF-8 (RFC 8259)
    except RecursionError:  # cannot happen within the depth limit; a guard all the same
        raise BadRequest(f"The JSON body is nested too deep (limit {max_depth}, --max-json-depth).") from None
    except ValueError as error:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise BadRequest(f"The body is not valid JSON: {str(error).splitlines()[0][:200]}.") from None


def _bounded_int(max_digits: int) -> Callable[[str], int]:
    def parse_int(text: str) -> int:
        digits = len(text) - text.startswith("-")
        if digits > max_digits:
            raise BadRequest(f"The JSON body holds an integer of {digits} digits; the limit is {max_digits} "
                             "(--max-number-digits).")
        return int(text)

    return parse_int

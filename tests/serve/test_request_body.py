"""Content types, and JSON decoded within the limits: depth and integer size checked before parsing."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from driftloop.serve.errors import BadRequest, UnsupportedMediaType
from driftloop.serve.limits import RequestLimits
from driftloop.serve.request_body import CSV, JSON, decode_json, json_depth, media_type

# Strings rich in the characters the depth scan must see through: brackets, quotes and backslashes.
tricky_text = st.text(alphabet=st.sampled_from('[]{}"\\/ab\n\u00e9'), max_size=8)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | tricky_text,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(tricky_text, children, max_size=4),
    max_leaves=30,
)


def depth_of(value: Any) -> int:
    """The oracle: nesting depth of a decoded JSON value, by recursion."""
    if isinstance(value, list):
        return 1 + max(map(depth_of, value), default=0)
    if isinstance(value, dict):
        return 1 + max(map(depth_of, value.values()), default=0)
    return 0


@settings(max_examples=300, deadline=None)
@given(json_values, st.booleans())
def test_json_depth_matches_the_decoded_structure(value: Any, ascii_only: bool) -> None:
    body = json.dumps(value, ensure_ascii=ascii_only).encode()
    assert json_depth(body) == depth_of(value)


@pytest.mark.parametrize("header", ["application/json", "Application/JSON; charset=utf-8", " application/json "])
def test_json_content_types(header: str) -> None:
    assert media_type(header, (JSON,)) == JSON


@pytest.mark.parametrize("header", [None, "", "text/plain", "text/plain;charset=UTF-8", "multipart/form-data; b=x",
                                    "application/x-www-form-urlencoded", "text/csv", "application/jsonx"])
def test_other_content_types_are_415(header: str | None) -> None:
    with pytest.raises(UnsupportedMediaType, match="Content-Type application/json;") as caught:
        media_type(header, (JSON,))
    assert caught.value.status == 415
    assert media_type("text/csv", (JSON, CSV)) == CSV


@pytest.mark.parametrize("header, fragment", [
    ("application/json; charset=latin-1", "must be UTF-8 text"),
    ("application/json; charset=utf-16", "must be UTF-8 text"),
    ("application/json; format=pandas-split", "may only have the parameter charset=utf-8"),
    ("application/json; charset=utf-8; orient=records", "may only have the parameter charset=utf-8"),
])
def test_content_type_parameters_other_than_utf8_are_415(header: str, fragment: str) -> None:
    """As MLflow's scoring server: the body is read as UTF-8, so another charset (or an MLflow 1.x parameter such
    as format=pandas-split) is refused rather than misread."""
    with pytest.raises(UnsupportedMediaType, match=fragment):
        media_type(header, (JSON,))
    assert media_type('application/json; charset="UTF-8"', (JSON,)) == JSON


def test_nesting_beyond_the_limit_is_refused_before_parsing() -> None:
    limits = RequestLimits()
    with pytest.raises(BadRequest, match=r"nested 100000 levels deep; the limit is 32 \(--max-json-depth\)"):
        decode_json(b"[" * 100_000 + b"]" * 100_000, limits)
    with pytest.raises(BadRequest, match="--max-json-depth"):  # not even valid JSON: refused all the same
        decode_json(b'{"a":' * 100_000, limits)
    assert decode_json(b"[" * 32 + b"]" * 32, limits) is not None
    with pytest.raises(BadRequest, match="nested 3 levels deep; the limit is 2"):
        decode_json(b'{"inputs": [[1]]}', RequestLimits(max_json_depth=2))
    assert decode_json(b'["[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["]', RequestLimits(max_json_depth=1))


def test_long_integers_are_refused_before_conversion() -> None:
    limits = RequestLimits()
    with pytest.raises(BadRequest, match=r"integer of 400 digits; the limit is 100 \(--max-number-digits\)"):
        decode_json(b'{"inputs": {"pH": [' + b"9" * 400 + b"]}}", limits)
    with pytest.raises(BadRequest, match="integer of 101 digits"):
        decode_json(b"[-" + b"1" * 101 + b"]", limits)
    assert decode_json(b"[" + b"9" * 100 + b"]", limits) == [10**100 - 1]
    # long digit runs inside strings, or in a fraction, are not integers
    assert decode_json(b'["' + b"7" * 500 + b'"]', limits) == ["7" * 500]
    assert decode_json(b"[0." + b"5" * 500 + b"]", limits) == [0.5555555555555556]


@pytest.mark.parametrize("body", [b"", b"{", b"\xff\xfe\x00", b"[1,]", b"nul", b'{"a": 1} x',
                                  '[1]'.encode("utf-16"), ('[' + "9" * 4000 + ']').encode("utf-32")])
def test_anything_that_is_not_json_is_one_line_400(body: bytes) -> None:
    with pytest.raises(BadRequest, match="not valid JSON") as caught:
        decode_json(body, RequestLimits())
    assert "\n" not in caught.value.message

"""MLflow's scoring formats, parsed into columns."""

from __future__ import annotations

import pytest

from driftloop.serve.errors import BadRequest, InvalidInput
from driftloop.serve.formats import MISSING, parse_json, parse_payload

NAMES = ["a", "b"]
EXPECTED = {"a": [1, 3], "b": [2.5, 4.5]}


@pytest.mark.parametrize("payload", [
    {"dataframe_split": {"columns": ["a", "b"], "data": [[1, 2.5], [3, 4.5]]}},
    {"dataframe_split": {"data": [[1, 2.5], [3, 4.5]]}},
    {"dataframe_records": [{"a": 1, "b": 2.5}, {"b": 4.5, "a": 3}]},
    {"instances": [{"a": 1, "b": 2.5}, {"a": 3, "b": 4.5}]},
    {"instances": [[1, 2.5], [3, 4.5]]},
    {"inputs": {"a": [1, 3], "b": [2.5, 4.5]}},
    {"inputs": [[1, 2.5], [3, 4.5]]},
    {"inputs": [{"a": 1, "b": 2.5}, {"a": 3, "b": 4.5}], "params": {}},
])
def test_every_format_gives_the_same_columns(payload: dict) -> None:
    parsed = parse_payload(payload, NAMES)
    assert {name: parsed.columns[name] for name in NAMES} == EXPECTED
    assert parsed.n_rows == 2


def test_a_single_columnar_row_and_extra_record_keys() -> None:
    assert parse_payload({"inputs": {"a": 1, "b": 2}}, NAMES).columns == {"a": [1], "b": [2]}
    parsed = parse_payload({"dataframe_records": [{"a": 1, "b": 2, "extra": "x"}]}, NAMES)
    assert parsed.columns == {"a": [1], "b": [2]}


def test_a_key_missing_from_a_record_is_marked() -> None:
    parsed = parse_payload({"dataframe_records": [{"a": 1, "b": 2}, {"a": 3}]}, NAMES)
    assert parsed.columns["b"] == [2, MISSING]


@pytest.mark.parametrize("payload, fragment", [
    ([1, 2], "JSON object"),
    ({"nope": []}, "exactly one of the keys"),
    ({"inputs": [], "instances": []}, "exactly one of the keys"),
    ({"inputs": [[1, 2]], "extra": 1}, "'extra'"),
    ({"dataframe_split": {"columns": ["a", "a"], "data": [[1, 2]]}}, "more than once"),
    ({"dataframe_split": [[1, 2]]}, "'columns' and 'data'"),
    ({"dataframe_records": {"a": 1}}, "list of records"),
    ({"dataframe_records": []}, "no rows"),
    ({"inputs": {"a": [1, 2], "b": [1]}}, "equal length"),
    ({"inputs": 3}, "list of rows"),
    ({"inputs": [[1, 2]], "params": [1]}, "'params'"),
])
def test_malformed_payloads_are_bad_requests(payload: object, fragment: str) -> None:
    with pytest.raises(BadRequest, match=fragment.replace("(", r"\(")):
        parse_payload(payload, NAMES)


def test_a_row_of_the_wrong_width_names_the_row() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_payload({"dataframe_split": {"columns": NAMES, "data": [[1, 2], [3]]}}, NAMES)
    assert caught.value.errors[0].row == 1
    assert caught.value.errors[0].received == "1 values"


def test_malformed_json_is_a_bad_request() -> None:
    with pytest.raises(BadRequest, match="not valid JSON"):
        parse_json(b'{"inputs": [1,')
    with pytest.raises(BadRequest, match="not valid JSON"):
        parse_json(b"\xff\xfe")

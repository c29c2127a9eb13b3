"""MLflow's scoring formats, parsed into columns."""

from __future__ import annotations

import pytest

from driftloop.serve.errors import BadRequest, InvalidInput
from driftloop.serve.formats import MISSING, parse_csv, parse_payload
from driftloop.serve.limits import RequestLimits
from driftloop.serve.request_body import decode_json

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
        decode_json(b'{"inputs": [1,', RequestLimits())
    with pytest.raises(BadRequest, match="not valid JSON"):
        decode_json(b"\xff\xfe", RequestLimits())


@pytest.mark.parametrize("payload", [
    {"dataframe_split": {"columns": [str(i % 50) for i in range(20_000)], "data": []}},
    {"dataframe_split": {"columns": [str(i) for i in range(1_001)], "data": [list(range(1_001))]}},
    {"dataframe_records": [{str(i): i for i in range(1_001)}]},
    {"inputs": {str(i): [i] for i in range(1_001)}},
])
def test_more_columns_than_the_limit_are_refused_before_transposing(payload: dict) -> None:
    with pytest.raises(BadRequest, match=r"names (20000|1001) columns; the limit is 1000 \(--max-columns\)"):
        parse_payload(payload, None, max_columns=1_000)


def test_duplicated_names_are_listed_briefly() -> None:
    names = [str(i % 400) for i in range(800)]
    with pytest.raises(BadRequest, match="more than once") as caught:
        parse_payload({"dataframe_split": {"columns": names, "data": [[0] * 800]}}, None)
    assert caught.value.message.endswith("... (400 in all).")


def test_many_unknown_keys_make_a_short_message() -> None:
    with pytest.raises(BadRequest, match="exactly one of the keys") as caught:
        parse_payload({f"key{i}": i for i in range(10_000)}, NAMES)
    assert len(caught.value.message) < 300


def test_csv_follows_the_signature_types() -> None:
    types = {"a": "long", "b": "double", "c": "boolean", "d": "string"}
    parsed = parse_csv(b"a,b,c,d,extra\n1,2.5,TRUE,x,7\n3,nope,false,,8\n", types)
    assert parsed.n_rows == 2 and parsed.format == "csv"
    assert parsed.columns == {"a": [1, 3], "b": [2.5, "nope"], "c": [True, False], "d": ["x", None],
                              "extra": ["7", "8"]}
    inferred = parse_csv(b"a,b\n1,x\n2,\n", None).columns
    assert inferred == {"a": [1, 2], "b": ["x", None]}


@pytest.mark.parametrize("body, fragment", [
    (b"", "no header"),
    (b"a,b,a\n1,2,3\n", "more than once"),
    (b",".join(b"c%d" % i for i in range(1_001)) + b"\n", "--max-columns"),
    (b"a,b\n1,2\n1,2,3,4\n", "not valid CSV"),
    (b"a,b\n", "no rows"),
    (b"a\xff,b\n1,2\n", "not UTF-8"),
])
def test_malformed_csv_is_a_bad_request(body: bytes, fragment: str) -> None:
    with pytest.raises(BadRequest, match=fragment):
        parse_csv(body, {"a": "double", "b": "double"})

"""Hostile and careless clients, one class of request per test, against the real app and its real log writer:
each gets a one-line 4xx, and nothing it sends reaches the log or fails the requests committed with it."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from driftloop.data.inference_log import log_summary, read_inference_log
from driftloop.serve.service import build_service
from tests.serve.conftest import COLUMNS


@pytest.fixture
def client(wine_uri: str, tmp_path: Path):
    app = build_service("wine-quality@champion", tracking_uri=wine_uri, log_path=tmp_path / "log.db")
    with TestClient(app) as test_client:
        yield test_client


def one_line_4xx(answer, status: int, fragment: str) -> dict:
    body = answer.json()
    assert answer.status_code == status, answer.text
    assert fragment in body["message"] and "\n" not in body["message"] and len(body["message"]) < 500
    return body


def test_a_label_that_does_not_fit_is_422_and_spoils_no_group(client: TestClient, wine_rows: list,
                                                             tmp_path: Path) -> None:
    ids = client.post("/predict", json={"dataframe_records": wine_rows[:40]}).json()["ids"]
    statuses: dict[str, list[int]] = {"good": [], "bad": []}

    def send(kind: str, start: int) -> None:
        for i in range(start, start + 10):
            label = 5 + i % 3 if kind == "good" else [2**63, -(2**63) - 1, float("inf"), "high", [5], {"q": 5}][i % 6]
            content = json.dumps([{"id": ids[i], "label": label}]).replace("Infinity", "1e999")
            statuses[kind].append(client.post("/feedback", content=content,
                                              headers={"content-type": "application/json"}).status_code)

    threads = [threading.Thread(target=send, args=("good", 0)), threading.Thread(target=send, args=("good", 10)),
               threading.Thread(target=send, args=("bad", 20)), threading.Thread(target=send, args=("bad", 30))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses["good"] == [200] * 20 and statuses["bad"] == [422] * 20
    frame = read_inference_log(tmp_path / "log.db").set_index("id")
    assert frame.loc[ids[:20], "label"].tolist() == [5 + i % 3 for i in range(20)]
    assert frame.loc[ids[20:], "label"].isna().all()
    body = one_line_4xx(client.post("/feedback", json=[{"id": ids[0], "label": 2**63}]), 422, "label")
    assert body["errors"][0]["received"] == f"{2**63} (number)"


def test_a_string_label_for_a_regressor_and_oversized_ids_are_422(client: TestClient) -> None:
    one_line_4xx(client.post("/feedback", json=[{"id": "a", "label": "good"}]), 422,
                 "expected a finite number (the model predicts float64 values: a regressor); received 'good'")
    one_line_4xx(client.post("/feedback", json=[{"id": "x" * 129, "label": 5}]), 422, "at most 128 characters")
    one_line_4xx(client.post("/feedback", json=[{"id": "x" * 128, "label": True}]), 422, "received true (boolean)")
    assert client.post("/feedback", json=[{"id": "x" * 128, "label": 5}]).status_code == 200


@pytest.mark.parametrize("content, fragment", [
    (b"[" * 100_000 + b"]" * 100_000, "--max-json-depth"),
    (b'{"inputs": {"pH": [' + b"9" * 400 + b"]}}", "--max-number-digits"),
    (json.dumps({"dataframe_split": {"columns": ["pH"] * 20_000, "data": []}}).encode(), "--max-columns"),
    (json.dumps({"inputs": {str(i): [0] for i in range(5_000)}}).encode(), "--max-columns"),
    (b'{"inputs": [' + b"[" * 31 + b"]" * 31 + b"]}", "--max-json-depth"),
])
def test_cheap_requests_with_expensive_shapes_are_400(client: TestClient, content: bytes, fragment: str) -> None:
    for path in ("/predict", "/feedback"):
        answer = client.post(path, content=content, headers={"content-type": "application/json"})
        if fragment == "--max-columns" and path == "/feedback":
            continue  # column limits concern /predict only
        one_line_4xx(answer, 400, fragment)


def test_a_400_digit_integer_within_the_digit_limit_is_422(wine_uri: str, tmp_path: Path, wine_rows: list) -> None:
    from driftloop.serve.limits import RequestLimits

    app = build_service("wine-quality@champion", tracking_uri=wine_uri, log_path=tmp_path / "log.db",
                        limits=RequestLimits(max_number_digits=1_000))
    with TestClient(app) as client:
        record = json.dumps(dict(wine_rows[0], pH=0)).replace('"pH": 0', '"pH": ' + "9" * 400)
        one_line_4xx(client.post("/predict", content=b'{"instances": [%s]}' % record.encode(),
                                 headers={"content-type": "application/json"}), 422, "column 'pH'")
        one_line_4xx(client.post("/feedback", content=b'[{"id": "a", "label": %s}]' % (b"9" * 400),
                                 headers={"content-type": "application/json"}), 422, "label")


@pytest.mark.parametrize("content_type", [None, "text/plain", "text/plain;charset=UTF-8",
                                          "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"])
def test_only_json_is_read_so_no_web_page_can_write(client: TestClient, wine_rows: list, tmp_path: Path,
                                                    content_type: str | None) -> None:
    headers = {"content-type": content_type} if content_type else {}
    predict = json.dumps({"dataframe_records": wine_rows[:1]})
    one_line_4xx(client.post("/predict", content=predict, headers=headers), 415, "application/json or text/csv")
    one_line_4xx(client.post("/feedback", content='[{"id": "a", "label": 5}]', headers=headers), 415,
                 "Content-Type application/json;")
    assert log_summary(tmp_path / "log.db") == {"predictions": 0, "labels": 0, "orphans": 0}


def test_csv_is_served_and_logged_like_json(client: TestClient, wine_rows: list, tmp_path: Path) -> None:
    lines = [",".join(COLUMNS)] + [",".join(str(row[c]) for c in COLUMNS) for row in wine_rows[:3]]
    answer = client.post("/predict", content="\n".join(lines) + "\n", headers={"content-type": "text/csv"})
    assert answer.status_code == 200, answer.text
    as_json = client.post("/predict", json={"dataframe_records": wine_rows[:3]}).json()
    assert answer.json()["predictions"] == as_json["predictions"]
    assert read_inference_log(tmp_path / "log.db")["id"].tolist()[:3] == answer.json()["ids"]
    bad = lines[:2] + [lines[2].replace(str(wine_rows[1]["pH"]), "acid", 1)]
    body = one_line_4xx(client.post("/predict", content="\n".join(bad), headers={"content-type": "text/csv"}),
                        422, "'acid'")
    assert body["errors"][0]["row"] == 1


def test_the_feedback_token(wine_uri: str, tmp_path: Path) -> None:
    app = build_service("wine-quality@champion", tracking_uri=wine_uri, log_path=tmp_path / "log.db",
                        feedback_token="s3cret-token")
    labels = [{"id": "a", "label": 5}]
    with TestClient(app) as client:
        for headers in ({}, {"authorization": "Bearer wrong"}, {"authorization": "Basic s3cret-token"},
                        {"authorization": "Bearer s3cret-token-and-more"}, {"authorization": "s3cret-token"}):
            answer = client.post("/feedback", json=labels, headers=headers)
            one_line_4xx(answer, 401, "Authorization: Bearer")
            assert answer.headers["www-authenticate"] == "Bearer"
        assert log_summary(tmp_path / "log.db")["labels"] == 0
        answer = client.post("/feedback", json=labels, headers={"authorization": "Bearer s3cret-token"})
        assert answer.status_code == 200 and log_summary(tmp_path / "log.db")["labels"] == 1


def test_a_model_without_signature_logs_only_what_fits(unsigned_uri: str, tmp_path: Path) -> None:
    app = build_service("unsigned@champion", tracking_uri=unsigned_uri, log_path=tmp_path / "log.db")
    with TestClient(app) as client:
        good = client.post("/predict", json={"dataframe_records": [{"x": 1, "y": 2.5}, {"x": 3, "y": 0}]})
        assert good.status_code == 200, good.text
        for cell, received in ((2**63, f"{2**63} (number)"), ([1, 2], "[1, 2] (array)"), ({"a": 1}, "object"),
                               (10**50, "(number)")):
            body = one_line_4xx(client.post("/predict", json={"dataframe_records": [{"x": 1, "y": 2}, {"x": cell,
                                                                                                      "y": 1}]}),
                                422, "Row 1, column 'x'")
            assert received in body["errors"][0]["received"] and "64-bit integer" in body["errors"][0]["expected"]
        one_line_4xx(client.post("/predict", content=b'{"inputs": {"x": [NaN], "y": [1]}}',
                                 headers={"content-type": "application/json"}), 422, "column 'x'")
        missing = client.post("/predict", json={"dataframe_records": [{"x": 1, "y": 2}, {"x": 2}]})
        assert missing.status_code in (200, 422)  # the model decides about a null; the log is never poisoned
        after = client.post("/predict", json={"dataframe_records": [{"x": 0, "y": 0}]})
        assert after.status_code == 200
    logged = read_inference_log(tmp_path / "log.db")
    expected = good.json()["ids"] + (missing.json()["ids"] if missing.status_code == 200 else []) + after.json()["ids"]
    assert logged["id"].tolist() == expected

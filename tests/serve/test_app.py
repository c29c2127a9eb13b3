"""The service in-process (FastAPI's TestClient): formats, errors, feedback, metrics, alias hot-swap."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from mlflow import MlflowClient

from driftloop.data.inference_log import read_inference_log
from driftloop.errors import DriftloopError
from driftloop.serve.limits import RequestLimits
from driftloop.serve.service import build_service
from driftloop.tracking.store import use_tracking_uri
from tests.conftest import copy_store
from tests.serve.conftest import COLUMNS


@pytest.fixture
def client(wine_uri: str, tmp_path: Path):
    app = build_service("wine-quality@champion", tracking_uri=wine_uri, log_path=tmp_path / "log.db",
                        limits=RequestLimits(max_body_bytes=64 * 1024))
    with TestClient(app) as test_client:
        yield test_client


def test_predict_in_every_format_logs_every_row(client: TestClient, wine_rows: list, tmp_path: Path) -> None:
    rows = wine_rows[:3]
    payloads = [
        {"dataframe_split": {"columns": COLUMNS, "data": [[r[c] for c in COLUMNS] for r in rows]}},
        {"dataframe_records": rows},
        {"instances": rows},
        {"inputs": {c: [r[c] for r in rows] for c in COLUMNS}},
    ]
    answers = [client.post("/predict", json=payload) for payload in payloads]
    assert [a.status_code for a in answers] == [200] * 4
    first = answers[0].json()
    assert first["model_name"] == "wine-quality" and first["model_version"] == "1"
    assert len(first["predictions"]) == 3 and 3 <= first["predictions"][0] <= 8
    assert all(a.json()["predictions"] == first["predictions"] for a in answers)
    frame = read_inference_log(tmp_path / "log.db")
    assert frame["id"].tolist() == [i for a in answers for i in a.json()["ids"]]
    assert frame["pH"].tolist()[:3] == [r["pH"] for r in rows]
    assert frame["prediction"].tolist()[:3] == first["predictions"]


def test_invalid_rows_get_422_naming_row_column_expected_received(client: TestClient, wine_rows: list,
                                                                   tmp_path: Path) -> None:
    bad = dict(wine_rows[1], pH="acid")
    answer = client.post("/predict", json={"dataframe_records": [wine_rows[0], bad, wine_rows[2]]})
    assert answer.status_code == 422
    body = answer.json()
    assert body["errors"][0] == {"row": 1, "column": "pH", "expected": "a finite number (double)",
                                 "received": "'acid' (string)"}
    assert body["rejected_rows"] == 1 and "Row 1, column 'pH'" in body["message"]
    missing = {k: v for k, v in wine_rows[0].items() if k != "alcohol"}
    body = client.post("/predict", json={"dataframe_records": [missing]}).json()
    assert body["errors"][0]["column"] == "alcohol" and body["errors"][0]["received"].startswith("no value")
    answer = client.post("/predict", content=b'{"inputs": [{"pH": Infinity}]}',
                         headers={"content-type": "application/json"})
    assert answer.status_code == 422
    assert not (tmp_path / "log.db").exists() or len(read_inference_log(tmp_path / "log.db")) == 0
    metrics = client.get("/metrics").text
    assert "driftloop_rejected_rows_total 3.0" in metrics


@pytest.mark.parametrize("content, status, fragment", [
    (b"{not json", 400, "not valid JSON"),
    (b'{"columns": [], "data": []}', 400, "exactly one of the keys"),
    (b'{"inputs": []}', 400, "no rows"),
    (b'{"inputs": [' + b"1," * 40000 + b"1]}", 413, "limit"),
])
def test_bad_bodies(client: TestClient, content: bytes, status: int, fragment: str) -> None:
    answer = client.post("/predict", content=content, headers={"content-type": "application/json"})
    assert answer.status_code == status and fragment in answer.json()["message"]


def test_feedback_and_orphans(client: TestClient, wine_rows: list, tmp_path: Path) -> None:
    ids = client.post("/predict", json={"dataframe_records": wine_rows[:2]}).json()["ids"]
    answer = client.post("/feedback", json=[{"id": ids[0], "label": 6}, {"id": "no-such-id", "label": 5}])
    assert answer.status_code == 200
    assert answer.json() == {"accepted": 2, "orphans": 1, "orphan_ids": ["no-such-id"], "overwritten_ids": []}
    bad = client.post("/feedback", json=[{"id": ids[1], "label": None}, {"label": 3}])
    assert bad.status_code == 422 and [e["column"] for e in bad.json()["errors"]] == ["label", "id"]
    assert client.post("/feedback", json={"rows": []}).status_code == 400
    frame = read_inference_log(tmp_path / "log.db")
    assert frame["label"].tolist()[0] == 6.0 and frame["label"].isna().tolist()[1]
    metrics = client.get("/metrics").text
    assert "driftloop_feedback_labels_total 2.0" in metrics and "driftloop_feedback_orphans_total 1.0" in metrics


def test_health_version_and_metrics(client: TestClient, wine_rows: list) -> None:
    import mlflow

    health = client.get("/health").json()
    assert health["status"] == "ok" and health["driftloop"]
    assert health["model_version"] == "1" and health["model_alias"] == "champion"
    assert client.get("/version").text == mlflow.__version__  # as MLflow's scoring server answers
    assert client.get("/ping").text == "\n"
    client.post("/predict", json={"dataframe_records": wine_rows[:4]})
    metrics = client.get("/metrics")
    assert metrics.headers["content-type"].startswith("text/plain")
    text = metrics.text
    for line in ('driftloop_requests_total{endpoint="/predict",status="200"} 1.0',
                 "driftloop_predicted_rows_total 4.0", "driftloop_logged_rows_total 4.0",
                 'driftloop_request_latency_seconds_count{endpoint="/predict"} 1.0',
                 'driftloop_model_info{alias="champion",name="wine-quality",version="1"} 1.0'):
        assert line in text


def test_streaming_detectors_are_counted_on_metrics(client: TestClient, wine_rows: list, tmp_path: Path) -> None:
    """Predictions and labels reach the log writer's streaming detectors (which take the queued values every
    FLUSH_SECONDS); /metrics counts what they took and shows their statistics; their state is in the log."""
    import time

    ids = client.post("/predict", json={"dataframe_records": wine_rows[:150]}).json()["ids"]
    client.post("/invocations", json={"dataframe_records": wine_rows[150:200]})
    assert client.post("/feedback", json=[{"id": i, "label": 5} for i in ids[:120]]).status_code == 200
    expected = ['driftloop_stream_values_total{detector="adwin",signal="predictions"} 200.0',  # the default
                'driftloop_stream_values_total{detector="adwin",signal="errors"} 120.0']
    deadline = time.monotonic() + 30  # a flush is due within FLUSH_SECONDS; generous for a loaded machine
    while not all(line in (text := client.get("/metrics").text) for line in expected) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert all(line in text for line in expected), text
    assert 'driftloop_stream_statistic{detector="adwin",signal="errors"}' in text
    import sqlite3

    with sqlite3.connect(tmp_path / "log.db") as connection:
        assert connection.execute("SELECT count(*) FROM stream_state").fetchone()[0] == 2


def test_without_a_log_feedback_is_unavailable(wine_uri: str, wine_rows: list) -> None:
    app = build_service("wine-quality@champion", tracking_uri=wine_uri, log_path=None)
    with TestClient(app) as client:
        assert client.post("/predict", json={"dataframe_records": wine_rows[:1]}).status_code == 200
        answer = client.post("/feedback", json=[{"id": "x", "label": 1}])
        assert answer.status_code == 503 and "--no-log" in answer.json()["message"]
        assert "driftloop_logged_rows_total 0.0" in client.get("/metrics").text


def test_start_up_errors_are_driftloop_errors(wine_uri: str, tmp_path: Path) -> None:
    with pytest.raises(DriftloopError, match="no model 'wine-quality' with alias 'gold'"):
        build_service("wine-quality@gold", tracking_uri=wine_uri, log_path=None)
    with pytest.raises(DriftloopError, match="NAME@ALIAS"):
        build_service("wine quality", tracking_uri=wine_uri, log_path=None)
    (tmp_path / "notes.db").write_text("not a log")
    with pytest.raises(DriftloopError, match="not a driftloop inference log"):
        build_service("wine-quality@champion", tracking_uri=wine_uri, log_path=tmp_path / "notes.db")


def test_the_service_follows_its_alias_without_failing_requests(trained_wine_store: Path, tmp_path: Path,
                                                                wine_rows: list) -> None:
    uri = copy_store(trained_wine_store, tmp_path)
    registry = MlflowClient(tracking_uri=uri, registry_uri=uri)
    first = registry.get_model_version_by_alias("wine-quality", "champion")
    app = build_service("wine-quality@champion", tracking_uri=uri, log_path=tmp_path / "log.db", poll_interval=0.2)
    statuses: list[int] = []
    versions: set[str] = set()
    stop = threading.Event()
    with TestClient(app) as client:
        def hammer() -> None:
            while not stop.is_set():
                answer = client.post("/predict", json={"dataframe_records": wine_rows[:2]})
                statuses.append(answer.status_code)
                versions.add(answer.json().get("model_version"))

        workers = [threading.Thread(target=hammer) for _ in range(2)]
        for worker in workers:
            worker.start()
        try:
            time.sleep(0.5)
            with use_tracking_uri(uri):  # MLflow resolves a models:/ source through the global tracking URI
                second = registry.create_model_version("wine-quality", first.source, run_id=first.run_id)
            registry.set_registered_model_alias("wine-quality", "champion", second.version)
            deadline = time.monotonic() + 20
            while client.get("/health").json()["model_version"] != str(second.version):
                assert time.monotonic() < deadline, "the service did not follow the alias"
                time.sleep(0.1)
            time.sleep(0.3)
        finally:
            stop.set()
            for worker in workers:
                worker.join()
        metrics = client.get("/metrics").text
    assert set(statuses) == {200} and versions == {"1", "2"}
    assert "driftloop_model_swaps_total 1.0" in metrics
    assert 'driftloop_model_info{alias="champion",name="wine-quality",version="2"} 1.0' in metrics
    assert 'version="1"} 1.0' not in metrics
    logged = read_inference_log(tmp_path / "log.db")["model_version"]
    assert set(logged) == {"1", "2"} and logged.is_monotonic_increasing

"""``POST /invocations``: driftloop as a drop-in for ``mlflow models serve``.

The same requests (each MLflow format, CSV, wrong content types, wrong columns, bad JSON, empty bodies) go to a real
``mlflow models serve --env-manager local`` and to ``driftloop serve``, both subprocesses on free loopback ports,
started once for the module; their status codes and answer shapes are compared. MLflow's own scoring-server client
(``mlflow.pyfunc.scoring_server.client.ScoringServerClient``, which ``spark_udf`` and ``mlflow models predict``
use) is pointed at both. Every answered request is in the inference log with ids ``<request id>/<row>``.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest

from driftloop.data.inference_log import read_inference_log
from tests.local_servers import free_port
from tests.serve.conftest import COLUMNS, ServerProcess

JSON = "application/json"
REQUEST_ID = "X-Driftloop-Request-Id"
MLFLOW_ERROR_CODES = {"BAD_REQUEST", "INVALID_PARAMETER_VALUE"}


class MlflowServer:
    """``mlflow models serve -m models:/wine-quality@champion --env-manager local`` on a free loopback port."""

    def __init__(self, tracking_uri: str, cwd: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ, MLFLOW_TRACKING_URI=tracking_uri, MLFLOW_DISABLE_TELEMETRY="true")
        env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")  # it runs `uvicorn`
        self.output = cwd / "mlflow-serve.out"
        with open(self.output, "wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "mlflow", "models", "serve", "-m", "models:/wine-quality@champion",
                 "--env-manager", "local", "-h", "127.0.0.1", "-p", str(self.port)],
                cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 180
        while True:
            if self.process.poll() is not None:
                raise AssertionError(f"mlflow models serve exited: {self.output.read_text()}")
            try:
                if httpx.get(self.url + "/ping", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise AssertionError(f"mlflow models serve did not answer in 180 s: {self.output.read_text()}")
            time.sleep(0.2)

    def stop(self) -> None:
        try:
            os.killpg(self.process.pid, signal.SIGKILL)  # its own session: the server and its uvicorn child
        except ProcessLookupError:
            pass
        self.process.wait(timeout=30)


@pytest.fixture(scope="module")
def servers(wine_uri: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, Path]]:
    """(MLflow's URL, driftloop's URL, driftloop's log), both serving wine-quality@champion."""
    folder = tmp_path_factory.mktemp("invocations")
    mlflow_server = MlflowServer(wine_uri, folder)
    try:
        driftloop_server = ServerProcess(["-m", "wine-quality@champion", "--tracking-uri", wine_uri, "--log",
                                          str(folder / "log.db"), "--log-sync", "normal"], folder)
        try:
            yield mlflow_server.url, driftloop_server.url, folder / "log.db"
        finally:
            driftloop_server.kill()
    finally:
        mlflow_server.stop()


def _requests(rows: list[dict[str, float]]) -> list[tuple[str, str | None, bytes]]:
    """(name, content type, body) of the requests both servers get; the first ones are valid."""
    two = rows[:2]
    split = {"columns": COLUMNS, "data": [[r[c] for c in COLUMNS] for r in two]}
    frame = pd.DataFrame(two)
    bad = dict(two[1], pH="acid")
    missing = {k: v for k, v in two[0].items() if k != "alcohol"}
    dumps = lambda value: json.dumps(value).encode()  # noqa: E731
    return [
        ("dataframe_split", JSON, dumps({"dataframe_split": split})),
        ("dataframe_split with index", JSON, dumps({"dataframe_split": {**split, "index": [7, 8]}})),
        ("dataframe_records", JSON, dumps({"dataframe_records": two})),
        ("instances as records", JSON, dumps({"instances": two})),
        ("inputs as columns", JSON, dumps({"inputs": {c: [r[c] for r in two] for c in COLUMNS}})),
        ("inputs as records", JSON, dumps({"inputs": two})),
        ("with params", JSON, dumps({"inputs": two, "params": {}})),
        ("another key beside the format", JSON, dumps({"dataframe_records": two, "comment": "ignored"})),
        ("a column too many", JSON, dumps({"dataframe_records": [dict(r, extra=1.0) for r in two]})),
        ("integers for doubles", JSON, dumps({"dataframe_records": [{c: int(v) for c, v in two[0].items()}]})),
        ("CSV", "text/csv", frame.to_csv(index=False).encode()),
        ("CSV charset utf-8", "text/csv; charset=utf-8", frame.to_csv(index=False).encode()),
        ("JSON charset utf-8", "application/json; charset=UTF-8", dumps({"dataframe_records": two})),
        # invalid
        ("a text value in a number column", JSON, dumps({"dataframe_records": [two[0], bad]})),
        ("a missing column", JSON, dumps({"dataframe_records": [missing]})),
        ("a wrongly named column", JSON, dumps({"dataframe_records": [dict(missing, Alcohol=1.0)]})),
        ("a null value", JSON, dumps({"dataframe_records": [dict(two[0], pH=None)]})),
        ("CSV with a wrong column", "text/csv", frame.drop(columns="alcohol").to_csv(index=False).encode()),
        ("CSV with a text value", "text/csv", frame.assign(pH="acid").to_csv(index=False).encode()),
        ("CSV header only", "text/csv", ",".join(COLUMNS).encode() + b"\n"),
        ("empty CSV", "text/csv", b""),
        ("bad JSON", JSON, b'{"dataframe_records": [{"pH": 3.1,'),
        ("empty body", JSON, b""),
        ("not UTF-8", JSON, b'{"dataframe_records": [{"pH": "\xff"}]}'),
        ("a JSON list", JSON, dumps(two)),
        ("a JSON number", JSON, b"3"),
        ("no format key", JSON, dumps({"rows": two})),
        ("two format keys", JSON, dumps({"inputs": two, "instances": two})),
        ("no rows", JSON, dumps({"dataframe_records": []})),
        ("no inputs", JSON, dumps({"inputs": []})),
        ("text/plain", "text/plain", dumps({"dataframe_records": two})),
        ("a form", "application/x-www-form-urlencoded", b"pH=3.1"),
        ("XML", "application/xml", b"<rows/>"),
        ("charset latin-1", "application/json; charset=latin-1", dumps({"dataframe_records": two})),
        ("MLflow 1.x format parameter", "application/json; format=pandas-split", dumps({"dataframe_split": split})),
    ]


def _post(url: str, content_type: str | None, body: bytes, **headers: str | bytes) -> httpx.Response:
    if content_type is not None:
        headers["content-type"] = content_type
    return httpx.post(url + "/invocations", content=body, headers=headers, timeout=60)


def test_the_same_requests_get_the_same_answers_as_from_mlflow(servers: tuple[str, str, Path],
                                                                wine_rows: list) -> None:
    mlflow_url, driftloop_url, log_path = servers
    before = len(read_inference_log(log_path)) if log_path.exists() else 0
    answered_rows = 0
    for name, content_type, body in _requests(wine_rows):
        theirs, ours = _post(mlflow_url, content_type, body), _post(driftloop_url, content_type, body)
        assert ours.status_code == theirs.status_code, (name, theirs.text[:300], ours.text[:300])
        assert ours.headers["content-type"] == theirs.headers["content-type"], name
        if theirs.status_code == 200:
            assert ours.json() == theirs.json(), name  # {"predictions": [...]}, the same numbers
            assert list(ours.json()) == ["predictions"]
            answered_rows += len(ours.json()["predictions"])
        elif theirs.status_code == 415:
            assert ours.text and "\n" not in ours.text, name  # one line of text, as MLflow's
        else:
            mine, mlflows = ours.json(), theirs.json()
            assert mine["error_code"] in MLFLOW_ERROR_CODES and mlflows["error_code"] in MLFLOW_ERROR_CODES, name
            assert isinstance(mine["message"], str) and "\n" not in mine["message"], name
            assert "Traceback" not in mine["message"], name
    assert answered_rows == 25
    assert len(read_inference_log(log_path)) - before == answered_rows  # every answered row logged, no other


def test_health_ping_and_version_as_mlflow_answers(servers: tuple[str, str, Path]) -> None:
    mlflow_url, driftloop_url, _ = servers
    for path in ("/ping", "/health", "/version"):
        theirs, ours = httpx.get(mlflow_url + path), httpx.get(driftloop_url + path)
        assert (ours.status_code, ours.headers["content-type"]) == (theirs.status_code, theirs.headers["content-type"])
    assert httpx.get(driftloop_url + "/ping").text == httpx.get(mlflow_url + "/ping").text == "\n"
    assert httpx.get(driftloop_url + "/version").text == httpx.get(mlflow_url + "/version").text
    health = httpx.get(driftloop_url + "/health").json()  # driftloop's own details stay on /health
    assert health["status"] == "ok" and health["model_alias"] == "champion" and health["driftloop"]
    assert httpx.get(driftloop_url + "/invocations").status_code == httpx.get(mlflow_url + "/invocations").status_code


def test_mlflow_scoring_client_works_unchanged(servers: tuple[str, str, Path], wine_rows: list) -> None:
    """MLflow's own client for a scoring server, pointed at both servers."""
    from mlflow.models import convert_input_example_to_serving_input
    from mlflow.pyfunc.scoring_server.client import ScoringServerClient

    mlflow_url, driftloop_url, _ = servers
    theirs, ours = (ScoringServerClient("127.0.0.1", int(url.rsplit(":", 1)[1])) for url in (mlflow_url,
                                                                                          driftloop_url))
    ours.wait_server_ready(timeout=10)
    ours.ping()
    assert ours.get_version() == theirs.get_version()
    frame = pd.DataFrame(wine_rows[:5])
    for data, rows in ((frame, 5), (frame.head(1), 1)):  # sent as dataframe_split
        mine, mlflows = ours.invoke(data), theirs.invoke(data)
        assert mine == mlflows and len(mine.get_predictions()) == rows
        pd.testing.assert_frame_equal(mine.get_predictions(), mlflows.get_predictions())
    with pytest.raises(Exception, match="error code 400"):
        ours.invoke(frame.drop(columns="pH"))
    serving_input = convert_input_example_to_serving_input(frame)  # what MLflow logs as the model's serving example
    answers = [_post(url, JSON, serving_input.encode()) for url in (mlflow_url, driftloop_url)]
    assert answers[0].status_code == answers[1].status_code == 200 and answers[0].json() == answers[1].json()


def test_requests_are_logged_with_ids_the_client_can_send_feedback_with(servers: tuple[str, str, Path],
                                                                         wine_rows: list) -> None:
    _, url, log_path = servers
    body = json.dumps({"dataframe_records": wine_rows[10:13]}).encode()
    answer = _post(url, JSON, body, **{REQUEST_ID: "order-4711"})
    assert answer.status_code == 200 and answer.headers[REQUEST_ID] == "order-4711"
    anonymous = _post(url, "text/csv", pd.DataFrame(wine_rows[13:15]).to_csv(index=False).encode())
    generated = anonymous.headers[REQUEST_ID]  # a fresh UUID when the client sends none
    assert anonymous.status_code == 200 and len(generated) == 36
    feedback = httpx.post(url + "/feedback", json=[{"id": "order-4711/2", "label": 6},
                                                   {"id": f"{generated}/0", "label": 5}])
    assert feedback.json()["orphans"] == 0
    frame = read_inference_log(log_path).set_index("id")
    assert frame.loc[["order-4711/0", "order-4711/1", "order-4711/2"], "pH"].tolist() == \
        [r["pH"] for r in wine_rows[10:13]]
    assert frame.loc["order-4711/2", "label"] == 6 and np.isnan(frame.loc["order-4711/0", "label"])
    assert frame.loc[f"{generated}/0", "label"] == 5
    assert frame.loc["order-4711/1", "prediction"] == pytest.approx(answer.json()["predictions"][1])

    again = _post(url, JSON, body, **{REQUEST_ID: "order-4711"})  # a request id used twice: refused, not stored
    assert again.status_code == 409 and again.json()["error_code"] == "RESOURCE_ALREADY_EXISTS"
    assert again.json()["ids"] == ["order-4711/0", "order-4711/1", "order-4711/2"]
    for bad in ("has space", "x" * 127, "é".encode(), ""):
        refused = _post(url, JSON, body, **{REQUEST_ID: bad})
        assert refused.status_code == 400 and REQUEST_ID in refused.json()["message"], bad
    assert len(read_inference_log(log_path)) == len(frame)


def test_documented_differences_from_mlflow(servers: tuple[str, str, Path], wine_rows: list) -> None:
    """Where driftloop answers otherwise than MLflow, on purpose (README, "Serving"): rows given as lists in the
    signature's column order are read (MLflow: 400); ``params`` that is not an object is a 400 (MLflow ignores it);
    a request without a content type is a 415 (MLflow: 500); Parquet is a 415 (MLflow reads it)."""
    mlflow_url, driftloop_url, _ = servers
    lists = [[r[c] for c in COLUMNS] for r in wine_rows[:2]]
    for body in ({"inputs": lists}, {"instances": lists}, {"dataframe_split": {"data": lists}}):
        encoded = json.dumps(body).encode()
        assert _post(mlflow_url, JSON, encoded).status_code == 400
        assert _post(driftloop_url, JSON, encoded).json() == _post(mlflow_url, JSON, json.dumps(
            {"dataframe_records": wine_rows[:2]}).encode()).json()
    params = json.dumps({"dataframe_records": wine_rows[:1], "params": 3}).encode()
    assert (_post(mlflow_url, JSON, params).status_code, _post(driftloop_url, JSON, params).status_code) == (200, 400)
    untyped = json.dumps({"dataframe_records": wine_rows[:1]}).encode()
    assert (_post(mlflow_url, None, untyped).status_code, _post(driftloop_url, None, untyped).status_code) == (500, 415)
    parquet = io.BytesIO()
    pd.DataFrame(wine_rows[:2]).to_parquet(parquet)
    parquet_type = "application/vnd.apache.parquet"
    assert _post(mlflow_url, parquet_type, parquet.getvalue()).status_code == 200
    assert _post(driftloop_url, parquet_type, parquet.getvalue()).status_code == 415

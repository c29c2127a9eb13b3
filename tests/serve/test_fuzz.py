"""Property-based fuzzing of the HTTP API of a real ``driftloop serve`` process (uvicorn on a free loopback port).

Hypothesis draws request bodies over JSON shapes (the four scoring formats, CSV, arbitrary JSON), value types
(numbers past every range, non-finite numbers, strings, nesting), sizes (deep nesting, long integers, many or
duplicated columns, long strings) and content types, for ``/predict``, ``/invocations`` and ``/feedback``. For every
request:

* no 5xx: every client mistake is a 4xx with a one-line message (JSON; plain text for a 415 of ``/invocations``,
  as MLflow answers it);
* no answer slower than 1 s (measured by the client, server and client on the same 2 cores);
* every 200 is committed: the ids a ``/predict`` answered (``<request id>/<row>`` for ``/invocations``) are in the
  log, and the labels a ``/feedback`` accepted
  are read back from it.

The budget is bounded (a fixed number of examples, no shrinking of passing runs): about 20 s on a quiet 2-core machine.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from driftloop.data.inference_log import read_inference_log
from tests.serve.conftest import COLUMNS

SLOWEST_ANSWER_S = 1.0
CONTENT_TYPES = ["application/json"] * 8 + ["application/json; charset=utf-8", "text/csv", "text/plain", None,
                                            "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"]

names = st.sampled_from(COLUMNS) | st.text(max_size=12)
scalars = (st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=20)
           | st.sampled_from([2**63, -(2**63) - 1, 2**63 - 1, 10**30]))
cells = st.recursive(scalars, lambda children: st.lists(children, max_size=3)
                     | st.dictionaries(st.text(max_size=5), children, max_size=3), max_leaves=6)
wine_cells = st.floats(0, 300, allow_nan=False) | st.integers(0, 300)
rows = st.lists(st.fixed_dictionaries({c: wine_cells for c in COLUMNS}), min_size=0, max_size=30)


@st.composite
def records(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Wine rows, most of them valid; some with a cell replaced, removed or added."""
    drawn = draw(rows)
    for row in drawn:
        if draw(st.integers(0, 9)) == 0:
            column = draw(names)
            if draw(st.booleans()):
                row.pop(column, None)
            else:
                row[column] = draw(cells)
    return drawn


@st.composite
def scoring_body(draw: st.DrawFn) -> bytes:
    """One of MLflow's scoring formats (or CSV), built from drawn rows."""
    drawn = draw(records())
    kind = draw(st.sampled_from(["dataframe_split", "dataframe_records", "instances", "inputs", "columnar", "csv"]))
    columns = list(dict.fromkeys(name for row in drawn for name in row)) or list(COLUMNS)
    if draw(st.integers(0, 9)) == 0:
        columns = draw(st.lists(names, max_size=15))
    if kind == "csv":
        lines = [",".join(json.dumps(c) for c in columns)]
        lines += [",".join("" if row.get(c) is None else str(row.get(c)) for c in columns) for row in drawn]
        return "\n".join(lines).encode()
    if kind == "dataframe_split":
        payload: Any = {kind: {"columns": columns, "data": [[row.get(c) for c in columns] for row in drawn]}}
    elif kind == "columnar":
        payload = {"inputs": {c: [row.get(c) for row in drawn] for c in columns}}
    elif kind in ("instances", "inputs") and draw(st.booleans()):
        payload = {kind: [[row.get(c) for c in COLUMNS] for row in drawn]}
    else:
        payload = {kind: drawn}
    if draw(st.integers(0, 9)) == 0:
        payload["params"] = draw(cells)
    return json.dumps(payload).encode()


@st.composite
def expensive_shape(draw: st.DrawFn) -> bytes:
    """Cheap bodies that used to cost the server much: built from a few drawn sizes, not drawn cell by cell."""
    n = draw(st.integers(1, 120_000))
    shape = draw(st.sampled_from(["deep", "digits", "columns", "duplicates", "long string", "wide record"]))
    if shape == "deep":
        return b'{"inputs": ' + b"[" * n + b"]" * draw(st.sampled_from([0, n])) + b"}"
    if shape == "digits":
        return b'{"inputs": {"pH": [%s]}}' % (b"9" * min(n, 5_000))
    if shape == "columns":
        names_ = [f"c{i}" for i in range(min(n, 30_000))]
        return json.dumps({"dataframe_split": {"columns": names_, "data": [[0] * len(names_)]}}).encode()
    if shape == "duplicates":
        return json.dumps({"dataframe_split": {"columns": ["pH"] * min(n, 30_000), "data": []}}).encode()
    if shape == "long string":
        return json.dumps({"dataframe_records": [{c: "x" * n for c in COLUMNS}]}).encode()
    return json.dumps({"inputs": {f"k{i}": [1] for i in range(min(n, 30_000))}}).encode()


predict_bodies = (scoring_body() | expensive_shape() | st.binary(max_size=200)
                  | cells.map(lambda value: json.dumps(value).encode()))


@st.composite
def feedback_body(draw: st.DrawFn, known: list[str]) -> tuple[bytes, list[tuple[Any, Any]]]:
    ids = (st.sampled_from(known) if known else st.nothing()) | st.text(max_size=40) | scalars
    labels = st.integers(0, 10) | st.floats(0, 10) | scalars | cells
    items = draw(st.lists(st.fixed_dictionaries({"id": ids, "label": labels}), max_size=8))
    if draw(st.integers(0, 9)) == 0:
        return json.dumps(draw(cells)).encode(), []
    return json.dumps(items).encode(), [(item["id"], item["label"]) for item in items]


def test_the_http_api_under_fuzzing(start_server, wine_uri: str, tmp_path: Path) -> None:
    log_path = tmp_path / "log.db"
    server = start_server("--model", "wine-quality@champion", "--tracking-uri", wine_uri, "--log", str(log_path),
                          "--max-body-bytes", str(2 * 1024 * 1024))
    http = httpx.Client(base_url=server.url, timeout=10)
    known: list[str] = []
    statuses: dict[int, int] = {}

    def post(path: str, body: bytes, content_type: str | None) -> httpx.Response:
        headers = {"content-type": content_type} if content_type else {}
        started = time.perf_counter()
        answer = http.post(path, content=body, headers=headers)
        elapsed = time.perf_counter() - started
        statuses[answer.status_code] = statuses.get(answer.status_code, 0) + 1
        assert answer.status_code < 500, (path, body[:300], answer.text)
        assert elapsed < SLOWEST_ANSWER_S, f"{path} took {elapsed:.2f} s for {body[:200]!r}"
        if answer.status_code >= 400:
            plain = path == "/invocations" and answer.status_code == 415
            message = answer.text if plain else answer.json()["message"]
            assert message and "\n" not in message and "Traceback" not in message
        return answer

    @settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(body=predict_bodies, content_type=st.sampled_from(CONTENT_TYPES),
           path=st.sampled_from(["/predict", "/invocations"]))
    def predict(body: bytes, content_type: str | None, path: str) -> None:
        answer = post(path, body, content_type)
        if answer.status_code == 200:
            if path == "/predict":
                ids = answer.json()["ids"]
            else:
                request_id = answer.headers["X-Driftloop-Request-Id"]
                ids = [f"{request_id}/{row}" for row in range(len(answer.json()["predictions"]))]
            assert set(ids) <= set(read_inference_log(log_path)["id"]), "a 200 whose rows are not in the log"
            known.extend(ids)

    @settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(data=st.data(), content_type=st.sampled_from(CONTENT_TYPES))
    def feedback(data: st.DataObject, content_type: str | None) -> None:
        body, items = data.draw(feedback_body(known[-50:]))
        answer = post("/feedback", body, content_type)
        if answer.status_code == 200:
            last = {row_id: label for row_id, label in items}
            logged = read_inference_log(log_path).set_index("id")["label"]
            for row_id, label in last.items():
                if row_id in logged.index:
                    assert math.isclose(float(logged[row_id]), float(label), rel_tol=1e-12), (row_id, label)

    predict()
    feedback()
    assert statuses.get(200, 0) >= 20, f"too few valid requests to check commits: {statuses}"
    assert http.get("/health").status_code == 200

"""The service as a real subprocess on a free loopback port: concurrent predict and feedback, and a crash test."""

from __future__ import annotations

import signal
import threading
from pathlib import Path

import httpx

from driftloop.data.inference_log import log_summary, read_inference_log


def test_concurrent_predict_and_feedback(start_server, wine_uri: str, wine_rows: list, tmp_path: Path) -> None:
    server = start_server("--model", "wine-quality@champion", "--tracking-uri", wine_uri,
                          "--log", str(tmp_path / "log.db"))
    ids: list[str] = []
    labelled: list[str] = []
    failures: list[str] = []
    lock = threading.Lock()

    def predictor(worker: int) -> None:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            for i in range(40):
                rows = wine_rows[(worker * 40 + i) % 190:][: 1 + i % 5]
                answer = http.post("/predict", json={"dataframe_records": rows})
                if answer.status_code != 200:
                    failures.append(answer.text)
                    continue
                with lock:
                    ids.extend(answer.json()["ids"])

    def labeller() -> None:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            for i in range(40):
                with lock:
                    batch = ids[len(labelled): len(labelled) + 3]
                    labelled.extend(batch)
                items = [{"id": row_id, "label": 5 + j} for j, row_id in enumerate(batch)]
                items.append({"id": f"unknown-{i}", "label": 4})
                answer = http.post("/feedback", json=items)
                if answer.status_code != 200 or answer.json()["orphans"] != 1:
                    failures.append(answer.text)

    threads = [threading.Thread(target=predictor, args=(w,)) for w in range(3)] + [threading.Thread(target=labeller)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures
    frame = read_inference_log(tmp_path / "log.db")  # read-only, while the server runs
    assert sorted(frame["id"]) == sorted(ids)
    assert set(frame.loc[frame["label"].notna(), "id"]) == set(labelled)
    assert log_summary(tmp_path / "log.db")["orphans"] == 40
    metrics = httpx.get(server.url + "/metrics").text
    assert f"driftloop_logged_rows_total {float(len(ids))}" in metrics
    assert "driftloop_feedback_orphans_total 40.0" in metrics
    # SIGTERM: a graceful shutdown (uvicorn re-raises the signal once done); the writer checkpointed the log
    assert server.stop() in (0, -signal.SIGTERM)
    wal = tmp_path / "log.db-wal"
    assert not wal.exists() or wal.stat().st_size == 0


def test_no_acknowledged_row_is_lost_when_the_server_is_killed(start_server, wine_uri: str, wine_rows: list,
                                                                tmp_path: Path) -> None:
    log_path = tmp_path / "log.db"
    server = start_server("--model", "wine-quality@champion", "--tracking-uri", wine_uri, "--log", str(log_path))
    acknowledged: list[str] = []
    errors: list[str] = []
    lock = threading.Lock()
    enough = threading.Event()

    def load(worker: int) -> None:  # 4 threads x 75 requests: a bounded load
        with httpx.Client(base_url=server.url, timeout=10) as http:
            for i in range(75):
                try:
                    answer = http.post("/predict", json={"dataframe_records": wine_rows[i % 50: i % 50 + 1 + i % 3]})
                except httpx.HTTPError as error:
                    errors.append(repr(error))
                    return  # the server is gone
                if answer.status_code == 200:
                    with lock:
                        acknowledged.extend(answer.json()["ids"])
                        if len(acknowledged) >= 150:
                            enough.set()

    threads = [threading.Thread(target=load, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    assert enough.wait(60), "the load did not get going"
    server.kill(signal.SIGKILL)  # mid-run, requests in flight: the server and its log writer die at once
    for thread in threads:
        thread.join()
    assert errors, "the server was killed after the load ended: not a crash test"

    restarted = start_server("--model", "wine-quality@champion", "--tracking-uri", wine_uri, "--log", str(log_path))
    logged = set(read_inference_log(log_path)["id"])
    missing = set(acknowledged) - logged
    assert not missing, f"{len(missing)} of {len(acknowledged)} acknowledged rows are not in the log"
    answer = httpx.post(restarted.url + "/predict", json={"dataframe_records": wine_rows[:1]})
    assert answer.status_code == 200
    assert answer.json()["ids"][0] in set(read_inference_log(log_path)["id"])


def test_the_feedback_token_from_the_environment(start_server, wine_uri: str, wine_rows: list, tmp_path: Path) -> None:
    server = start_server("--model", "wine-quality@champion", "--tracking-uri", wine_uri,
                          "--log", str(tmp_path / "log.db"), env={"DRIFTLOOP_FEEDBACK_TOKEN": "from-the-env"})
    assert "Feedback: bearer token required" in server.output.read_text()
    row_id = httpx.post(server.url + "/predict", json={"dataframe_records": wine_rows[:1]}).json()["ids"][0]
    labels = [{"id": row_id, "label": 6}]
    refused = httpx.post(server.url + "/feedback", json=labels)
    assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer"
    accepted = httpx.post(server.url + "/feedback", json=labels, headers={"Authorization": "Bearer from-the-env"})
    assert accepted.status_code == 200
    assert read_inference_log(tmp_path / "log.db")["label"].tolist() == [6.0]

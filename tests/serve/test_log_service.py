"""The inference log behind the service, against hostile or unusual clients and models: one client's bad value
never fails another's request, any feature name works, an unsigned model's clients cannot grow the log, a label
is never silently replaced, and a killed log writer is restarted and reported on /health."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import httpx
import mlflow
import pandas as pd
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from mlflow import MlflowClient
from mlflow.models import infer_signature

from driftloop.cli.main import cli
from driftloop.data.inference_log import read_inference_log
from driftloop.serve.service import build_service
from tests.conftest import WINE_PROJECT

NAMES = {"fixed acidity": "ts", "volatile acidity": "seq", "citric acid": "Id", "residual sugar": "A",
         "chlorides": "a", "pH": "rowid"}


def test_a_value_the_log_cannot_store_fails_only_its_own_request(start_server, wine_uri: str, wine_rows: list,
                                                                 tmp_path: Path) -> None:
    server = start_server("--model", "wine-quality@champion", "--tracking-uri", wine_uri,
                          "--log", str(tmp_path / "log.db"))
    statuses: list[int] = []
    bad_answers: list[httpx.Response] = []
    ids: list[str] = []
    lock = threading.Lock()

    def predictor(worker: int) -> None:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            for i in range(60):
                answer = http.post("/predict", json={"dataframe_records": wine_rows[(worker + i) % 190:][:2]})
                with lock:
                    statuses.append(answer.status_code)
                    if answer.status_code == 200:
                        ids.extend(answer.json()["ids"])

    def hostile() -> None:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            for i in range(60):
                bad_answers.append(http.post("/feedback", json=[{"id": f"x-{i}", "label": 1},
                                                                {"id": f"y-{i}", "label": 2**63}]))

    threads = [threading.Thread(target=predictor, args=(w,)) for w in range(6)] + [threading.Thread(target=hostile)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200] * 360, f"{len(statuses) - statuses.count(200)} valid requests failed"
    assert {answer.status_code for answer in bad_answers} == {422}
    error = bad_answers[0].json()["errors"][0]
    assert (error["row"], error["column"], error["received"]) == (1, "label", "9223372036854775808 (number)")
    frame = read_inference_log(tmp_path / "log.db")
    assert sorted(frame["id"]) == sorted(ids) and frame["label"].isna().all()


def register(uri: str, name: str, model: object, signature: object = None) -> None:
    mlflow.set_tracking_uri(uri)
    try:
        with mlflow.start_run():
            if isinstance(model, mlflow.pyfunc.PythonModel):
                mlflow.pyfunc.log_model(name="model", python_model=model, registered_model_name=name)
            else:
                mlflow.sklearn.log_model(model, name="model", signature=signature, registered_model_name=name)
    finally:
        mlflow.set_tracking_uri(None)
    MlflowClient(uri).set_registered_model_alias(name, "champion", "1")


def test_features_named_like_the_logs_own_columns_are_served_logged_and_monitored(workdir: Path) -> None:
    from sklearn.linear_model import LinearRegression

    uri = f"sqlite:///{workdir / 'mlflow.db'}"
    red = pd.read_csv(WINE_PROJECT / "data" / "winequality-red.csv", sep=";").rename(columns=NAMES)
    features = red.drop(columns=["quality"])
    model = LinearRegression().fit(features, red["quality"])
    register(uri, "named", model, infer_signature(features, model.predict(features)))
    red.to_csv(workdir / "red.csv", index=False)
    profiled = CliRunner().invoke(cli, ["profile", "--model", "named@champion", "--data", "red.csv",
                                        "--target", "quality", "--tracking-uri", uri])
    assert profiled.exit_code == 0, profiled.output
    with TestClient(build_service("named@champion", tracking_uri=uri, log_path=workdir / "log.db")) as client:
        for start in range(0, 600, 100):
            answer = client.post("/predict", json={"dataframe_records": features.iloc[start: start + 100]
                                                   .to_dict(orient="records")})
            assert answer.status_code == 200, answer.text
    frame = read_inference_log(workdir / "log.db")
    assert list(frame.columns[4:-3]) == list(features.columns)
    pd.testing.assert_frame_equal(frame[features.columns].reset_index(drop=True), features.iloc[:600],
                                  check_dtype=False)
    monitored = CliRunner().invoke(cli, ["monitor", "--model", "named@champion", "--data", "log.db", "--rows", "200",
                                         "--tracking-uri", uri, "--format", "json"])
    assert monitored.exit_code in (0, 3), monitored.output
    assert monitored.output.count('"window"') == 3 and "Traceback" not in monitored.output


class Constant(mlflow.pyfunc.PythonModel):
    """A model without a signature: it takes any columns."""

    def predict(self, context, model_input, params=None):  # noqa: ANN001, ANN201 - MLflow's interface
        return [0.0] * len(model_input)


def test_clients_of_a_model_without_signature_cannot_grow_or_poison_the_log(workdir: Path) -> None:
    uri = f"sqlite:///{workdir / 'mlflow.db'}"
    register(uri, "unsigned", Constant())
    with TestClient(build_service("unsigned@champion", tracking_uri=uri, log_path=workdir / "log.db")) as client:
        first = client.post("/predict", json={"dataframe_records": [{"a": 1, "b": "x"}, {"a": 2, "b": "y"}]})
        assert first.status_code == 200, first.text
        wide = {f"c{i}": i for i in range(500)}
        for record, column in (({"a": 1, "b": "x", **wide}, "c0"), ({"a": 1, "A": 2, "b": "x"}, "A"),
                               ({"a": 1}, "b"), ({"a": {"nested": 1}, "b": "x"}, "a"),
                               ({"a": 2**64, "b": "x"}, "a")):
            answer = client.post("/predict", json={"dataframe_records": [record]})
            assert answer.status_code == 422, answer.text
            assert answer.json()["errors"][0]["column"] == column
        assert client.post("/predict", json={"dataframe_records": [{"b": "z", "a": 3}]}).status_code == 200
        health = client.get("/health")
        assert health.status_code == 200 and health.json()["log"]["state"] == "ok"
    frame = read_inference_log(workdir / "log.db")
    assert list(frame.columns[4:-3]) == ["a", "b"] and frame["b"].tolist() == ["x", "y", "z"]


def test_a_label_is_replaced_only_when_asked(wine_uri: str, wine_rows: list, tmp_path: Path) -> None:
    app = build_service("wine-quality@champion", tracking_uri=wine_uri, log_path=tmp_path / "log.db")
    with TestClient(app) as client:
        ids = client.post("/predict", json={"dataframe_records": wine_rows[:2]}).json()["ids"]
        assert client.post("/feedback", json=[{"id": ids[0], "label": 5}]).status_code == 200
        assert client.post("/feedback", json=[{"id": ids[0], "label": 5}]).status_code == 200  # a retry
        refused = client.post("/feedback", json=[{"id": ids[1], "label": 6}, {"id": ids[0], "label": 7}])
        assert refused.status_code == 409 and refused.json()["ids"] == [ids[0]]
        assert "overwrite" in refused.json()["message"]
        assert client.post("/feedback?overwrite=maybe", json=[{"id": ids[0], "label": 7}]).status_code == 400
        replaced = client.post("/feedback?overwrite=true", json=[{"id": ids[0], "label": 7}])
        assert replaced.status_code == 200 and replaced.json()["overwritten_ids"] == [ids[0]]
    assert read_inference_log(tmp_path / "log.db")["label"].tolist()[0] == 7.0
    assert read_inference_log(tmp_path / "log.db")["label"].isna().tolist()[1]


def children(pid: int) -> list[int]:
    with open(f"/proc/{pid}/task/{pid}/children") as handle:
        return [int(child) for child in handle.read().split()]


@pytest.mark.skipif(not os.path.exists("/proc/self/task"), reason="finds the writer process through /proc (Linux)")
def test_a_killed_log_writer_is_restarted_and_health_tells_the_truth(start_server, wine_uri: str, wine_rows: list,
                                                                     tmp_path: Path) -> None:
    log_path = tmp_path / "log.db"
    server = start_server("--model", "wine-quality@champion", "--tracking-uri", wine_uri, "--log", str(log_path))
    health = httpx.get(server.url + "/health").json()
    assert health["log"] == {"state": "ok", "writer_restarts": 0, "error": None}
    acknowledged: list[str] = []
    answers: list[httpx.Response] = []
    lock = threading.Lock()
    stop = threading.Event()

    def load() -> None:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            while not stop.is_set():
                answer = http.post("/predict", json={"dataframe_records": wine_rows[:3]})
                with lock:
                    answers.append(answer)
                    if answer.status_code == 200:
                        acknowledged.extend(answer.json()["ids"])

    threads = [threading.Thread(target=load) for _ in range(4)]
    for thread in threads:
        thread.start()
    try:
        while len(acknowledged) < 150:
            time.sleep(0.01)
        (writer,) = children(server.process.pid)
        os.kill(writer, signal.SIGKILL)
        seen_down, deadline = [], time.monotonic() + 60
        while True:
            answer = httpx.get(server.url + "/health")
            body = answer.json()
            if answer.status_code == 503:
                seen_down.append(body)
            elif body["log"]["writer_restarts"] == 1:
                break
            assert time.monotonic() < deadline, f"the writer was not restarted: {body}"
            time.sleep(0.005)
        assert children(server.process.pid) not in ([writer], [])
        before = len(acknowledged)
        while len(acknowledged) < before + 150:  # the service logs and answers again
            assert time.monotonic() < deadline, "no request succeeded after the restart"
            time.sleep(0.01)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    failed = [answer for answer in answers if answer.status_code != 200]
    assert {answer.status_code for answer in failed} <= {503}
    for body in [*seen_down, *(answer.json() for answer in failed)]:
        assert str(tmp_path) not in str(body) and "log.db" not in str(body)  # no path reaches a client
    assert seen_down, "/health never reported the dead writer"
    assert seen_down[0]["status"] == "unavailable" and seen_down[0]["log"]["state"] == "restarting"
    assert "killed by signal 9" in seen_down[0]["log"]["error"]
    server.stop()
    logged = read_inference_log(log_path)["id"]
    assert logged.is_unique and set(acknowledged) <= set(logged)

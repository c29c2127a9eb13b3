"""Two ``driftloop serve`` replicas behind one address (round robin, as a load balancer does), each with its own
inference log; feedback reaches either replica, whichever served the prediction. ``driftloop log export`` of both
logs into one folder, then ``driftloop monitor --data <folder>``: every acknowledged row is monitored once, every
label meets its prediction, and a label sent later to the other replica wins."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import httpx
import mlflow
import numpy as np
import pandas as pd
from click.testing import CliRunner
from mlflow import MlflowClient
from mlflow.models import infer_signature
from sklearn.linear_model import LinearRegression
from sklearn.metrics import mean_absolute_error

from driftloop.cli.main import cli
from driftloop.data.log_export import read_log_export
from driftloop.tracking.store import use_tracking_uri
from tests.conftest import REPO
from tests.serve.conftest import COLUMNS

MODEL = "wine-quality"


def invoke(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args), env={"COLUMNS": "200"})
    assert result.exit_code in (0, 3), result.output  # 3: an alert fired
    return result.output


def wine_model_store(red: pd.DataFrame, folder: Path) -> str:
    """A store of its own (the session's wine store shares its artifacts, which ``profile`` writes to) holding
    ``wine-quality@champion``, a linear regression of the quality on the wine's features."""
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    client = MlflowClient(uri)
    experiment = client.create_experiment("training", artifact_location=(folder / "artifacts").as_uri())
    model = LinearRegression().fit(red[COLUMNS].iloc[:600], red["quality"].iloc[:600])
    with use_tracking_uri(uri), mlflow.start_run(experiment_id=experiment):
        mlflow.sklearn.log_model(model, name="model", registered_model_name=MODEL, pip_requirements=["scikit-learn"],
                                 signature=infer_signature(red[COLUMNS].head(5), model.predict(red[COLUMNS].head(5))))
    client.set_registered_model_alias(MODEL, "champion", "1")
    return uri


def two_replicas(start_server, folder: Path) -> tuple[pd.DataFrame, str, list[Path], list]:
    """The red wines, a store with the profiled wine model, and two `driftloop serve` replicas of it, each with its
    own inference log."""
    red = pd.read_csv(REPO / "examples" / "wine" / "data" / "winequality-red.csv", sep=";")
    red[COLUMNS] = red[COLUMNS].astype("float64")
    uri = wine_model_store(red, folder)
    red[COLUMNS].iloc[:600].to_csv(folder / "reference.csv", index=False)
    invoke("profile", "--model", f"{MODEL}@champion", "--data", str(folder / "reference.csv"), "--tracking-uri", uri)
    logs = [folder / "replica-a.db", folder / "replica-b.db"]
    servers = [start_server("--model", f"{MODEL}@champion", "--tracking-uri", uri, "--log", str(log)) for log in logs]
    return red, uri, logs, servers


def test_two_replicas_are_monitored_as_one_service(start_server, tmp_path: Path) -> None:
    red, uri, logs, servers = two_replicas(start_server, tmp_path)
    traffic = red.iloc[600:1200].reset_index(drop=True)
    served: dict[str, tuple[float, int]] = {}  # id -> (prediction, which replica served it)
    clients = [httpx.Client(base_url=server.url, timeout=60) for server in servers]
    balancer = itertools.cycle(range(2))
    try:
        for start in range(0, len(traffic), 50):
            replica = next(balancer)
            records = traffic[COLUMNS].iloc[start: start + 50].astype("float64").to_dict(orient="records")
            answer = clients[replica].post("/predict", json={"dataframe_records": records})
            assert answer.status_code == 200, answer.text
            body = answer.json()
            served.update({i: (p, replica) for i, p in zip(body["ids"], body["predictions"], strict=True)})
        ids = list(served)
        truth = dict(zip(ids, traffic["quality"].astype(float), strict=True))
        # feedback goes through the balancer too: about half of it reaches the replica that did not serve the row
        for chunk in range(0, 500, 25):
            items = [{"id": i, "label": truth[i]} for i in ids[chunk: chunk + 25]]
            answer = clients[next(balancer)].post("/feedback", json=items)
            assert answer.status_code == 200, answer.text
        # a correction, later, at the replica that did not serve the row: the latest label wins
        corrected = next(i for i in ids[:500] if served[i][1] == 0)
        truth[corrected] = truth[corrected] + 3
        answer = clients[1].post("/feedback", json=[{"id": corrected, "label": truth[corrected]}],
                                 params={"overwrite": "true"})
        assert answer.status_code == 200, answer.text
        answer = clients[1].post("/feedback", json=[{"id": "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", "label": 5.0}])
        assert answer.status_code == 200, answer.text  # for a prediction no replica served
    finally:
        for client in clients:
            client.close()
        for server in servers:
            server.stop()

    export = tmp_path / "export"
    for name, log in zip("ab", logs, strict=True):
        assert f"as replica {name}" in invoke("log", "export", "--log", str(log), "--to", str(export),
                                              "--replica", name)
    union = read_log_export(export)
    assert sorted(union["id"]) == sorted(ids) and union["timestamp"].is_monotonic_increasing
    labelled = union.dropna(subset=["label"]).set_index("id")
    assert len(labelled) == 500 and union.attrs["unmatched_labels"] == 1
    assert all(labelled.loc[i, "label"] == truth[i] for i in labelled.index)

    out = invoke("monitor", "--model", f"{MODEL}@champion", "--data", str(export), "--rows", "200",
                 "--format", "json", "--tracking-uri", uri)
    windows = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert [w["rows"] for w in windows] == [200, 200, 200]  # every acknowledged row, once
    assert [w["metrics"]["performance/labelled_rows"] for w in windows] == [200, 200, 100]
    for number, window in enumerate(windows[:2]):  # the first 400 rows in time order, each window checked
        rows = union.iloc[200 * number: 200 * (number + 1)]
        expected = mean_absolute_error(rows["label"], [served[i][0] for i in rows["id"]])
        assert np.isclose(window["metrics"]["performance/mae"], expected, rtol=1e-9)
    assert "1 label(s) in the export match no prediction of its replicas" in out


def test_a_second_log_under_a_taken_replica_name_is_refused(tmp_path: Path) -> None:
    from driftloop.data.inference_log import InferenceLog, PredictionBatch, new_row_ids
    from driftloop.data.log_export import export_log
    from driftloop.errors import DriftloopError

    ts = pd.Timestamp("2024-05-01T12:00:00", tz="UTC").value
    for name in ("one.db", "two.db"):
        with InferenceLog(tmp_path / name) as log:
            log.submit_predictions(PredictionBatch(new_row_ids(2, ts), ts, "m", "1", {"x": np.array([1.0, 2.0])},
                                                   [0.5, 0.7])).result()
    export_log(tmp_path / "one.db", tmp_path / "export", "web")
    try:
        export_log(tmp_path / "two.db", tmp_path / "export", "web")
    except DriftloopError as error:
        assert "Replica 'web' of this export was written from another inference log" in str(error)
    else:
        raise AssertionError("a second log overwrote replica 'web'")
    assert len(read_log_export(tmp_path / "export")) == 2  # the first log's rows are intact
    export_log(tmp_path / "two.db", tmp_path / "export", "web-2")
    assert len(read_log_export(tmp_path / "export")) == 4


def test_every_replica_stream_detections_reach_the_monitor_of_the_export(start_server, tmp_path: Path) -> None:
    """Each replica's log writer runs ADWIN (the default) on its own share of the traffic: red wines, then strong
    white wines (higher predictions and errors). The export carries every replica's detectors and detections, and
    ``monitor --data <export>`` counts each detection in the window of its row, as it does on a single log."""
    from driftloop.data.inference_log import read_stream_events
    from driftloop.data.log_export import read_export_stream_detectors, read_export_stream_events
    from tests.serve.test_stream_service import wines

    _, uri, logs, servers = two_replicas(start_server, tmp_path)
    traffic = pd.concat([wines("red", 1_000, seed=1), wines("white", 700, seed=2, alcohol_over=12)],
                        ignore_index=True)
    clients = [httpx.Client(base_url=server.url, timeout=60) for server in servers]
    try:
        for number, start in enumerate(range(0, len(traffic), 50)):
            rows = traffic.iloc[start: start + 50]
            client = clients[number % 2]
            answer = client.post("/predict", json={"dataframe_records": rows[COLUMNS].astype("float64")
                                                   .to_dict(orient="records")})
            assert answer.status_code == 200, answer.text
            labels = [{"id": i, "label": float(q)} for i, q in zip(answer.json()["ids"], rows["quality"], strict=True)]
            assert client.post("/feedback", json=labels).status_code == 200  # to the replica that served the rows
    finally:
        for client in clients:
            client.close()
        for server in servers:
            server.stop()
    per_replica = [read_stream_events(log) for log in logs]
    assert all(len(events) for events in per_replica)  # each replica saw the change in its own streams

    export = tmp_path / "export"
    for name, log, events in zip("ab", logs, per_replica, strict=True):
        assert f"with {len(events)} detection(s)" in invoke("log", "export", "--log", str(log), "--to", str(export),
                                                            "--replica", name)
    detectors = read_export_stream_detectors(export)
    assert sorted(zip(detectors["replica"], detectors["signal"])) == [("a", "errors"), ("a", "predictions"),
                                                                      ("b", "errors"), ("b", "predictions")]
    assert set(detectors["parameters"].map(json.dumps)) == {json.dumps({"clock": 32, "delta": 0.002,
                                                                         "grace_period": 10, "max_buckets": 5,
                                                                         "min_window_length": 5})}
    events = read_export_stream_events(export)
    assert sorted(events["row_id"]) == sorted(pd.concat(per_replica)["row_id"])
    assert events["timestamp"].is_monotonic_increasing and set(events["replica"]) == {"a", "b"}

    out = invoke("monitor", "--model", f"{MODEL}@champion", "--data", str(export), "--rows", "500",
                 "--format", "json", "--tracking-uri", uri)
    windows = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert [w["rows"] for w in windows] == [500, 500, 500, 200]
    counts = [{k: v for k, v in w["metrics"].items() if k.startswith("stream/")} for w in windows]
    assert all(set(window) == {"stream/adwin/predictions", "stream/adwin/errors"} for window in counts)
    assert sum(sum(window.values()) for window in counts) == len(events)  # each detection of both replicas, once
    union = read_log_export(export)
    for window, window_counts in zip(windows, counts, strict=True):
        rows = union["id"].iloc[500 * window["window"]: 500 * window["window"] + window["rows"]]
        for signal in ("predictions", "errors"):
            found = events[(events["signal"] == signal) & events["row_id"].isin(rows)]
            assert window_counts[f"stream/adwin/{signal}"] == len(found)
            assert any(r.startswith(f"stream drift: adwin on {signal}: {len(found)} change(s)")
                       for r in window["reasons"]) == bool(len(found))
    assert sum(counts[0].values()) == 0 and sum(counts[2].values()) + sum(counts[3].values()) >= 2  # the change

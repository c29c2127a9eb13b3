"""The service's streaming detectors end to end: a real ``driftloop serve`` takes traffic and labels, its log
records the detections, and ``driftloop monitor`` on the log turns them into ``stream/<detector>/<signal>`` metrics
(in the JSON output and in MLflow) and ``stream drift`` reasons (and a warning, through the default rule ``stream
detection``, which a rules file can switch off); traffic that does not change records none. The detectors' state
survives a restart of the service, and the detectors can be chosen, configured or switched off, with a one-line
error for a bad parameter."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from mlflow import MlflowClient

from driftloop.cli.main import cli
from driftloop.data.inference_log import read_inference_log, read_stream_detectors, read_stream_events
from driftloop.stream import DETECTORS
from tests.conftest import REPO, copy_store
from tests.serve.conftest import COLUMNS

MODEL = "wine-quality"
ROWS = 500  # rows per monitoring window


def wines(colour: str, n: int, seed: int, alcohol_over: float = 0.0) -> pd.DataFrame:
    """``n`` wines drawn at random (without replacement), of more than ``alcohol_over`` % alcohol."""
    frame = pd.read_csv(REPO / "examples" / "wine" / "data" / f"winequality-{colour}.csv", sep=";")
    return frame[frame["alcohol"] > alcohol_over].sample(n=n, random_state=seed).reset_index(drop=True)


def send(server, frame: pd.DataFrame, batch: int = 50) -> list[str]:
    """Predict every row in requests of ``batch`` rows, then send every label; the ids in order."""
    ids: list[str] = []
    with httpx.Client(base_url=server.url, timeout=60) as http:
        for start in range(0, len(frame), batch):
            records = frame[COLUMNS].iloc[start:start + batch].astype("float64").to_dict(orient="records")
            answer = http.post("/predict", json={"dataframe_records": records})
            assert answer.status_code == 200, answer.text
            ids.extend(answer.json()["ids"])
        labels = [{"id": i, "label": int(q)} for i, q in zip(ids, frame["quality"], strict=True)]
        answer = http.post("/feedback", json=labels)
        assert answer.status_code == 200 and answer.json()["orphans"] == 0, answer.text
    return ids


def monitor(uri: str, log: Path, *extra: str) -> list[dict]:
    result = CliRunner().invoke(cli, ["monitor", "--model", f"{MODEL}@champion", "--data", str(log), "--rows",
                                      str(ROWS), "--format", "json", "--tracking-uri", uri, *extra])
    assert result.exit_code in (0, 3), result.output
    return [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]


def logged_metrics(uri: str, prefix: str) -> dict[str, list[tuple[int, float]]]:
    """Every metric starting with ``prefix`` of the monitoring runs (closed windows and open ones): key -> points."""
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("model-monitoring").experiment_id
    found: dict[str, list[tuple[int, float]]] = {}
    for run in client.search_runs([experiment]):
        for key in run.data.metrics:
            if key.startswith(prefix):
                history = client.get_metric_history(run.info.run_id, key)
                found.setdefault(key, []).extend((m.step, m.value) for m in history)
    return found


def test_a_shift_becomes_stream_metrics_and_reasons(start_server, trained_wine_store: Path, tmp_path: Path) -> None:
    uri = copy_store(trained_wine_store, tmp_path)
    log = tmp_path / "inference-log.db"
    server = start_server("--model", f"{MODEL}@champion", "--tracking-uri", uri, "--log", str(log))
    red = wines("red", 1_000, seed=1)
    white = wines("white", 700, seed=2, alcohol_over=12)  # another wine, stronger: higher predictions and errors
    send(server, pd.concat([red, white], ignore_index=True))
    assert server.stop() is not None

    events = read_stream_events(log)
    windows = monitor(uri, log)
    assert [w["rows"] for w in windows] == [ROWS, ROWS, ROWS, 200]
    keys = {"stream/adwin/predictions", "stream/adwin/errors"}  # ADWIN runs by default, on both streams
    counts = [{k: v for k, v in w["metrics"].items() if k.startswith("stream/")} for w in windows]
    assert all(set(window) == keys for window in counts)
    assert all(value == 0 for window in counts[:2] for value in window.values())  # red wine: nothing
    assert counts[2]["stream/adwin/predictions"] >= 1 and counts[2]["stream/adwin/errors"] >= 1  # the change
    assert sum(sum(window.values()) for window in counts) == len(events)  # each detection in one window
    reasons = windows[2]["reasons"]
    for signal in ("predictions", "errors"):
        assert any(r.startswith(f"stream drift: adwin on {signal}: ") and "change(s) detected (model version 1; "
                   "first at row " in r for r in reasons), reasons
    assert f"stream detection: stream/adwin/predictions = {counts[2]['stream/adwin/predictions']:g} >= 1" in reasons
    assert windows[2]["verdict"] in ("warn", "alert")
    assert not any(r.startswith("stream drift") for w in windows[:2] for r in w["reasons"])
    assert [w["verdict"] for w in windows[:2]] == ["ok", "ok"]

    logged = logged_metrics(uri, "stream/")
    assert set(logged) == keys
    for key in keys:
        assert sorted(logged[key]) == [(w["window"], w["metrics"][key]) for w in windows]
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("model-monitoring").experiment_id
    parent = next(run for run in client.search_runs([experiment]) if "mlflow.parentRunId" not in run.data.tags)
    report = Path(client.download_artifacts(parent.info.run_id, "report.html", str(tmp_path))).read_text()
    assert "stream drift: adwin on predictions" in report

    # a rules file switches the rule off: the detections stay in the metrics and the reasons, no rule fires on them
    rules = tmp_path / "rules.toml"
    rules.write_text('disable = ["stream detection"]\n')
    quiet = monitor(uri, log, "--rules", str(rules), "--experiment", "without-the-rule")
    assert [w["metrics"]["stream/adwin/predictions"] for w in quiet] == [w["stream/adwin/predictions"] for w in counts]
    assert any(r.startswith("stream drift: adwin on predictions: ") for r in quiet[2]["reasons"])
    assert not any(r.startswith("stream detection") for w in quiet for r in w["reasons"])


def test_stationary_traffic_records_no_detection(start_server, trained_wine_store: Path, tmp_path: Path) -> None:
    uri = copy_store(trained_wine_store, tmp_path)
    log = tmp_path / "inference-log.db"
    server = start_server("--model", f"{MODEL}@champion", "--tracking-uri", uri, "--log", str(log))
    send(server, wines("red", 1_500, seed=3))
    assert server.stop() is not None
    detectors = read_stream_detectors(log)
    assert sorted(detectors["signal"]) == ["errors", "predictions"] and set(detectors["n_values"]) == {1_500}
    assert read_stream_events(log).empty
    windows = monitor(uri, log)
    assert len(windows) == 3
    for window in windows:
        stream = {k: v for k, v in window["metrics"].items() if k.startswith("stream/")}
        assert stream == {"stream/adwin/predictions": 0.0, "stream/adwin/errors": 0.0}
        assert not any(r.startswith("stream drift") for r in window["reasons"])


def test_the_detectors_state_survives_a_restart(start_server, wine_uri: str, tmp_path: Path) -> None:
    """Part of a shifted stream, a killed service (SIGKILL), the rest to a new one on the same log, killed too, then
    a third start: the detections of every detector are those of detectors fed the whole stream at once (ADWIN and
    Page-Hinkley checked against river, CUSUM against the textbook recursion in tests/stream). The values that a
    killed writer had committed but not yet given to its detectors are taken from the log by the next one."""
    log = tmp_path / "inference-log.db"
    traffic = pd.concat([wines("red", 600, seed=4), wines("white", 600, seed=5, alcohol_over=12)], ignore_index=True)
    every = [arg for name in DETECTORS for arg in ("--stream-detector", name)]
    for part in (traffic.iloc[:700], traffic.iloc[700:]):
        server = start_server("--model", f"{MODEL}@champion", "--tracking-uri", wine_uri, "--log", str(log), *every)
        send(server, part)
        server.kill()
    server = start_server("--model", f"{MODEL}@champion", "--tracking-uri", wine_uri, "--log", str(log), *every)
    assert server.stop() is not None
    logged = read_inference_log(log)
    predictions = logged["prediction"].to_numpy(dtype=np.float64)
    errors = np.abs(predictions - logged["label"].to_numpy(dtype=np.float64))
    events = read_stream_events(log)
    for signal, values in (("predictions", predictions), ("errors", errors)):
        for name, kind in DETECTORS.items():
            mine = events[(events["signal"] == signal) & (events["detector"] == name)]
            assert mine["position"].tolist() == kind().update_many(values), (signal, name)
            assert mine["row_id"].tolist() == [logged["id"].iloc[p] for p in mine["position"]]
    assert len(events[events["detector"] == "adwin"]) >= 1
    assert set(read_stream_detectors(log)["n_values"]) == {1_200}


def test_detectors_can_be_chosen_configured_and_switched_off(start_server, wine_uri: str, tmp_path: Path) -> None:
    log = tmp_path / "configured.db"
    server = start_server("--model", f"{MODEL}@champion", "--tracking-uri", wine_uri, "--log", str(log),
                          "--stream-detector", "page_hinkley:threshold=2.5,delta=0.01", "--stream-detector", "cusum")
    assert "Streaming detectors: page_hinkley (threshold=2.5, delta=0.01), cusum" in server.output.read_text()
    traffic = wines("red", 300, seed=6)
    send(server, traffic)
    assert server.stop() is not None  # the writer's last flush: its detectors take what is queued
    detectors = read_stream_detectors(log)
    assert sorted(set(detectors["detector"])) == ["cusum", "page_hinkley"]
    chosen = detectors.loc[detectors["detector"] == "page_hinkley", "parameters"].iloc[0]
    assert (chosen["threshold"], chosen["delta"], chosen["min_instances"]) == (2.5, 0.01, 30)

    off = tmp_path / "off.db"
    server = start_server("--model", f"{MODEL}@champion", "--tracking-uri", wine_uri, "--log", str(off),
                          "--no-stream-detectors")
    send(server, traffic.iloc[:50])
    server.kill()
    assert read_stream_detectors(off).empty and read_stream_events(off).empty


@pytest.mark.parametrize("arguments, message", [
    (["--stream-detector", "page_hinkley:threshold=-1"],
     "'page_hinkley:threshold=-1': PageHinkley: threshold must be a finite number > 0; got -1."),
    (["--stream-detector", "adwin:delta=0.5,clok=4"],
     "'adwin:delta=0.5,clok=4': ADWIN has no parameter 'clok'; its parameters: delta, clock, max_buckets, "
     "min_window_length, grace_period."),
    (["--stream-detector", "kswin"], "'kswin': unknown stream detector 'kswin'; expected one of adwin, "
                                     "page_hinkley, cusum, optionally followed by :PARAMETER=VALUE,..."),
    (["--stream-detector", "cusum:warmup=ten"],
     "'cusum:warmup=ten': CUSUM: warmup must be an integer >= 2; got 'ten'."),
    (["--stream-detector", "adwin", "--no-stream-detectors"], "--stream-detector chooses the streaming detectors"),
])
def test_bad_detector_settings_are_named(wine_uri: str, tmp_path: Path, arguments: list[str], message: str) -> None:
    result = CliRunner().invoke(cli, ["serve", "--model", f"{MODEL}@champion", "--tracking-uri", wine_uri, "--log",
                                      str(tmp_path / "log.db"), "--port", "1", *arguments])
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert not (tmp_path / "log.db").exists()


def test_the_help_lists_every_parameter() -> None:
    text = " ".join(CliRunner().invoke(cli, ["serve", "--help"], terminal_width=10_000).output.split())
    for name, kind in DETECTORS.items():
        assert f"{name}: {', '.join(kind.parameters)}" in text

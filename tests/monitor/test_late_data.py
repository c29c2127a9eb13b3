"""Late labels and late rows reach their windows: open windows are re-assessed on every pass, closed ones are final;
no (metric, step) ever holds two points; verdict revisions are recorded; an alert is notified once; the run ends
FINISHED. Real MLflow on SQLite, the real wine model, the real CLI and ``run_monitor``."""

from __future__ import annotations

import json
import os
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from mlflow import MlflowClient

from driftloop.cli.main import cli
from tests.conftest import WINE_PROJECT, copy_store

COVERAGE_RULES = """
disable = ["*"]  # this rule only, none of the built-in ones

[[rule]]
name = "labels missing"
metric = "performance/label_coverage"
comparison = "<"
threshold = 1.0
severity = "alert"
"""


@pytest.fixture
def wine_store(trained_wine_store, workdir):
    return copy_store(trained_wine_store, workdir)


def _red() -> pd.DataFrame:
    frame = pd.read_csv(WINE_PROJECT / "data" / "winequality-red.csv", sep=";")
    frame.insert(0, "id", [f"red-{i}" for i in range(len(frame))])
    frame["ts"] = pd.date_range("2024-01-04", periods=len(frame), freq="30min").astype(str)  # a Thursday: weeks
    return frame  # since the epoch start on Thursdays, so 1,599 rows make 5 windows of 7 days, the last partial


def _monitor(uri: str, *args: str):
    return CliRunner().invoke(cli, ["monitor", "--model", "wine-quality@champion", "--tracking-uri", uri, *args])


def _runs(client: MlflowClient, experiment: str = "model-monitoring") -> tuple:
    """The monitoring run and its provisional child (or None)."""
    experiment_id = client.get_experiment_by_name(experiment).experiment_id
    runs = client.search_runs([experiment_id])
    (main,) = [r for r in runs if r.data.tags.get("driftloop.kind") == "monitoring"]
    children = [r for r in runs if r.data.tags.get("driftloop.kind") == "provisional"]
    assert len(children) <= 1
    return main, (children[0] if children else None)


def _series(client: MlflowClient, run) -> dict[str, dict[int, float]]:
    """Every metric of a run as {key: {step: value}}, asserting that no (key, step) holds two points."""
    series = {}
    for key in run.data.metrics:
        history = client.get_metric_history(run.info.run_id, key)
        counts = Counter(point.step for point in history)
        assert max(counts.values()) == 1, (key, counts)
        series[key] = {point.step: point.value for point in history}
    return series


def _chart(client: MlflowClient, experiment: str = "model-monitoring") -> dict[str, dict[int, float]]:
    """What the chart view shows: the final series, continued by the provisional one (steps never overlap)."""
    main, child = _runs(client, experiment)
    chart = _series(client, main)
    if child is not None:
        for key, points in _series(client, child).items():
            assert not set(points) & set(chart.get(key, {})), key
            chart.setdefault(key, {}).update(points)
    return chart


def _same_figures(chart: dict, oracle: dict) -> None:
    assert set(chart) == set(oracle)
    for key in oracle:
        assert chart[key].keys() == oracle[key].keys(), key
        for step, value in oracle[key].items():
            assert chart[key][step] == pytest.approx(value, rel=1e-12, abs=1e-12), (key, step)


def test_labels_arriving_in_three_batches_reach_their_windows(wine_store, workdir):
    red = _red()
    red.drop(columns=["quality"]).to_csv(workdir / "inputs.csv", index=False)
    red.to_csv(workdir / "labelled.csv", index=False)
    (workdir / "rules.toml").write_text(COVERAGE_RULES)
    common = ["--data", str(workdir / "inputs.csv"), "--timestamp-column", "ts", "--window", "7d",
              "--labels", str(workdir / "labels.csv"), "--target", "quality", "--label-delay", "60d",
              "--rules", str(workdir / "rules.toml")]
    client = MlflowClient(wine_store)
    passes = []
    for batch, labelled in enumerate((500, 1100, len(red))):
        red[["id", "quality"]].iloc[:labelled].to_csv(workdir / "labels.csv", index=False)
        result = _monitor(wine_store, *common, "--format", "json")
        assert result.exit_code in (0, 3), result.output
        passes.append([json.loads(line) for line in result.output.splitlines() if line.startswith("{")])
        main, _ = _runs(client)
        assert main.info.status == "FINISHED"
        # the oracle: one pass over the same rows with the labels known so far, in a store of its own
        oracle_data = red.copy()
        oracle_data.loc[labelled:, "quality"] = None
        oracle_data.to_csv(workdir / f"oracle-{batch}.csv", index=False)
        oracle = _monitor(wine_store, "--data", str(workdir / f"oracle-{batch}.csv"), "--timestamp-column", "ts",
                          "--window", "7d", "--target", "quality", "--rules", str(workdir / "rules.toml"),
                          "--label-delay", "60d", "--experiment", f"oracle-{batch}")
        assert oracle.exit_code in (0, 3), oracle.output
        _same_figures(_chart(client), _chart(client, f"oracle-{batch}"))
    states = [{w["window"]: w["state"] for w in found} for found in passes]
    assert states[0] == {0: "closed", 1: "open", 2: "open", 3: "open", 4: "open"}  # 500 rows: window 0 labelled
    assert states[1] == {1: "closed", 2: "closed", 3: "open", 4: "open"}
    assert states[2] == {3: "closed", 4: "open"}  # the last week is not over: open
    coverage = _chart(client)["performance/label_coverage"]
    assert coverage == {0: 1.0, 1: 1.0, 2: 1.0, 3: 1.0, 4: 1.0}
    # Window 1 was alerted (labels missing) on the first pass, then revised: recorded, not rewritten.
    main, _ = _runs(client)
    local = client.download_artifacts(main.info.run_id, "verdicts", str(workdir / "verdicts"))
    record = [entry for name in sorted(os.listdir(local)) for entry in json.loads(Path(local, name).read_text())]
    window_1 = [(e["previous"], e["verdict"], e["closed"]) for e in record if e["window"] == 1]
    assert window_1 == [(None, "alert", False), ("alert", "ok", True)]
    assert main.data.tags["driftloop.window_definition"] == "by time, 7 days 00:00:00 of 'ts'"


def test_rows_appended_to_a_logged_window_are_monitored(wine_store, workdir):
    red = _red()
    red.iloc[:700].to_csv(workdir / "part.csv", index=False)  # 14.6 days: window 2 holds 6 rows
    red.iloc[:1000].to_csv(workdir / "more.csv", index=False)
    client = MlflowClient(wine_store)
    for path in ("part.csv", "more.csv"):
        result = _monitor(wine_store, "--data", str(workdir / path), "--timestamp-column", "ts", "--window", "7d",
                          "--target", "quality")
        assert result.exit_code in (0, 3), result.output
    oracle = _monitor(wine_store, "--data", str(workdir / "more.csv"), "--timestamp-column", "ts", "--window", "7d",
                      "--target", "quality", "--experiment", "oracle")
    assert oracle.exit_code in (0, 3), oracle.output
    chart = _chart(client)
    _same_figures(chart, _chart(client, "oracle"))
    assert sum(chart["rows"].values()) == 1000  # every row once


def test_a_growing_file_cut_by_count_counts_each_row_once(wine_store, workdir):
    red = _red().drop(columns=["ts"])
    client = MlflowClient(wine_store)
    for rows in (1000, 1599):
        red.iloc[:rows].to_csv(workdir / "log.csv", index=False)
        result = _monitor(wine_store, "--data", str(workdir / "log.csv"), "--rows", "400", "--target", "quality")
        assert result.exit_code in (0, 3), result.output
        chart = _chart(client)
        assert sum(chart["rows"].values()) == rows
    main, child = _runs(client)
    assert _series(client, main)["rows"] == {0: 400.0, 1: 400.0, 2: 400.0}
    assert _series(client, child)["rows"] == {3: 399.0}  # the partial window stays open until it is full
    assert main.data.tags["driftloop.window_definition"] == "by count, 400 rows in file order"


def test_rows_for_a_closed_window_are_reported_not_dropped_silently(wine_store, workdir):
    red = _red()
    red.iloc[:1000].to_csv(workdir / "first.csv", index=False)
    first = _monitor(wine_store, "--data", str(workdir / "first.csv"), "--timestamp-column", "ts", "--window", "7d",
                     "--target", "quality")
    assert first.exit_code in (0, 3), first.output
    late = pd.concat([red.iloc[:1000], red.iloc[[5, 6, 7]].assign(id=["late-1", "late-2", "late-3"])])
    late.to_csv(workdir / "late.csv", index=False)  # three rows stamped in window 0, closed by the first pass
    again = _monitor(wine_store, "--data", str(workdir / "late.csv"), "--timestamp-column", "ts", "--window", "7d",
                     "--target", "quality")
    assert "3 row(s) and 3 label(s) arrived for 1 window(s) closed by an earlier pass" in again.output
    assert "--label-delay" in again.output


def test_another_window_definition_goes_to_another_run(wine_store, workdir):
    _red().to_csv(workdir / "red.csv", index=False)
    for rows in ("400", "500"):
        result = _monitor(wine_store, "--data", str(workdir / "red.csv"), "--rows", rows, "--target", "quality")
        assert result.exit_code in (0, 3), result.output
    client = MlflowClient(wine_store)
    runs = client.search_runs([client.get_experiment_by_name("model-monitoring").experiment_id],
                              filter_string="tags.`driftloop.kind` = 'monitoring'")
    assert sorted(r.data.tags["driftloop.window_definition"] for r in runs) == [
        "by count, 400 rows in file order", "by count, 500 rows in file order"]


def test_experiments_open_in_the_model_training_view(wine_store, workdir):
    result = CliRunner().invoke(cli, ["experiments", "create", "--experiment-name", "mine",
                                      "--tracking-uri", wine_store])
    assert result.exit_code == 0, result.output
    _red().to_csv(workdir / "red.csv", index=False)
    shown = _monitor(wine_store, "--data", str(workdir / "red.csv"), "--rows", "800", "--target", "quality")
    client = MlflowClient(wine_store)
    for name in ("mine", "model-monitoring"):
        assert client.get_experiment_by_name(name).tags["mlflow.experimentKind"] == "custom_model_development"
    assert "?workflowType=machine_learning" in shown.output
    main, child = _runs(client)
    assert main.info.status == "FINISHED" and child.info.status == "FINISHED"


class _Hook(BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):  # noqa: N802 (http.server's naming)
        self.received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_two_concurrent_monitors_send_each_alert_once(wine_store, workdir, monkeypatch):
    """Two passes of one model at once, forced to interleave: each reaches the point where it reads the record
    before writing, and waits there (up to 5 s) for the other. Without the monitor lock both would read an empty
    record and both send the alerts; with it the second waits for the first and finds them sent."""
    import driftloop.monitor.job as job

    red = _red()
    red.drop(columns=["quality"]).to_csv(workdir / "inputs.csv", index=False)
    red[["id", "quality"]].iloc[:500].to_csv(workdir / "labels.csv", index=False)
    (workdir / "rules.toml").write_text(COVERAGE_RULES)
    barrier = threading.Barrier(2)
    reads: Counter = Counter()
    read_state = job.read_state

    def read_state_in_step(client, run_id):
        reads[threading.current_thread().name] += 1
        if reads[threading.current_thread().name] == 2:  # the read before writing
            try:
                barrier.wait(timeout=5)
            except threading.BrokenBarrierError:  # the other pass is not there (it waits for the lock)
                pass
        return read_state(client, run_id)

    monkeypatch.setattr(job, "read_state", read_state_in_step)
    _Hook.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    options = job.MonitorOptions(timestamp_column="ts", window="7d", labels_path=str(workdir / "labels.csv"),
                                 target="quality", label_delay="60d", rules_path=str(workdir / "rules.toml"),
                                 webhook=f"http://127.0.0.1:{server.server_address[1]}/hook")
    outcomes = []

    def monitor() -> None:
        outcomes.append(job.run_monitor(MlflowClient(wine_store), "wine-quality@champion",
                                        str(workdir / "inputs.csv"), options))

    try:
        passes = [threading.Thread(target=monitor, name=f"pass-{i}") for i in range(2)]
        for thread in passes:
            thread.start()
        for thread in passes:
            thread.join(timeout=600)
    finally:
        server.shutdown()
    assert len(outcomes) == 2
    assert sorted(len(outcome.alerts) for outcome in outcomes) == [0, 4]  # one raised them, the other found them
    alerted = [w["window"] for payload in _Hook.received for w in payload["fired"]]
    assert sorted(alerted) == [1, 2, 3, 4]  # windows 1-4 lack labels; each alert sent once
    _chart(MlflowClient(wine_store))  # no (metric, step) holds two points

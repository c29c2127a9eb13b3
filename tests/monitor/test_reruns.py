"""Re-runs stay exact: a pass with other windows or other data goes to its own run, and no (metric, step) ever holds
two points — after a crash between logging and recording, and with two monitor processes racing. Real MLflow on
SQLite, the real wine model, the real CLI, real processes and a real webhook server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from http.server import ThreadingHTTPServer

import pandas as pd
import pytest
from mlflow import MlflowClient

from driftloop.monitor.job import MonitorOptions, run_monitor
from driftloop.tracking.monitoring import read_state
from tests.conftest import REPO, copy_store
from tests.monitor.test_late_data import COVERAGE_RULES, _chart, _Hook, _monitor, _red, _runs, _series


@pytest.fixture
def wine_store(trained_wine_store, workdir):
    return copy_store(trained_wine_store, workdir)


def _monitoring_runs(client: MlflowClient) -> list:
    experiment_id = client.get_experiment_by_name("model-monitoring").experiment_id
    return client.search_runs([experiment_id], filter_string="tags.`driftloop.kind` = 'monitoring'",
                              order_by=["start_time ASC"])


def test_other_data_cut_by_count_goes_to_its_own_run(wine_store, workdir):
    red = _red().drop(columns=["ts"])
    red.iloc[:300].to_csv(workdir / "log.csv", index=False)
    first = _monitor(wine_store, "--data", str(workdir / "log.csv"), "--rows", "400", "--target", "quality")
    assert first.exit_code in (0, 3, 4), first.output
    assert "New monitoring run" in first.output
    red.to_csv(workdir / "log.csv", index=False)  # the log grew: the same data, the same run
    grown = _monitor(wine_store, "--data", str(workdir / "log.csv"), "--rows", "400", "--target", "quality")
    assert "Wrote to monitoring run" in grown.output and "other monitoring run" not in grown.output
    client = MlflowClient(wine_store)
    (run,) = _monitoring_runs(client)
    assert run.data.tags["driftloop.data_digest_rows"] == "400"  # extended from 300 to the whole first window
    red.iloc[::-1].to_csv(workdir / "other.csv", index=False)  # other rows: windows 0-3 are other windows
    other = _monitor(wine_store, "--data", str(workdir / "other.csv"), "--rows", "400", "--target", "quality",
                     "--format", "json")
    windows = [json.loads(line) for line in other.output.splitlines() if line.startswith("{")]
    assert [w["window"] for w in windows] == [0, 1, 2, 3]  # all assessed: none skipped as "already logged"
    runs = _monitoring_runs(client)
    assert len(runs) == 2 and {w["run_id"] for w in windows} == {runs[1].info.run_id}
    assert runs[0].data.tags["driftloop.data_digest"] != runs[1].data.tags["driftloop.data_digest"]
    assert f"New monitoring run {runs[1].info.run_id}" in other.output
    assert f"has 1 other monitoring run(s) here, with windows cut another way or from other data: " \
           f"{runs[0].info.run_id} (by count, 400 rows in file order of data " in other.output
    for run in runs:  # each run's chart holds its own data's windows, once
        assert _series(client, run)["rows"] == {0: 400.0, 1: 400.0, 2: 400.0}


def test_another_time_column_or_length_goes_to_its_own_run(wine_store, workdir):
    red = _red()
    red["ts2"] = pd.to_datetime(red["ts"]) + pd.Timedelta("3d")
    red.to_csv(workdir / "red.csv", index=False)
    for column, window in (("ts", "7d"), ("ts2", "7d"), ("ts", "14d"), ("ts", "7d")):
        result = _monitor(wine_store, "--data", str(workdir / "red.csv"), "--timestamp-column", column,
                          "--window", window, "--target", "quality")
        assert result.exit_code in (0, 3), result.output
    definitions = [r.data.tags["driftloop.window_definition"] for r in _monitoring_runs(MlflowClient(wine_store))]
    assert definitions == ["by time, 7 days 00:00:00 of 'ts'", "by time, 7 days 00:00:00 of 'ts2'",
                           "by time, 14 days 00:00:00 of 'ts'"]
    assert "Wrote to monitoring run" in result.output and "has 2 other monitoring run(s)" in result.output


def test_count_windows_say_which_rows_they_hold(wine_store, workdir):
    _red().drop(columns=["ts"]).to_csv(workdir / "red.csv", index=False)
    _Hook.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        result = _monitor(wine_store, "--data", str(workdir / "red.csv"), "--rows", "1000", "--target", "quality",
                          "--format", "json", "--webhook", f"http://127.0.0.1:{server.server_address[1]}/hook")
    finally:
        server.shutdown()
    windows = [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]
    assert [(w["first_row"], w["last_row"], w["rows"]) for w in windows] == [(1, 1000, 1000), (1001, 1599, 599)]
    assert all("start" not in w and "end" not in w for w in windows)
    assert "1970" not in result.output
    (payload,) = _Hook.received
    assert "1970" not in json.dumps(payload)
    assert payload["fired"][-1]["first_row"] == 1001 and " latest rows 1001–1599: " in payload["text"]
    assert result.exit_code == 3 and "latest rows 1001–1599: " in result.output


class _CrashingClient(MlflowClient):
    """A real client that fails once at a chosen call, as a process killed at that point would stop writing."""

    def __init__(self, uri: str, crash_at: str) -> None:
        super().__init__(uri)
        self.crash_at = crash_at
        self.metric_batches = 0

    def _crash(self, where: str) -> None:
        if self.crash_at == where:
            self.crash_at = ""
            raise RuntimeError(f"simulated crash at {where}")

    def log_batch(self, run_id, metrics=(), params=(), tags=(), synchronous=None):
        if metrics:
            self.metric_batches += 1
            if self.metric_batches == 2:
                self._crash("second metric batch")
        return super().log_batch(run_id, metrics, params, tags, synchronous=synchronous)

    def log_artifact(self, run_id, local_path, artifact_path=None):
        if os.path.basename(local_path).startswith("pass-"):
            self._crash("window record")
        return super().log_artifact(run_id, local_path, artifact_path)

    def delete_run(self, run_id):
        self._crash("delete run")
        return super().delete_run(run_id)


def _labelled_up_to(red: pd.DataFrame, rows: int, path) -> None:
    red[["id", "quality"]].iloc[:rows].to_csv(path, index=False)


@pytest.mark.parametrize("crash_at", ["window record", "second metric batch"])
def test_a_crash_between_logging_and_recording_logs_no_point_twice(wine_store, workdir, crash_at):
    """Ten windows of 150 rows close in the first pass (1,090 points: two batches); it dies after logging every
    point (before the record of the closed windows) or after the first batch. Labels arrive, and the next pass
    finds the windows unrecorded: it must not give any (metric, step) a second point with the newer figures."""
    red = _red().drop(columns=["ts"])
    red.drop(columns=["quality"]).to_csv(workdir / "inputs.csv", index=False)
    _labelled_up_to(red, 700, workdir / "labels.csv")
    options = MonitorOptions(rows=150, labels_path=str(workdir / "labels.csv"), target="quality")
    crashing = _CrashingClient(wine_store, crash_at)
    with pytest.raises(RuntimeError, match="simulated crash"):
        run_monitor(crashing, "wine-quality@champion", str(workdir / "inputs.csv"), options)
    client = MlflowClient(wine_store)
    main, _ = _runs(client)
    assert main.info.status == "FAILED"
    _labelled_up_to(red, len(red), workdir / "labels.csv")
    outcome = run_monitor(client, "wine-quality@champion", str(workdir / "inputs.csv"), options)
    assert outcome.closed_steps == list(range(10)) and outcome.open_steps == [10]
    main, child = _runs(client)
    series = _series(client, main)  # asserts that no (metric, step) holds two points
    assert main.data.tags["driftloop.writing_steps"] == ""
    state = read_state(client, main.info.run_id)
    assert sorted(state.closed) == list(range(10))
    for step, window in state.closed.items():  # the record says what the chart shows, for every figure
        for key, value in window.metrics.items():
            if value == value:
                assert series[key][step] == value, (key, step)
    assert {key: set(points) for key, points in series.items() if key == "rows"} == {"rows": set(range(10))}
    if crash_at == "window record":  # every point was in: the first pass's figures are the windows' figures
        assert [series["performance/label_coverage"][s] for s in range(10)] == [1.0] * 4 + [2 / 3] + [0.0] * 5
    again = run_monitor(client, "wine-quality@champion", str(workdir / "inputs.csv"), options)
    assert again.metric_points < 150  # only the open window is written again
    assert any("label(s) arrived for" in note for note in again.notes)  # the late labels are reported
    _chart(client)


def test_a_crash_while_replacing_the_open_windows_leaves_one_child(wine_store, workdir):
    red = _red()
    red.drop(columns=["quality"]).to_csv(workdir / "inputs.csv", index=False)
    options = MonitorOptions(timestamp_column="ts", window="7d", labels_path=str(workdir / "labels.csv"),
                             target="quality", label_delay="60d")
    for labelled, client in ((100, MlflowClient(wine_store)), (200, _CrashingClient(wine_store, "delete run")),
                             (300, MlflowClient(wine_store))):
        _labelled_up_to(red, labelled, workdir / "labels.csv")
        try:
            run_monitor(client, "wine-quality@champion", str(workdir / "inputs.csv"), options)
        except RuntimeError as error:  # the second pass dies after writing its child, before deleting the first
            assert "simulated crash at delete run" in str(error)
    client = MlflowClient(wine_store)
    main, child = _runs(client)  # one provisional child left, not two
    assert child is not None and _series(client, child)["performance/labelled_rows"][0] == 300.0
    _chart(client)


def test_two_monitor_processes_racing_write_each_point_once(wine_store, workdir):
    """Two ``driftloop monitor`` processes on one model version and one store, started together: one run, each
    window closed once, each alert sent once, and the chart equals a single pass's."""
    red = _red()
    red.drop(columns=["quality"]).to_csv(workdir / "inputs.csv", index=False)
    _labelled_up_to(red, 500, workdir / "labels.csv")
    (workdir / "rules.toml").write_text(COVERAGE_RULES)
    _Hook.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    common = ["--data", "inputs.csv", "--timestamp-column", "ts", "--window", "7d", "--labels", "labels.csv",
              "--target", "quality", "--rules", "rules.toml", "--label-delay", "20d"]
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")]),
                   "MLFLOW_DISABLE_TELEMETRY": "true"}
    command = [sys.executable, "-m", "driftloop", "monitor", "--model", "wine-quality@champion",
               "--tracking-uri", wine_store, *common, "--webhook",
               f"http://127.0.0.1:{server.server_address[1]}/hook", "--format", "json"]
    try:
        processes = [subprocess.Popen(command, cwd=workdir, env=environment, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True) for _ in range(2)]
        results = [process.communicate(timeout=600) for process in processes]
    finally:
        server.shutdown()
    assert sorted(process.returncode for process in processes) == [0, 3], results
    client = MlflowClient(wine_store)
    assert len(_monitoring_runs(client)) == 1
    alerted = [w["window"] for payload in _Hook.received for w in payload["fired"]]
    assert sorted(alerted) == [1, 2, 3, 4]  # windows 1-4 lack labels: each alert sent once, by one process
    oracle = _monitor(wine_store, *common, "--experiment", "oracle")
    assert oracle.exit_code == 3, oracle.output
    chart = _chart(client)  # no (metric, step) holds two points, in either run
    expected = _chart(client, "oracle")
    assert chart.keys() == expected.keys()
    for key, points in expected.items():
        assert chart[key] == pytest.approx(points, rel=1e-12, abs=1e-12), key

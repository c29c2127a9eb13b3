"""`driftloop monitor` end to end on a real MLflow store, with the real wine model."""

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from mlflow import MlflowClient

from driftloop.cli.main import cli
from tests.conftest import WINE_PROJECT, copy_store

FEATURES_OF_WINE = 11


@pytest.fixture
def wine_store(trained_wine_store, workdir):
    """A private copy of the trained wine store, in the working folder."""
    return copy_store(trained_wine_store, workdir)


def _wine(color: str) -> pd.DataFrame:
    frame = pd.read_csv(WINE_PROJECT / "data" / f"winequality-{color}.csv", sep=";")
    frame.insert(0, "id", [f"{color}-{i}" for i in range(len(frame))])
    frame["ts"] = pd.date_range("2024-01-01", periods=len(frame), freq="30min").astype(str)
    return frame


def _monitor(uri, *args, columns: int = 80):
    """``driftloop monitor`` in a terminal ``columns`` wide."""
    return CliRunner().invoke(cli, ["monitor", "--model", "wine-quality@champion", "--tracking-uri", uri, *args],
                              env={"COLUMNS": str(columns)})


def test_red_wine_model_on_white_wine_flags_drift_and_falling_accuracy(wine_store, workdir):
    _wine("white").to_csv(workdir / "white.csv", index=False)
    result = _monitor(wine_store, "--data", str(workdir / "white.csv"), "--timestamp-column", "ts",
                      "--window", "7d", "--target", "quality", "--format", "json")
    assert result.exit_code == 3, result.output  # an alert fired
    windows = [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]
    assert len(windows) == 16 and sum(w["rows"] for w in windows) == 4898  # every row in a window
    client = MlflowClient(wine_store)
    champion = client.get_model_version_by_alias("wine-quality", "champion")
    training_accuracy = client.get_run(champion.run_id).data.metrics["accuracy"]
    for window in windows[1:-1]:  # full weeks
        metrics = window["metrics"]
        assert metrics["drift/total sulfur dioxide/ks"] > 0.5
        assert metrics["drift/total sulfur dioxide/ks_p_value"] < 1e-6
        assert metrics["drift/volatile acidity/ks"] > 0.5
        assert "total sulfur dioxide" in " ".join(window["reasons"])
        assert metrics["performance/label_coverage"] == 1.0
    accuracy = np.mean([w["metrics"]["performance/accuracy"] for w in windows])
    assert accuracy < 0.9 * training_accuracy
    assert any(w["verdict"] == "alert" for w in windows)


def test_metrics_are_time_series_and_a_second_pass_adds_no_duplicates(wine_store, workdir):
    white = _wine("white")
    white.iloc[:2000].to_csv(workdir / "part.csv", index=False)
    white.to_csv(workdir / "all.csv", index=False)
    first = _monitor(wine_store, "--data", str(workdir / "part.csv"), "--timestamp-column", "ts", "--window", "7d",
                     "--target", "quality")
    assert first.exit_code in (0, 3), first.output
    client = MlflowClient(wine_store)
    experiment = client.get_experiment_by_name("model-monitoring")
    (run,) = client.search_runs([experiment.experiment_id], filter_string="tags.`driftloop.kind` = 'monitoring'")
    assert run.data.tags["driftloop.model_name"] == "wine-quality"
    assert run.data.tags["driftloop.model_alias"] == "champion"
    history = client.get_metric_history(run.info.run_id, "rows")
    assert [m.step for m in history] == list(range(len(history)))
    assert sorted(m.timestamp for m in history) == [m.timestamp for m in history]
    again = _monitor(wine_store, "--data", str(workdir / "part.csv"), "--timestamp-column", "ts", "--window", "7d",
                     "--target", "quality")
    assert "window(s) were already closed and logged: skipped" in again.output
    assert len(client.get_metric_history(run.info.run_id, "rows")) == len(history)
    more = _monitor(wine_store, "--data", str(workdir / "all.csv"), "--timestamp-column", "ts", "--window", "7d",
                    "--target", "quality")
    assert more.exit_code in (0, 3), more.output
    extended = client.get_metric_history(run.info.run_id, "rows")
    assert [m.step for m in extended] == list(range(len(extended)))
    assert len(extended) > len(history)
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert "report.html" in artifacts and "windows" in artifacts
    kinds = sorted(r.data.tags["driftloop.kind"] for r in client.search_runs([experiment.experiment_id]))
    assert kinds == ["monitoring", "provisional"]  # the run, and the open windows' provisional figures


def test_late_labels_by_id_with_unknown_ids_counted(wine_store, workdir):
    red = _wine("red")
    red.drop(columns=["quality"]).to_csv(workdir / "inputs.csv", index=False)
    labels = red[["id", "quality"]].iloc[:800]
    labels = pd.concat([labels, pd.DataFrame({"id": ["ghost-1", "ghost-2"], "quality": [5, 6]})])
    labels.to_csv(workdir / "labels.csv", index=False)
    result = _monitor(wine_store, "--data", str(workdir / "inputs.csv"), "--rows", "400", "--labels",
                      str(workdir / "labels.csv"), "--id-column", "id", "--target", "quality")
    assert "2 label(s) are for ids not in the data (not used)" in result.output
    lines = [line for line in result.output.splitlines()  # the error and the link are one line each
             if not line.startswith(("Error: Alert", "Open the charts", "Open the model"))]
    assert max(map(len, lines)) <= 80, result.output  # the table and its reasons fit an 80-column terminal
    starts = [line.split()[:3] for line in lines if line.startswith("rows ")]  # count windows: their rows
    assert starts == [["rows", "1–400", "400"], ["rows", "401–800", "400"], ["rows", "801–1200", "400"],
                      ["rows", "1201–1599*", "399"]]
    assert "window(s); latest rows 1201–1599: " in result.output  # not 1970-01-01
    client = MlflowClient(wine_store)
    experiment = client.get_experiment_by_name("model-monitoring")
    runs = {r.data.tags["driftloop.kind"]: r for r in client.search_runs([experiment.experiment_id])}
    coverage = [m.value for kind in ("monitoring", "provisional")
                for m in client.get_metric_history(runs[kind].info.run_id, "performance/label_coverage")]
    assert coverage == [1.0, 1.0, 0.0, 0.0]  # 1,599 rows in windows of 400; the first 800 labelled; the last open


def test_bad_input_gets_clear_messages(wine_store, workdir):
    white = _wine("white")
    white.drop(columns=["alcohol"]).to_csv(workdir / "no_alcohol.csv", index=False)
    result = _monitor(wine_store, "--data", str(workdir / "no_alcohol.csv"), "--rows", "1000", "--format", "json")
    windows = [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]
    assert windows and all("columns the model expects are missing: alcohol" in w["reasons"] for w in windows)
    assert all(w["metrics"]["quality/missing_columns"] == 1.0 for w in windows)
    assert "Traceback" not in result.output

    white.to_csv(workdir / "white.csv", index=False)
    result = _monitor(wine_store, "--data", str(workdir / "white.csv"), "--timestamp-column", "when")
    assert result.exit_code == 1 and "The timestamp column 'when' is not in the data" in result.output
    broken = white.copy()
    broken.loc[3, "ts"] = "not a date"
    broken.to_csv(workdir / "broken.csv", index=False)
    result = _monitor(wine_store, "--data", str(workdir / "broken.csv"), "--timestamp-column", "ts")
    assert result.exit_code == 1 and "'not a date'" in result.output
    result = CliRunner().invoke(cli, ["monitor", "--model", "nope@champion", "--data", str(workdir / "white.csv"),
                                      "--rows", "10", "--tracking-uri", wine_store])
    assert result.exit_code == 1 and "no model 'nope' with alias 'champion'" in result.output
    typed = white.copy()
    typed["alcohol"] = typed["alcohol"].astype(str)
    typed.loc[:9, "alcohol"] = "twelve"
    typed.to_csv(workdir / "typed.csv", index=False)
    result = _monitor(wine_store, "--data", str(workdir / "typed.csv"), "--rows", "5000", "--format", "json",
                      "--experiment", "typed")  # rows 0-4898 are already logged in model-monitoring
    assert result.exit_code in (0, 3), result.output
    (window,) = [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]
    assert window["metrics"]["quality/alcohol/type_errors"] == pytest.approx(10 / 4898)
    assert any("alcohol" in reason and "not numbers" in reason for reason in window["reasons"])


def test_windows_from_the_reference_raise_at_most_one_alert(wine_store, workdir):
    """50 seeded windows drawn from the training distribution: the calibrated alarms stay quiet."""
    red = pd.read_csv(WINE_PROJECT / "data" / "winequality-red.csv", sep=";")
    rng = np.random.default_rng(20261127)
    rows = rng.integers(0, len(red), size=50 * 300)
    sample = red.iloc[rows].reset_index(drop=True)
    sample.to_csv(workdir / "stable.csv", index=False)
    result = _monitor(wine_store, "--data", str(workdir / "stable.csv"), "--rows", "300", "--target", "quality",
                      "--format", "json")
    windows = [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]
    assert len(windows) == 50
    assert sum(w["verdict"] == "alert" for w in windows) <= 1, [w["reasons"] for w in windows if w["verdict"] != "ok"]


def test_profile_command_attaches_a_profile_to_any_registered_model(workdir):
    import mlflow
    import mlflow.sklearn
    from mlflow.models import infer_signature
    from sklearn.linear_model import LinearRegression

    uri = f"sqlite:///{workdir / 'mlflow.db'}"
    red = pd.read_csv(WINE_PROJECT / "data" / "winequality-red.csv", sep=";")
    features = red.drop(columns=["quality"])
    mlflow.set_tracking_uri(uri)
    try:
        with mlflow.start_run():
            model = LinearRegression().fit(features, red["quality"])
            mlflow.sklearn.log_model(model, name="model", signature=infer_signature(features, model.predict(features)),
                                     registered_model_name="elsewhere")
    finally:
        mlflow.set_tracking_uri(None)
    MlflowClient(uri).set_registered_model_alias("elsewhere", "champion", "1")
    red.sample(frac=1.0, random_state=7).to_csv(workdir / "red.csv", index=False)  # the file's order drifts
    before = CliRunner().invoke(cli, ["monitor", "--model", "elsewhere@champion", "--data", str(workdir / "red.csv"),
                                      "--rows", "500", "--tracking-uri", uri])
    assert before.exit_code == 1 and "driftloop profile --model elsewhere/1" in before.output
    attached = CliRunner().invoke(cli, ["profile", "--model", "elsewhere@champion", "--data", str(workdir / "red.csv"),
                                        "--target", "quality", "--tracking-uri", uri])
    assert attached.exit_code == 0, attached.output
    assert "Attached a reference profile of 12 column(s) (1599 rows)" in attached.output
    after = CliRunner().invoke(cli, ["monitor", "--model", "elsewhere@champion", "--data", str(workdir / "red.csv"),
                                     "--rows", "500", "--target", "quality", "--tracking-uri", uri])
    assert after.exit_code == 0, after.output


def test_an_alert_posts_the_payload_to_the_webhook(wine_store, workdir):
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    received = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's naming)
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        _wine("white").to_csv(workdir / "white.csv", index=False)
        result = _monitor(wine_store, "--data", str(workdir / "white.csv"), "--timestamp-column", "ts",
                          "--window", "7d", "--target", "quality",
                          "--webhook", f"http://127.0.0.1:{server.server_address[1]}/hook")
    finally:
        server.shutdown()
    assert result.exit_code == 3, result.output
    (payload,) = received
    assert payload["model"] == "wine-quality" and payload["verdict"] == "alert"
    assert payload["fired"] and all(w["verdict"] in ("warn", "alert") for w in payload["fired"])
    client = MlflowClient(wine_store)
    run = client.search_runs([client.get_experiment_by_name("model-monitoring").experiment_id],
                             filter_string="tags.`driftloop.kind` = 'monitoring'")[0]
    assert payload["run_id"] == run.info.run_id
    assert run.data.tags["driftloop.alert"] == "true"


@pytest.mark.parametrize(("args", "expected"), [
    (["--engine", "spark", "--spark-partitions", "0"], "Invalid value for '--spark-partitions': 0 is not in the range x>=1"),
    (["--engine", "spark", "--spark-partitions", "many"], "Invalid value for '--spark-partitions': 'many' is not a valid integer"),
    (["--spark-partitions", "4"], "--spark-partitions sets the tasks of the Spark engine's shuffle: give --engine spark "
                                  "with it (got --engine numpy)."),
])
def test_spark_partitions_out_of_range_or_without_the_spark_engine_is_refused_in_one_line(workdir, args, expected):
    """Refused before anything is read or started (no store, no data, no Spark needed)."""
    result = CliRunner().invoke(cli, ["monitor", "--model", "m@champion", "--data", str(workdir / "absent.parquet"),
                                      "--rows", "10", "--tracking-uri", f"sqlite:///{workdir / 'mlflow.db'}", *args])
    assert result.exit_code in (1, 2) and expected in result.output, result.output
    assert "Traceback" not in result.output and not (workdir / "mlflow.db").exists()

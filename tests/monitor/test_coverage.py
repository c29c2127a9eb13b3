"""Issue 12: a monitor never says "all clear" when it measured nothing.

End to end through ``driftloop monitor`` on a real MLflow store with the real wine model: numbers stored as text,
text that is not a number, a missing feature column, nothing comparable, a header-only file, absent labels. And the
coverage verdict itself (:mod:`driftloop.monitor.window_coverage`) through :func:`~driftloop.monitor.alerts.evaluate`.
"""

from __future__ import annotations

import json
import threading
from http.server import ThreadingHTTPServer

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from mlflow import MlflowClient

from driftloop.cli.main import cli
from driftloop.errors import DriftloopError
from driftloop.monitor.alerts import AlertRule, alert_payload, evaluate
from driftloop.monitor.results import WindowResult
from driftloop.monitor.window_coverage import CoveragePolicy
from tests.conftest import WINE_PROJECT, copy_store
from tests.monitor.test_late_data import _Hook

FEATURES = ["fixed acidity", "volatile acidity", "citric acid", "residual sugar", "chlorides", "free sulfur dioxide",
            "total sulfur dioxide", "density", "pH", "sulphates", "alcohol"]
UNKNOWN_EXIT_CODE = 4


@pytest.fixture
def wine_store(trained_wine_store, workdir):
    return copy_store(trained_wine_store, workdir)


def stable_red(rows: int = 1200) -> pd.DataFrame:
    """Rows drawn from the red wines the model was trained on (no drift), with ids."""
    red = pd.read_csv(WINE_PROJECT / "data" / "winequality-red.csv", sep=";")
    sample = red.iloc[np.random.default_rng(12).integers(0, len(red), size=rows)].reset_index(drop=True)
    sample.insert(0, "id", [f"r{i}" for i in range(rows)])
    return sample


def monitor(uri: str, data, *args: str):
    result = CliRunner().invoke(cli, ["monitor", "--model", "wine-quality@champion", "--tracking-uri", uri,
                                      "--data", str(data), "--rows", "600", "--format", "json", *args])
    windows = [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]
    return result, windows


def run_of(uri: str, experiment: str = "model-monitoring"):
    client = MlflowClient(uri)
    (run,) = client.search_runs([client.get_experiment_by_name(experiment).experiment_id])
    return client, run.info.run_id


def test_numbers_stored_as_text_are_read_and_give_the_figures_of_numbers(wine_store, workdir):
    data = stable_red()
    data.to_csv(workdir / "numbers.csv", index=False)
    data.astype({c: "str" for c in FEATURES}).to_parquet(workdir / "text.parquet")
    numbers, as_numbers = monitor(wine_store, workdir / "numbers.csv", "--target", "quality", "--experiment", "n")
    text, as_text = monitor(wine_store, workdir / "text.parquet", "--target", "quality", "--experiment", "t")
    assert text.exit_code == numbers.exit_code, text.output
    assert [w["verdict"] for w in as_text] == [w["verdict"] for w in as_numbers]
    for plain, read in zip(as_numbers, as_text, strict=True):
        figures = {k: v for k, v in plain["metrics"].items() if k.startswith(("drift/", "performance/", "coverage/"))}
        assert figures and {k: read["metrics"][k] for k in figures} == figures  # the same numbers, exactly
        assert read["metrics"]["coverage/columns"] == 1.0 and read["metrics"]["coverage/predictions"] == 1.0
        assert all(read["metrics"][f"quality/{c}/coerced_from_text"] == 1.0 for c in FEATURES)
        assert all(read["metrics"][f"quality/{c}/type_errors"] == 0.0 for c in FEATURES)
        assert any("read as numbers (losslessly) in 11 column(s)" in r for r in read["reasons"])
    client, run_id = run_of(wine_store, "t")
    assert [m.value for m in client.get_metric_history(run_id, "quality/alcohol/coerced_from_text")] == [1.0, 1.0]


def test_text_that_is_not_a_number_is_a_wrong_type_value_and_the_window_is_not_ok(wine_store, workdir):
    data = stable_red()
    data["alcohol"] = data["alcohol"].astype(str)
    data.loc[[5, 50, 500], "alcohol"] = ["1,5", "n/a", "12abc"]  # all in the first window of 600 rows
    data.to_csv(workdir / "typed.csv", index=False)
    result, windows = monitor(wine_store, workdir / "typed.csv", "--target", "quality")
    assert "Traceback" not in result.output
    first, second = windows
    metrics = first["metrics"]
    assert metrics["quality/alcohol/type_errors"] == pytest.approx(3 / 600)
    assert metrics["quality/alcohol/coerced_from_text"] == pytest.approx(597 / 600)
    assert metrics["quality/alcohol/missing_rate"] == 0.0  # "n/a" is not taken for a missing value
    assert any("'alcohol': 3 value(s) are not numbers, such as '1,5'" in r for r in first["reasons"])
    assert np.isfinite(metrics["drift/alcohol/ks"])  # drift of the 597 numbers is still measured
    assert metrics["coverage/predictions"] == 0.0  # the model refuses NaN: no prediction for this window
    assert first["verdict"] != "ok" and any(r.startswith("coverage: coverage/predictions") for r in first["reasons"])
    assert second["metrics"]["quality/alcohol/type_errors"] == 0.0
    assert second["metrics"]["coverage/predictions"] == 1.0


def test_one_missing_feature_column_leaves_every_other_column_compared(wine_store, workdir):
    stable_red().drop(columns=["alcohol"]).to_csv(workdir / "no_alcohol.csv", index=False)
    result, windows = monitor(wine_store, workdir / "no_alcohol.csv", "--target", "quality")
    assert windows, result.output
    for window in windows:
        metrics = window["metrics"]
        for column in FEATURES[:-1]:
            assert all(np.isfinite(metrics[f"drift/{column}/{s}"]) for s in ("ks", "wasserstein", "psi", "js"))
        assert not any(r.endswith(": nan") for r in window["reasons"]), window["reasons"]
        assert "drift of 'alcohol' not computed: column 'alcohol' is missing from the window" in window["reasons"]
        assert metrics["coverage/columns"] == pytest.approx(10 / 11)
        assert metrics["coverage/predictions"] == 0.0 and metrics["coverage/labels"] == 0.0
        assert window["verdict"] != "ok"
        assert any(r.startswith("coverage: coverage/columns = 0.9091 < 1") for r in window["reasons"])


def test_nothing_comparable_is_unknown_everywhere_and_exits_4(wine_store, workdir):
    data = stable_red()
    for column in FEATURES:  # a European export: decimal commas, which could as well be thousands separators
        data[column] = data[column].map(lambda x: f"{x:.3f}".replace(".", ","))
    data.to_csv(workdir / "commas.csv", index=False, sep=";")
    _Hook.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    hook = ["--webhook", f"http://127.0.0.1:{server.server_address[1]}/hook"]
    try:
        result, windows = monitor(wine_store, workdir / "commas.csv", "--target", "quality", *hook)
    finally:
        server.shutdown()
    # A monitor that could not measure says so to the webhook too, as it does an alert.
    (payload,) = _Hook.received
    assert (payload["verdict"], payload["unknown"], [w["window"] for w in payload["fired"]]) == ("unknown", 2, [0, 1])
    assert payload["text"].startswith("driftloop: wine-quality (version 1): unknown in 2 of 2 windows; latest rows ")
    assert result.exit_code == UNKNOWN_EXIT_CODE, result.output
    assert "Nothing could be judged in 2 window(s) (verdict unknown)" in result.output
    assert [w["verdict"] for w in windows] == ["unknown", "unknown"]
    assert windows[0]["metrics"]["coverage/columns"] == 0.0 and windows[0]["metrics"]["verdict"] == -1.0
    assert "coverage: nothing could be judged" in windows[0]["reasons"]
    client, run_id = run_of(wine_store)
    assert [m.value for m in client.get_metric_history(run_id, "verdict")] == [-1.0, -1.0]
    assert [m.value for m in client.get_metric_history(run_id, "coverage/columns")] == [0.0, 0.0]
    report = (workdir / "report").mkdir() or client.download_artifacts(run_id, "report.html", str(workdir / "report"))
    html = open(report, encoding="utf-8").read()
    assert '<span class="pill unknown">unknown</span>' in html
    assert "2 window(s) could not be judged at all" in html
    run = client.get_run(run_id)
    assert run.data.tags["driftloop.last_verdict"] == "unknown"


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_a_header_only_input_says_no_rows_and_exits_4(wine_store, workdir, suffix):
    empty = stable_red().iloc[:0]
    path = workdir / f"empty.{suffix}"
    empty.to_csv(path, index=False) if suffix == "csv" else empty.to_parquet(path)
    result, windows = monitor(wine_store, path, "--target", "quality")
    assert result.exit_code == UNKNOWN_EXIT_CODE and windows == []
    assert "has no rows" in result.output and "nothing to monitor" in result.output
    assert MlflowClient(wine_store).get_experiment_by_name("model-monitoring") is None  # nothing logged


def test_a_window_without_any_of_its_expected_labels_warns(wine_store, workdir):
    data = stable_red()
    data.drop(columns=["quality"]).to_csv(workdir / "inputs.csv", index=False)
    data[["id", "quality"]].iloc[:600].to_csv(workdir / "labels.csv", index=False)  # the first window's only
    result, windows = monitor(wine_store, workdir / "inputs.csv", "--labels", str(workdir / "labels.csv"),
                              "--target", "quality")
    first, second = windows
    assert first["metrics"]["coverage/labels"] == 1.0 and not any(r.startswith("coverage") for r in first["reasons"])
    assert second["metrics"]["coverage/labels"] == 0.0 and second["verdict"] == "warn"
    assert "coverage: coverage/labels = 0 (no rows with a label and a prediction)" in second["reasons"]


def test_profile_reads_numbers_stored_as_text_and_names_a_column_that_is_not(wine_store, workdir):
    data = stable_red().astype({c: "str" for c in FEATURES})
    data.to_parquet(workdir / "text.parquet")
    profile = ["profile", "--model", "wine-quality@champion", "--target", "quality", "--tracking-uri", wine_store]
    result = CliRunner().invoke(cli, [*profile, "--data", str(workdir / "text.parquet")])
    assert result.exit_code == 0, result.output
    assert "Attached a reference profile of 12 column(s) (1200 rows)" in result.output
    data.loc[7, "pH"] = "3,2"
    data.to_parquet(workdir / "broken.parquet")
    result = CliRunner().invoke(cli, [*profile, "--data", str(workdir / "broken.parquet")])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "The reference column 'pH' must hold numbers (the model's signature says so); 1 value(s) are not, " \
           "such as '3,2'." in result.output


def test_a_service_log_without_any_feedback_expects_no_labels(trained_wine_store, workdir):
    from fastapi.testclient import TestClient

    from driftloop.serve.service import build_service

    uri = copy_store(trained_wine_store, workdir)
    features = stable_red(400).drop(columns=["id", "quality"])
    log_path = workdir / "inference-log.db"
    with TestClient(build_service("wine-quality@champion", tracking_uri=uri, log_path=log_path)) as client:
        response = client.post("/predict", json={"dataframe_split": features.to_dict(orient="split")})
        assert response.status_code == 200, response.text
    result = CliRunner().invoke(cli, ["monitor", "--model", "wine-quality@champion", "--data", str(log_path),
                                      "--rows", "200", "--tracking-uri", uri])
    assert "note: the data holds no label at all: performance is not measured" in result.output
    client, run_id = run_of(uri)
    assert [m.value for m in client.get_metric_history(run_id, "coverage/predictions")] == [1.0, 1.0]
    assert client.get_metric_history(run_id, "coverage/labels") == []
    assert not any("coverage/labels" in r for r in client.get_run(run_id).data.tags.get("driftloop.last_reasons",
                                                                                         "").split("; "))


# ------------------------------------------------------------------------------------ the coverage verdict itself

DAY = pd.Timestamp("2024-01-01")


def window(index: int, rows: int = 100, **metrics: float) -> WindowResult:
    return WindowResult(index, DAY, DAY, rows, {k.replace("__", "/"): v for k, v in metrics.items()})


def test_coverage_enters_the_verdict_and_evaluating_again_changes_nothing():
    windows = [window(0, coverage__columns=1.0, coverage__predictions=1.0),
               window(1, coverage__columns=0.5, coverage__predictions=1.0),
               window(2, coverage__columns=0.0, coverage__predictions=0.0),
               window(3, rows=0),
               window(4, coverage__columns=0.0, coverage__predictions=0.0, drift__share=1.0),
               window(5, coverage__columns=1.0, coverage__predictions=1.0, coverage__labels=0.3)]
    rule = AlertRule("drift", "drift/share", ">=", 0.5, severity="alert")
    evaluate(windows, [rule])
    first = [(w.verdict, list(w.reasons)) for w in windows]
    assert [v for v, _ in first] == ["ok", "warn", "unknown", "unknown", "alert", "ok"]
    assert [w.metrics["verdict"] for w in windows] == [0.0, 1.0, -1.0, -1.0, 2.0, 0.0]
    assert first[3][1] == ["coverage: no rows"]
    evaluate(windows, [rule])
    assert [(w.verdict, w.reasons) for w in windows] == first
    payload = alert_payload(windows, "m", None, None)
    assert (payload["verdict"], payload["unknown"], payload["warnings"]) == ("alert", 2, 1)


def test_the_coverage_thresholds_are_parameters():
    partial = [window(0, coverage__columns=0.9, coverage__predictions=1.0, coverage__labels=0.4)]
    evaluate(partial, [], coverage=CoveragePolicy(min_columns=0.8, min_labels=0.5))
    assert partial[0].verdict == "warn"
    assert partial[0].reasons == ["coverage: coverage/labels = 0.4 < 0.5 (rows with a label and a prediction)"]
    evaluate(partial, [], coverage=CoveragePolicy(min_columns=0.8))
    assert (partial[0].verdict, partial[0].reasons) == ("ok", [])
    with pytest.raises(DriftloopError, match="'min_columns' parameter of CoveragePolicy must be a share in"):
        CoveragePolicy(min_columns=1.5)


def test_engine_coverage_counts_columns_compared_and_keeps_remarks_of_computed_rows():
    from driftloop.data.windows import Window
    from driftloop.monitor.engine import MonitorInputs, assess_window
    from driftloop.profile import ReferenceProfile

    rng = np.random.default_rng(5)
    reference = pd.DataFrame({"x": rng.normal(size=2000), "flat": np.full(2000, 0.3), "c": rng.choice(["a", "b"], 2000)})
    inputs = MonitorInputs(ReferenceProfile().fit(reference), ["x", "flat", "c"], None)
    frame = pd.DataFrame({"x": rng.normal(size=300).astype(str), "flat": np.full(300, 0.3),
                          "c": rng.choice(["a", "b"], 300)})
    result = assess_window(inputs, Window(0, DAY, DAY, frame), task=None)
    assert result.metrics["coverage/columns"] == 1.0  # the constant column's Wasserstein remark is not a failure
    assert any(r.startswith("drift of 'flat' (wasserstein): the reference of column 'flat' is constant")
               for r in result.reasons)
    assert not any("not computed" in r for r in result.reasons)
    assert result.metrics["quality/x/coerced_from_text"] == 1.0
    missing = assess_window(inputs, Window(1, DAY, DAY, frame.drop(columns=["c"])), task=None)
    assert missing.metrics["coverage/columns"] == pytest.approx(2 / 3)
    assert "drift of 'c' not computed: column 'c' is missing from the window" in missing.reasons

"""Against a tracking server over HTTP (``driftloop ui`` on a free loopback port): an MLflow 3 model logged without a
run goes through the whole loop, and each closed window's headline figures show on the model's own page, each
window an MLflow dataset; checked in the store and in headless Chromium."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from mlflow import MlflowClient

from driftloop.tracking.model_page import DATASET_CONTEXT, HEADLINE_METRICS
from tests.local_servers import free_port, running_server
from tests.tracking.test_logged_models import Store, churn_rows, invoke, log_churn, run_the_loop

CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    """``driftloop ui`` on a fresh SQLite store, its URL, and the data files of the loop."""
    folder = tmp_path_factory.mktemp("mlflow-server")
    port = free_port()
    env = dict(os.environ, MLFLOW_DISABLE_TELEMETRY="true")
    env.pop("MLFLOW_TRACKING_URI", None)
    command = [sys.executable, "-m", "driftloop", "ui", "--port", str(port), "--tracking-uri",
               f"sqlite:///{folder / 'server.db'}"]
    with running_server(command, health_url=f"http://127.0.0.1:{port}/health", log=folder / "server.log",
                        cwd=folder, env=env):
        churn_rows(1000, seed=1, shifted=False).to_csv(folder / "reference.csv", index=False)
        churn_rows(8000, seed=2, shifted=True).to_csv(folder / "today.csv", index=False)
        yield Store(f"http://127.0.0.1:{port}", folder, folder / "reference.csv", folder / "today.csv")


@pytest.fixture(scope="module")
def looped(server: Store) -> tuple[Store, str, str]:
    """The model ``churn`` logged outside a run through the server, then profiled, monitored, served, retrained,
    promoted and rolled back over HTTP; returns the store, the model id and the experiment id."""
    client = MlflowClient(server.uri)
    experiment = client.create_experiment("quickstart")
    logged = log_churn(server.uri, "churn", in_run=False, experiment_id=experiment)
    assert client.get_model_version("churn", "1").run_id in (None, "")
    patch = pytest.MonkeyPatch()
    try:
        run_the_loop(server, logged, "churn@champion", patch)
    finally:
        patch.undo()
    return server, logged.model_id, experiment


def test_the_whole_loop_runs_against_a_tracking_server(looped) -> None:
    server, model_id, _ = looped
    client = MlflowClient(server.uri)
    assert client.get_logged_model(model_id).artifact_location.startswith("mlflow-artifacts:")  # served by HTTP
    assert str(client.get_model_version_by_alias("churn", "champion").version) == "2"


def test_each_closed_window_is_linked_to_the_model_with_its_dataset(looped) -> None:
    server, model_id, _ = looped
    client = MlflowClient(server.uri)
    linked = client.get_logged_model(model_id).metrics
    monitoring = [m for m in linked if m.dataset_name]
    # 2 windows of 4000 rows, both complete, so both closed (final) by the loop's monitoring pass
    (run_id,) = {m.run_id for m in monitoring}
    run = client.get_run(run_id)
    headline = {key for key in run.data.metrics if key in HEADLINE_METRICS}
    assert headline >= {"verdict", "drift/share", "performance/accuracy", "performance/roc_auc"}
    assert sorted((m.key, m.step, m.dataset_name) for m in monitoring) == sorted(
        (key, step, f"window {step} of today.csv") for key in headline for step in (0, 1))
    assert run.data.tags["driftloop.kind"] == "monitoring"
    for point in monitoring:  # the run holds the same point, once
        history = client.get_metric_history(run_id, point.key)
        assert [(h.step, h.value) for h in history if h.step == point.step] == [(point.step, point.value)]
    datasets = {i.dataset.name: i for i in run.inputs.dataset_inputs}
    assert sorted(datasets) == ["window 0 of today.csv", "window 1 of today.csv"]
    for point in monitoring:
        assert datasets[point.dataset_name].dataset.digest == point.dataset_digest
    assert datasets["window 0 of today.csv"].dataset.digest != datasets["window 1 of today.csv"].dataset.digest
    for window in datasets.values():
        assert {t.key: t.value for t in window.tags}["mlflow.data.context"] == DATASET_CONTEXT
        assert json.loads(window.dataset.profile)["num_rows"] == 4000  # described, not copied: no rows stored
        assert {c["name"] for c in json.loads(window.dataset.schema)["mlflow_colspec"]} >= {"a", "b"}
        assert json.loads(window.dataset.source)["uri"] == str(server.today)
    assert [i.model_id for i in run.inputs.model_inputs] == [model_id]

    # the same data again: nothing new on the model (nor in the run)
    invoke(server, "monitor", "--model", "churn/1", "--data", str(server.today), "--rows", "4000", "--target", "y")
    assert len(client.get_logged_model(model_id).metrics) == len(linked)


@pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is not installed (Debian's chromium package): "
                                                  "the MLflow UI's model page is not rendered in a browser")
def test_the_model_page_of_the_mlflow_ui_shows_the_windows(looped, tmp_path: Path) -> None:
    server, model_id, experiment = looped
    page = f"{server.uri}/#/experiments/{experiment}/models/{model_id}"
    command = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
               f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1400,1600", "--virtual-time-budget=20000"]
    screenshot = tmp_path / "model-page.png"
    shot = subprocess.run([*command, f"--screenshot={screenshot}", page], capture_output=True, text=True,
                          timeout=180, check=False)
    assert screenshot.exists(), shot.stderr[-2000:]
    dom = subprocess.run([*command, "--dump-dom", page], capture_output=True, text=True, timeout=180,
                         check=False).stdout
    assert model_id in dom
    for text in ("drift/share", "performance/accuracy", "verdict", "window 0 of today.csv"):
        assert text in dom, f"{text!r} is not on the model page"
    keep = os.environ.get("DRIFTLOOP_KEEP_SCREENSHOTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        (Path(keep) / screenshot.name).write_bytes(screenshot.read_bytes())

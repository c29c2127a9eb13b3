"""A monitoring pass whose PostgreSQL store goes away while it writes (stopped at once, as a crash or a failover
does): a short outage is ridden out and the pass completes; a long one ends the pass with one clear line, and the
same command run once the database is back completes the windows. In every case each (metric, step) is written
once, and the lease of the monitor lock does not outlive the pass."""

from __future__ import annotations

import threading
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from mlflow import MlflowClient
from sklearn.linear_model import LinearRegression

from driftloop.cli.main import cli
from driftloop.tracking import retries
from driftloop.tracking.store import use_tracking_uri
from tests.local_servers import PostgresServer, create_database

WINDOWS = 5


def monitored_store(server: PostgresServer, name: str, folder: Path) -> str:
    """A database ``name`` holding model ``m@champion`` (a linear regression on a, b) with its reference profile."""
    uri = create_database(server, name)
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=3000), "b": rng.normal(size=3000)})
    frame["y"] = frame["a"] + 2 * frame["b"] + rng.normal(0, 0.1, size=3000)
    model = LinearRegression().fit(frame[["a", "b"]], frame["y"])
    with use_tracking_uri(uri):
        experiment = MlflowClient(uri).create_experiment("training", artifact_location=(folder / "art").as_uri())
        with mlflow.start_run(experiment_id=experiment):
            mlflow.sklearn.log_model(model, name="model", registered_model_name="m",
                                     input_example=frame[["a", "b"]].head(2), pip_requirements=["scikit-learn"])
    MlflowClient(uri).set_registered_model_alias("m", "champion", "1")
    frame.iloc[:1000].to_csv(folder / "reference.csv", index=False)
    frame.iloc[1000:1000 + 400 * WINDOWS].to_csv(folder / "today.csv", index=False)
    invoke(uri, folder, "profile", "--model", "m@champion", "--data", str(folder / "reference.csv"), "--target", "y")
    return uri


def invoke(uri: str, folder: Path, *args: str, expect: tuple[int, ...] = (0, 3)) -> str:
    result = CliRunner().invoke(cli, [*args, "--tracking-uri", uri], env={"COLUMNS": "200"})
    assert result.exit_code in expect, result.output
    assert "Traceback" not in result.output, result.output
    return result.output


def monitor(uri: str, folder: Path, expect: tuple[int, ...] = (0, 3)) -> str:
    return invoke(uri, folder, "monitor", "--model", "m@champion", "--data", str(folder / "today.csv"), "--rows",
                  "400", "--target", "y", expect=expect)


def outage_at_write(monkeypatch: pytest.MonkeyPatch, server: PostgresServer, *, after_first: bool,
                    back_after: float | None) -> None:
    """Stop the database at the monitor's first ``log_batch`` (before it, or just after it committed), and start it
    again ``back_after`` seconds later (never, with None)."""
    original = MlflowClient.log_batch
    calls = [0]

    def log_batch(self, *args, **kwargs):
        calls[0] += 1
        if calls[0] == 1 and not after_first:
            cut()
        result = original(self, *args, **kwargs)
        if calls[0] == 1 and after_first:
            cut()
        return result

    def cut() -> None:
        server.stop()
        if back_after is not None:
            threading.Timer(back_after, server.start).start()

    monkeypatch.setattr(MlflowClient, "log_batch", log_batch)


def assert_every_point_once(uri: str) -> None:
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("model-monitoring").experiment_id
    [run] = [r for r in client.search_runs([experiment]) if "open windows" not in (r.info.run_name or "")]
    assert run.info.status == "FINISHED"
    for key in ("drift/a/ks", "performance/mae", "quality/missing_columns", "estimated/mae"):
        steps = [point.step for point in client.get_metric_history(run.info.run_id, key)]
        assert sorted(steps) == list(range(WINDOWS)), (key, steps)
    assert not [k for k in client.get_registered_model("m").tags if k.startswith("driftloop.monitor.")]


@pytest.mark.parametrize("after_first", [False, True], ids=["before-the-first-write", "after-the-first-write"])
def test_a_short_outage_is_ridden_out(postgres_instance: PostgresServer, tmp_path: Path, after_first: bool,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    uri = monitored_store(postgres_instance, f"blip_{int(after_first)}", tmp_path)
    outage_at_write(monkeypatch, postgres_instance, after_first=after_first, back_after=2.0)
    out = monitor(uri, tmp_path)
    assert f"{WINDOWS} window(s) assessed, {WINDOWS} closed" in out
    monkeypatch.undo()
    assert_every_point_once(uri)


def test_a_long_outage_ends_the_pass_with_a_clear_error_and_the_rerun_completes(
        postgres_instance: PostgresServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    uri = monitored_store(postgres_instance, "down", tmp_path)
    monkeypatch.setattr(retries, "RETRY_DELAYS_SECONDS", (0.5, 1.0))
    outage_at_write(monkeypatch, postgres_instance, after_first=True, back_after=None)
    try:
        out = monitor(uri, tmp_path, expect=(1,))
    finally:
        postgres_instance.start()
    assert "Error: Lost the connection to the tracking store postgresql://" in out
    assert "while writing the windows, and it did not come back within 1.5 s (3 attempts)" in out
    assert "run the same command again once the store answers (nothing is written twice)" in out
    assert "Until then MLflow shows the run as RUNNING: the store could not be told that this pass failed." in out
    monkeypatch.undo()
    out = monitor(uri, tmp_path)  # the lock's lease of the failed pass does not block it
    assert_every_point_once(uri)

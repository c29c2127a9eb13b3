"""The whole loop on a team's shared store: MLflow on PostgreSQL, used directly (``--tracking-uri
postgresql://...``) and through an MLflow tracking server on it with a served artifact root (``http://...``).

Profile, monitor, serve with the alias hot-swap, retrain, promote and roll back, then four processes under the
registry lock at once and two racing promotions, each against a real PostgreSQL server (see ``conftest.py``;
skipped with the reason where PostgreSQL is not installed).
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from driftloop.cli.main import cli
from driftloop.serve.service import build_service
from driftloop.tracking import connect
from driftloop.tracking.projects import run_project
from driftloop.tracking.registry import CHAMPION, PREVIOUS_CHAMPION, alias_version
from driftloop.tracking.store import use_tracking_uri
from tests.conftest import WINE_PROJECT
from tests.retrain.test_lease_lock import assert_the_lease_excludes
from tests.retrain.test_registry import MODEL as RACE_MODEL
from tests.retrain.test_registry import assert_one_of_two_racing_promotions_wins

MODEL = "wine-quality"


@pytest.fixture(scope="module")
def wine_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("wine-files")
    red = pd.read_csv(WINE_PROJECT / "data" / "winequality-red.csv", sep=";")
    white = pd.read_csv(WINE_PROJECT / "data" / "winequality-white.csv", sep=";").iloc[:1500]
    paths = {"red": folder / "red.csv", "white": folder / "white.csv"}
    red.to_csv(paths["red"], index=False)
    white.to_csv(paths["white"], index=False)
    return paths


def invoke(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code in (0, 3), result.output  # 3: an alert fired
    assert "Traceback" not in result.output
    return result.output


def trained_store(uri: str, folder: Path) -> None:
    """Run the wine project into ``uri`` (registered as ``wine-quality@champion``), from ``folder``."""
    previous = Path.cwd()
    os.chdir(folder)  # a database store keeps the project run's artifacts under ./mlruns
    try:
        result = run_project(connect(uri), WINE_PROJECT, {"alpha": "0.01", "l1_ratio": "0.5"})
    finally:
        os.chdir(previous)
    assert result.status == "FINISHED", result.cause


def follows_the_alias(uri: str, rows: list[dict], log_path: Path) -> None:
    """A service on ``wine-quality@champion`` keeps answering while the alias moves, then serves the new version."""
    client = connect(uri)
    app = build_service(f"{MODEL}@champion", tracking_uri=uri, log_path=log_path, poll_interval=0.2)
    statuses: list[int] = []
    stop = threading.Event()
    with TestClient(app) as service:
        before = service.get("/health").json()["model_version"]

        def hammer() -> None:
            while not stop.is_set():
                statuses.append(service.post("/predict", json={"dataframe_records": rows}).status_code)

        worker = threading.Thread(target=hammer)
        worker.start()
        try:
            other = "1" if before != "1" else "2"
            client.set_registered_model_alias(MODEL, CHAMPION, other)
            deadline = time.monotonic() + 30
            while service.get("/health").json()["model_version"] != other:
                assert time.monotonic() < deadline, "the service did not follow the alias"
                time.sleep(0.1)
        finally:
            stop.set()
            worker.join()
        client.set_registered_model_alias(MODEL, CHAMPION, before)
    assert statuses and set(statuses) == {200}


def the_whole_loop(uri: str, folder: Path, files: dict[str, Path]) -> None:
    trained_store(uri, folder)
    client = connect(uri)
    invoke("profile", "--model", f"{MODEL}@champion", "--data", str(files["red"]), "--target", "quality",
           "--tracking-uri", uri)
    output = invoke("monitor", "--model", f"{MODEL}@champion", "--data", str(files["white"]), "--rows", "500",
                    "--target", "quality", "--format", "json", "--tracking-uri", uri)
    windows = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    assert len(windows) == 3 and all(w["verdict"] in ("warn", "alert") for w in windows)  # red -> white drifts
    runs = client.search_runs([client.get_experiment_by_name("model-monitoring").experiment_id])
    history = client.get_metric_history(runs[0].info.run_id, "drift/share")
    assert sorted(m.step for m in history) == [0, 1, 2]

    output = invoke("retrain", "--model", MODEL, "--project", str(WINE_PROJECT), "--data", str(files["white"]),
                    "--target", "quality", "-P", "alpha=0.01", "--margin", "0.02", "--tracking-uri", uri)
    # version 2 is validated, then refitted on all the rows as version 3, which is promoted
    assert "Promoted: wine-quality@champion is version 3 (previous-champion: 1)" in output
    follows_the_alias(uri, pd.read_csv(files["red"]).drop(columns="quality").iloc[:3].to_dict("records"),
                      folder / "log.db")
    invoke("rollback", "--model", MODEL, "--reason", "test", "--tracking-uri", uri)
    assert str(alias_version(client, MODEL, CHAMPION).version) == "1"
    assert alias_version(client, MODEL, PREVIOUS_CHAMPION) is None
    assert client.get_model_version(MODEL, "3").tags["driftloop.decision"] == "rolled-back"


def racing_store(uri: str) -> str:
    """Model ``m`` with versions 1-3 (copies of the wine model's version 1) and champion 1, for the race."""
    client = connect(uri)
    wine = client.get_model_version(MODEL, "1")
    client.create_registered_model(RACE_MODEL)
    with use_tracking_uri(uri):  # MLflow resolves a models:/ source through the global tracking URI
        for _ in range(3):
            client.create_model_version(RACE_MODEL, wine.source, run_id=wine.run_id,
                                        model_id=wine.source.removeprefix("models:/"))
    client.set_registered_model_alias(RACE_MODEL, CHAMPION, "1")
    return uri


def concurrent_changes_are_exclusive(uri: str) -> None:
    """Four processes under the registry lock at once, then two racing promotions: on PostgreSQL the former
    single-tag lease crashed one contender on the tag's unique key (the racer's outcome went missing)."""
    racing_store(uri)
    assert_the_lease_excludes(uri)
    assert_one_of_two_racing_promotions_wins(uri)


def test_the_loop_on_postgresql_directly(postgres_uri: str, tmp_path: Path, wine_files: dict[str, Path]) -> None:
    the_whole_loop(postgres_uri, tmp_path, wine_files)
    concurrent_changes_are_exclusive(postgres_uri)


def test_the_loop_through_a_tracking_server_on_postgresql(postgres_server: str, tmp_path: Path,
                                                          wine_files: dict[str, Path]) -> None:
    the_whole_loop(postgres_server, tmp_path, wine_files)
    concurrent_changes_are_exclusive(postgres_server)
    client = connect(postgres_server)
    source = client.get_model_version(MODEL, "1").source
    assert not source.startswith(str(tmp_path)), source  # the server stores the artifacts, not the client's folder

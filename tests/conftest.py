"""Shared fixtures: a temporary MLflow store in a temporary working folder, and a trained wine model."""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

import pytest

os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"

REPO = Path(__file__).resolve().parents[1]
WINE_PROJECT = REPO / "examples" / "wine"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty working folder with no MLFLOW_TRACKING_URI: driftloop's embedded default store lives here."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return tmp_path


@pytest.fixture(scope="session")
def trained_wine_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder whose ``mlflow.db`` holds one run of examples/wine (alpha=0.01, l1_ratio=0.5) registered as
    ``wine-quality@champion``. Shared by the session: copy it with :func:`copy_store` before changing it."""
    from driftloop.tracking import connect
    from driftloop.tracking.projects import run_project

    folder = tmp_path_factory.mktemp("wine-store")
    previous = Path.cwd()
    os.chdir(folder)
    try:
        client = connect(f"sqlite:///{folder / 'mlflow.db'}")
        result = run_project(client, WINE_PROJECT, {"alpha": "0.01", "l1_ratio": "0.5"})
    finally:
        os.chdir(previous)
    assert result.status == "FINISHED", result.cause
    return folder


def copy_store(source: Path, destination: Path) -> str:
    """Copy a store folder (database and artifacts) and return the copy's tracking URI.

    Artifact locations are absolute paths into the source folder, so the copy shares the source's artifacts:
    read them, don't change them.
    """
    shutil.copy2(source / "mlflow.db", destination / "mlflow.db")
    return f"sqlite:///{destination / 'mlflow.db'}"

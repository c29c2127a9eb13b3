"""Shared fixtures: a temporary MLflow store in a temporary working folder, and a trained wine model."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"

REPO = Path(__file__).resolve().parents[1]
WINE_PROJECT = REPO / "examples" / "wine"


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


def register_champion(uri: str, name: str, model, features, **options) -> None:
    """Log a fitted scikit-learn ``model`` with the signature of ``features`` (a DataFrame of its inputs) as version 1
    of the registered model ``name`` in the store at ``uri`` (``options`` for :func:`mlflow.sklearn.log_model`), and
    point its ``champion`` alias at it."""
    import mlflow
    import mlflow.sklearn
    from mlflow import MlflowClient
    from mlflow.models import infer_signature

    mlflow.set_tracking_uri(uri)
    try:
        with mlflow.start_run():
            mlflow.sklearn.log_model(model, name="model", registered_model_name=name,
                                     signature=infer_signature(features, model.predict(features)), **options)
    finally:
        mlflow.set_tracking_uri(None)
    MlflowClient(uri).set_registered_model_alias(name, "champion", "1")


def copy_store(source: Path, destination: Path) -> str:
    """Copy a store folder (database and artifacts) and return the copy's tracking URI.

    The artifacts are copied too, and every path into ``source`` that the database holds (artifact locations,
    model sources) is rewritten into ``destination``: a test that writes artifacts (``driftloop profile`` does)
    changes its own copy, never what the other tests of the session read.
    """
    import sqlite3

    from mlflow.tracking._tracking_service import utils as tracking_utils

    # MLflow caches each run's and logged model's artifact repository by id, process-wide and whatever the store:
    # the copy's runs and models have the source's ids, so forget the repositories of earlier copies.
    tracking_utils._artifact_repos_cache.clear()
    shutil.copy2(source / "mlflow.db", destination / "mlflow.db")
    for folder in (p for p in source.iterdir() if p.is_dir()):
        shutil.copytree(folder, destination / folder.name, dirs_exist_ok=True)
    new = f"{destination}/"
    with sqlite3.connect(destination / "mlflow.db") as connection:
        for (table,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall():
            for _, column, kind, *_ in connection.execute(f'PRAGMA table_info("{table}")').fetchall():
                if kind.upper().startswith(("TEXT", "VARCHAR")):
                    for old in {f"{source}/", f"{source.resolve()}/"}:
                        connection.execute(f'UPDATE "{table}" SET "{column}" = replace("{column}", ?, ?) '
                                           f'WHERE instr("{column}", ?) > 0', (old, new, old))
    return f"sqlite:///{destination / 'mlflow.db'}"

"""Searches by user-given values on a real SQLite store: names holding quotes, wildcards and backslashes find
exactly their own runs and versions."""

from __future__ import annotations

from pathlib import Path

import pytest
from mlflow import MlflowClient

from driftloop.tracking.search import match_clause, model_versions, runs_with_tags

AWKWARD = ["o'brien", 'say "hi"', "both ' and \"", "100%_x", "100a_x", "back\\slash", "end\\", "a\\'b", "plain"]


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> MlflowClient:
    folder = tmp_path_factory.mktemp("search")
    return MlflowClient(f"sqlite:///{folder / 'mlflow.db'}", registry_uri=f"sqlite:///{folder / 'mlflow.db'}")


def test_every_clause_parses(client: MlflowClient) -> None:
    for value in AWKWARD:
        client.search_model_versions(match_clause("name", value))  # raises on an unparsable filter


def test_model_versions_of_awkward_names_are_found_exactly(client: MlflowClient, tmp_path: Path) -> None:
    runs = {}
    for name in AWKWARD:
        client.create_registered_model(name)
        experiment = client.create_experiment(f"e-{len(runs)}")
        runs[name] = client.create_run(experiment).info.run_id
        client.create_model_version(name, source=str(tmp_path), run_id=runs[name])
        client.create_model_version(name, source=str(tmp_path))
    for name in AWKWARD:
        found = model_versions(client, name)
        assert sorted(str(v.version) for v in found) == ["1", "2"] and {v.name for v in found} == {name}
        (mine,) = model_versions(client, name, run_id=runs[name])
        assert (mine.name, str(mine.version)) == (name, "1")


def test_runs_of_awkward_tag_values_are_found_exactly(client: MlflowClient) -> None:
    experiment = client.create_experiment("tags")
    made = {name: client.create_run(experiment, tags={"driftloop.model_name": name, "driftloop.model_version": "1"})
            for name in AWKWARD}
    for name in AWKWARD:
        (run,) = runs_with_tags(client, [experiment], {"driftloop.model_name": name, "driftloop.model_version": "1"})
        assert run.info.run_id == made[name].info.run_id
    assert runs_with_tags(client, [experiment], {"driftloop.model_name": "plain", "driftloop.model_version": "2"}) == []

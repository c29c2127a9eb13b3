"""Alias operations with audit: promote, rollback, compare-and-set under the lock, recovery."""

from __future__ import annotations

import multiprocessing
import os
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from driftloop.cli.retrain import promote_command, rollback_command
from driftloop.errors import DriftloopError
from driftloop.tracking import connect
from driftloop.tracking.registry import (
    CHAMPION,
    CHALLENGER,
    PREVIOUS_CHAMPION,
    RETRAINING_EXPERIMENT,
    alias_version,
    mark_challenger,
    promote,
    recover,
    rollback,
)

MODEL = "m"


def make_store(folder: Path, versions: int = 3, champion: str | None = "1") -> str:
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    client = connect(uri)
    client.create_registered_model(MODEL)
    for _ in range(versions):
        client.create_model_version(MODEL, source=str(folder / "model"))
    if champion:
        client.set_registered_model_alias(MODEL, CHAMPION, champion)
    return uri


def audit_runs(client) -> list[dict[str, str]]:
    experiment = client.get_experiment_by_name(RETRAINING_EXPERIMENT)
    runs = client.search_runs([experiment.experiment_id], order_by=["attributes.start_time ASC"])
    return [run.data.params for run in runs]


def test_promote_and_rollback_with_audit(tmp_path: Path) -> None:
    client = connect(make_store(tmp_path))
    change = promote(client, MODEL, 2, reason="better on holdout", actor="alice")
    assert (change.champion, change.previous) == ("2", "1")
    assert str(alias_version(client, MODEL, CHAMPION).version) == "2"
    assert str(alias_version(client, MODEL, PREVIOUS_CHAMPION).version) == "1"
    tags = client.get_model_version(MODEL, "2").tags
    assert tags["driftloop.decision"] == "promoted" and tags["driftloop.decided_by"] == "alice"
    assert tags["driftloop.replaced"] == "1"
    assert client.get_model_version(MODEL, "1").tags["driftloop.replaced_by"] == "2"

    back = rollback(client, MODEL, reason="latency", actor="bob")
    assert (back.champion, back.previous) == ("1", "2")
    assert str(alias_version(client, MODEL, CHAMPION).version) == "1"
    assert alias_version(client, MODEL, PREVIOUS_CHAMPION) is None
    assert client.get_model_version(MODEL, "2").tags["driftloop.decision"] == "rolled-back"
    with pytest.raises(DriftloopError, match="nothing to roll back to"):
        rollback(client, MODEL, reason="again", actor="bob")
    runs = audit_runs(client)
    assert [(r["action"], r["version"], r["actor"]) for r in runs] == [("promote", "2", "alice"), ("rollback", "1", "bob")]
    assert runs[0]["previous"] == "1" and runs[0]["reason"] == "better on holdout"


def test_promote_bad_input_changes_nothing(tmp_path: Path) -> None:
    client = connect(make_store(tmp_path))
    with pytest.raises(DriftloopError, match="has no version '9'"):
        promote(client, MODEL, 9, reason="x", actor="a")
    with pytest.raises(DriftloopError, match="does not exist"):
        promote(client, "nope", 1, reason="x", actor="a")
    with pytest.raises(DriftloopError, match="already the champion"):
        promote(client, MODEL, 1, reason="x", actor="a")
    with pytest.raises(DriftloopError, match="moved from version 3 to 1"):
        promote(client, MODEL, 2, reason="x", actor="a", expected_champion="3")
    assert str(alias_version(client, MODEL, CHAMPION).version) == "1"
    assert alias_version(client, MODEL, PREVIOUS_CHAMPION) is None
    assert client.get_experiment_by_name(RETRAINING_EXPERIMENT) is None


def _racer(uri: str, version: str, start: float, results) -> None:
    client = connect(uri)
    while time.time() < start:
        time.sleep(0.001)
    try:
        promote(client, MODEL, version, reason="race", actor=f"racer{version}", expected_champion="1")
        results.put((version, "promoted"))
    except DriftloopError as error:
        results.put((version, str(error)))


def assert_one_of_two_racing_promotions_wins(uri: str) -> None:
    """Two processes promote versions 2 and 3 at the same instant against champion 1: exactly one wins."""
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    start = time.time() + 5.0
    racers = [context.Process(target=_racer, args=(uri, v, start, results)) for v in ("2", "3")]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join(120)
    outcomes = dict(results.get(timeout=5) for _ in racers)
    winners = [v for v, outcome in outcomes.items() if outcome == "promoted"]
    assert len(winners) == 1, outcomes
    loser = ({"2", "3"} - set(winners)).pop()
    assert "champion moved from version 1" in outcomes[loser]
    client = connect(uri)
    assert str(alias_version(client, MODEL, CHAMPION).version) == winners[0]
    assert str(alias_version(client, MODEL, PREVIOUS_CHAMPION).version) == "1"


def test_two_concurrent_promotions_cannot_both_succeed(tmp_path: Path) -> None:
    assert_one_of_two_racing_promotions_wins(make_store(tmp_path))


def test_recover_resolves_orphaned_challengers(tmp_path: Path) -> None:
    client = connect(make_store(tmp_path))
    dead = multiprocessing.get_context("spawn").Process(target=time.sleep, args=(0,))
    dead.start()
    dead.join()
    import socket

    mark_challenger(client, MODEL, "2", owner=f"{socket.gethostname()}:{dead.pid}")  # crashed before deciding
    mark_challenger(client, MODEL, "3", owner=f"{socket.gethostname()}:{os.getpid()}")  # still running: kept
    assert recover(client, MODEL, actor="test") == [("2", "abandoned")]
    assert client.get_model_version(MODEL, "2").tags["driftloop.decision"] == "abandoned"
    assert "driftloop.decision" not in client.get_model_version(MODEL, "3").tags
    assert str(alias_version(client, MODEL, CHALLENGER).version) == "3"  # the live challenger keeps its alias
    # crash after moving the alias but before the audit: recovered as promoted
    client.set_registered_model_alias(MODEL, CHAMPION, "3")
    assert recover(client, MODEL, actor="test", stale_after=0.0) == [("3", "promoted")]
    assert alias_version(client, MODEL, CHALLENGER) is None
    assert str(alias_version(client, MODEL, CHAMPION).version) == "3"
    assert recover(client, MODEL, actor="test", stale_after=0.0) == []


def test_cli_promote_and_rollback(tmp_path: Path) -> None:
    uri = make_store(tmp_path)
    runner = CliRunner()
    result = runner.invoke(promote_command, ["--model", MODEL, "--version", "2", "--tracking-uri", uri,
                                             "--reason", "manual"])
    assert result.exit_code == 0, result.output
    assert "champion: version 2 (was 1)" in result.output
    result = runner.invoke(rollback_command, ["--model", MODEL, "--tracking-uri", uri])
    assert result.exit_code == 0, result.output
    assert "champion: version 1 (was 2)" in result.output
    result = runner.invoke(rollback_command, ["--model", MODEL, "--tracking-uri", uri])
    assert result.exit_code == 1 and "nothing to roll back to" in result.output
    result = runner.invoke(promote_command, ["--model", MODEL, "--version", "7", "--tracking-uri", uri])
    assert result.exit_code == 1 and "has no version '7'" in result.output


def _move_before_the_lock(monkeypatch: pytest.MonkeyPatch, move) -> None:
    """Run ``move`` (a competing promotion or rollback) once, when the next alias change has read the registry and
    is about to take the lock: the interleaving of two commands started at the same moment, made deterministic."""
    from driftloop.tracking import registry

    real_lock = registry.registry_lock

    def lock_after_the_move(client, name, **options):
        monkeypatch.setattr(registry, "registry_lock", real_lock)
        move(client)
        return real_lock(client, name, **options)

    monkeypatch.setattr(registry, "registry_lock", lock_after_the_move)


def test_a_rollback_refuses_when_a_promotion_lands_between_its_read_and_its_write(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The operator rolls back to retire version 2; a promotion of 3 lands first (2 becomes previous-champion):
    restoring previous-champion now would reinstate the version the operator meant to retire."""
    uri = make_store(tmp_path)
    client = connect(uri)
    promote(client, MODEL, 2, reason="better", actor="alice")
    _move_before_the_lock(monkeypatch, lambda c: promote(c, MODEL, 3, reason="newer", actor="carol"))
    result = CliRunner().invoke(rollback_command, ["--model", MODEL, "--tracking-uri", uri])
    assert result.exit_code == 1
    assert "champion moved from version 2 to 3" in result.output and "nothing is rolled back" in result.output
    assert str(alias_version(client, MODEL, CHAMPION).version) == "3"
    assert str(alias_version(client, MODEL, PREVIOUS_CHAMPION).version) == "2"
    assert [r["action"] for r in audit_runs(client)] == ["promote", "promote"]


def test_a_rollback_given_the_champion_it_retires_refuses_another(tmp_path: Path) -> None:
    client = connect(make_store(tmp_path))
    promote(client, MODEL, 2, reason="better", actor="alice")
    with pytest.raises(DriftloopError, match="moved from version 3 to 2"):
        rollback(client, MODEL, reason="bad", actor="bob", expected_champion="3")
    assert str(alias_version(client, MODEL, CHAMPION).version) == "2"
    change = rollback(client, MODEL, reason="bad", actor="bob", expected_champion="2")
    assert (change.champion, change.previous) == ("1", "2")


def test_two_rollbacks_at_once_roll_back_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    client = connect(make_store(tmp_path))
    promote(client, MODEL, 2, reason="better", actor="alice")
    _move_before_the_lock(monkeypatch, lambda c: rollback(c, MODEL, reason="first", actor="bob"))
    with pytest.raises(DriftloopError, match="moved from version 2 to 1"):
        rollback(client, MODEL, reason="second", actor="dave")
    assert str(alias_version(client, MODEL, CHAMPION).version) == "1"
    assert [r["action"] for r in audit_runs(client)] == ["promote", "rollback"]

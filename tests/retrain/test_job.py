"""The retrain job end to end with the wine project: promote a better challenger, survive a failing project,
refuse bad input without touching the registry."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from driftloop.cli.retrain import retrain_command
from driftloop.errors import DriftloopError
from driftloop.retrain.job import retrain
from driftloop.tracking import connect
from driftloop.tracking.registry import CHAMPION, PREVIOUS_CHAMPION, RETRAINING_EXPERIMENT, alias_version
from tests.conftest import WINE_PROJECT, copy_store

MODEL = "wine-quality"


@pytest.fixture
def store(trained_wine_store: Path, workdir: Path) -> str:
    return copy_store(trained_wine_store, workdir)


@pytest.fixture
def white(workdir: Path) -> Path:
    frame = pd.read_csv(WINE_PROJECT / "data" / "winequality-white.csv", sep=";").iloc[:1500]
    path = workdir / "white.csv"
    frame.to_csv(path, index=False)
    return path


def registry_state(client) -> tuple:
    versions = client.search_model_versions(f"name = '{MODEL}'")
    return (sorted((str(v.version), tuple(sorted(v.aliases)), tuple(sorted(v.tags.items()))) for v in versions),)


def test_retrain_on_white_wine_promotes_a_better_challenger(store: str, white: Path) -> None:
    client = connect(store)
    result = CliRunner().invoke(retrain_command, [
        "--model", MODEL, "--project", str(WINE_PROJECT), "--data", str(white), "--target", "quality",
        "--tracking-uri", store, "-P", "alpha=0.01", "--margin", "0.02",
    ])
    assert result.exit_code == 0, result.output
    # version 2 is validated on the freshest 300 rows, then refitted on all 1,500 as version 3, which is promoted
    assert "refitted on all 1500 labelled rows as version 3" in result.output
    assert "Promoted: wine-quality@champion is version 3 (previous-champion: 1)" in result.output
    assert str(alias_version(client, MODEL, CHAMPION).version) == "3"
    assert str(alias_version(client, MODEL, PREVIOUS_CHAMPION).version) == "1"
    tags = client.get_model_version(MODEL, "3").tags
    assert tags["driftloop.decision"] == "promoted" and tags["driftloop.validated_version"] == "2"
    assert float(tags["driftloop.validation.ci_high"]) < -0.02
    assert int(tags["driftloop.validation.rows"]) == 300 and tags["driftloop.training_rows"] == "1500"
    validated = client.get_model_version(MODEL, "2")
    assert validated.tags["driftloop.decision"] == "refitted" and validated.tags["driftloop.training_rows"] == "1200"
    assert float(validated.tags["driftloop.validation.ci_high"]) < -0.02
    # the project saw 1,200 rows for the validated version and all 1,500 for the refit (it splits them 75/25)
    fitted = {version: client.get_run(client.get_model_version(MODEL, version).run_id).data.metrics
              for version in ("2", "3")}
    assert {v: m["train_rows"] + m["validation_rows"] for v, m in fitted.items()} == {"2": 1200, "3": 1500}
    assert fitted["3"]["validation/ci_high"] == pytest.approx(float(tags["driftloop.validation.ci_high"]), rel=1e-5)
    assert fitted["3"]["validation/rows"] == 300
    experiment = client.get_experiment_by_name(RETRAINING_EXPERIMENT)
    runs = client.search_runs([experiment.experiment_id], filter_string="params.action = 'retrain'")
    assert len(runs) == 1 and runs[0].data.params["decision"] == "promoted"
    assert runs[0].data.params["version"] == "3" and runs[0].data.params["validated_version"] == "2"
    assert runs[0].data.metrics["challenger_mae"] < runs[0].data.metrics["champion_mae"]


def test_no_refit_promotes_the_validated_version(store: str, white: Path) -> None:
    client = connect(store)
    outcome = retrain(client, MODEL, WINE_PROJECT, white, target="quality", parameters={"alpha": "0.01"},
                      margin=0.02, refit=False)
    assert outcome.decision == "promoted" and outcome.refit is None
    assert str(alias_version(client, MODEL, CHAMPION).version) == outcome.challenger == "2"
    assert len(client.search_model_versions(f"name = '{MODEL}'")) == 2


def test_failing_project_leaves_the_champion(store: str, white: Path, workdir: Path) -> None:
    project = workdir / "broken"
    project.mkdir()
    (project / "MLproject").write_text(
        "name: broken\nentry_points:\n  main:\n    parameters:\n      data: {type: string, default: ''}\n"
        "    command: python fail.py {data}\n"
    )
    (project / "fail.py").write_text("raise RuntimeError('training exploded')\n")
    client = connect(store)
    with pytest.raises(DriftloopError, match=r"failed; the champion \(version 1\) is unchanged: .*training exploded"):
        retrain(client, MODEL, project, white, target="quality")
    assert str(alias_version(client, MODEL, CHAMPION).version) == "1"
    experiment = client.get_experiment_by_name(RETRAINING_EXPERIMENT)
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.info.status == "FAILED" and run.data.params["decision"] == "failed"


@pytest.mark.parametrize("change, message", [
    ({"project": "missing-project"}, "does not exist"),
    ({"parameters": {"gamma": "1"}}, "declares no parameter 'gamma'"),
    ({"parameters": {"alpha": "x"}}, "'alpha' must be a number"),
    ({"rows": 30}, "at least 50 labelled rows"),
    ({"model": "no-such-model"}, "does not exist"),
    ({"target": "score"}, "target column 'score' is not in"),
    ({"target": None}, "'target' parameter of retrain is required"),
])
def test_bad_input_changes_nothing(store: str, white: Path, change: dict, message: str) -> None:
    client = connect(store)
    before = registry_state(client)
    data = white
    if "rows" in change:
        data = white.with_name("few.csv")
        pd.read_csv(white).iloc[: change["rows"]].to_csv(data, index=False)
    with pytest.raises(DriftloopError, match=message):
        retrain(client, change.get("model", MODEL), change.get("project", WINE_PROJECT), data,
                target=change.get("target", "quality"), parameters=change.get("parameters"))
    assert registry_state(client) == before
    assert client.get_experiment_by_name(RETRAINING_EXPERIMENT) is None


def test_model_without_champion(store: str, white: Path) -> None:
    client = connect(store)
    client.delete_registered_model_alias(MODEL, CHAMPION)
    with pytest.raises(DriftloopError, match="has no 'champion' alias"):
        retrain(client, MODEL, WINE_PROJECT, white, target="quality")
    assert len(client.search_model_versions(f"name = '{MODEL}'")) == 1


CRASH_AFTER_REGISTERING = """
import os, signal, sys
from driftloop.retrain import job
from driftloop.tracking import connect

def crash(*args, **kwargs):  # validation starts: the challenger is registered and marked, nothing decided yet
    os.kill(os.getpid(), signal.SIGKILL)

job.compare = crash
job.retrain(connect(sys.argv[1]), "wine-quality", sys.argv[2], sys.argv[3], target="quality",
            parameters={"alpha": "0.01"}, margin=0.02)
"""


def test_a_retrain_killed_between_registering_and_promoting_is_recovered_by_the_next(
        store: str, white: Path, workdir: Path) -> None:
    import signal
    import subprocess
    import sys

    killed = subprocess.run([sys.executable, "-c", CRASH_AFTER_REGISTERING, store, str(WINE_PROJECT), str(white)],
                            cwd=workdir, capture_output=True, text=True, timeout=300)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    client = connect(store)
    # consistent after the crash: the champion never moved; the orphan is a marked, undecided challenger
    assert str(alias_version(client, MODEL, CHAMPION).version) == "1"
    orphan = client.get_model_version(MODEL, "2")
    assert orphan.tags["driftloop.role"] == "challenger" and "driftloop.decision" not in orphan.tags
    assert alias_version(client, MODEL, PREVIOUS_CHAMPION) is None

    outcome = retrain(client, MODEL, WINE_PROJECT, white, target="quality", parameters={"alpha": "0.01"},
                      margin=0.02)
    assert outcome.decision == "promoted" and (outcome.challenger, outcome.refit) == ("3", "4")
    assert client.get_model_version(MODEL, "2").tags["driftloop.decision"] == "abandoned"
    assert str(alias_version(client, MODEL, CHAMPION).version) == "4"
    assert str(alias_version(client, MODEL, PREVIOUS_CHAMPION).version) == "1"
    experiment = client.get_experiment_by_name(RETRAINING_EXPERIMENT)
    actions = sorted(run.data.params["action"] for run in client.search_runs([experiment.experiment_id]))
    assert actions == ["promote", "recover", "retrain"]


def test_a_retrain_racing_a_rollback_refuses_and_reports_the_champion_of_the_registry(
        store: str, white: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    """Champion 2 (previous 1); while the challenger is validated, an operator rolls back to 1. The retrain must
    not promote over the rollback, and must say the champion is now 1, not that it "stays" 2."""
    from driftloop.cli.retrain import print_retrain_outcome
    from driftloop.retrain import job
    from driftloop.tracking.registry import promote, rollback

    client = connect(store)
    first = client.get_model_version(MODEL, "1")
    client.create_model_version(MODEL, source=first.source, run_id=first.run_id)
    promote(client, MODEL, "2", reason="setup", actor="test")
    real_compare = job.compare

    def compare_during_a_rollback(*args, **kwargs):
        rollback(client, MODEL, reason="operator", actor="ops")
        return real_compare(*args, **kwargs)

    monkeypatch.setattr(job, "compare", compare_during_a_rollback)
    outcome = retrain(client, MODEL, WINE_PROJECT, white, target="quality", parameters={"alpha": "0.01"},
                      margin=0.02)
    assert outcome.validation.promote and outcome.decision == "rejected"
    assert "champion moved from version 2 to 1" in outcome.reason
    assert (outcome.champion_before, outcome.champion_after) == ("2", "1")
    assert str(alias_version(client, MODEL, CHAMPION).version) == "1"
    print_retrain_outcome(outcome)
    printed = capsys.readouterr().out
    assert "wine-quality@champion is version 1 (moved by another change" in printed and "stays" not in printed


STOPPED_WHILE_TRAINING = """
import os, signal, sys, time
from driftloop.retrain import job
from driftloop.tracking import connect

# Ctrl-C raises KeyboardInterrupt, as in a terminal, also when the tests run as a background job (which inherits
# SIGINT ignored, and Python then leaves it ignored)
signal.signal(signal.SIGINT, signal.default_int_handler)

def training(client, directory, parameters):  # the project is running: its training rows are on disk
    print(parameters["data"], flush=True)
    time.sleep(120)

job.run_project = training
job.retrain(connect(sys.argv[1]), "wine-quality", sys.argv[2], sys.argv[3], target="quality")
"""


@pytest.mark.parametrize("stop", ["SIGTERM", "SIGINT", "SIGKILL"])
def test_a_stopped_retrain_leaves_no_training_data(store: str, white: Path, workdir: Path, stop: str,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """SIGTERM and SIGINT remove the training rows at once; after SIGKILL (which no process can handle), the next
    retrain on the machine removes them."""
    import os
    import signal
    import subprocess
    import sys
    import tempfile

    from driftloop.retrain.workspace import training_folder

    temp = workdir / "tmp"
    temp.mkdir()
    env = {**os.environ, "TMPDIR": str(temp)}
    child = subprocess.Popen([sys.executable, "-c", STOPPED_WHILE_TRAINING, store, str(WINE_PROJECT), str(white)],
                             cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    data = Path(child.stdout.readline().strip())
    assert data.is_file() and data.parent.parent == temp, child.stderr.read()
    child.send_signal(getattr(signal, stop))
    child.communicate(timeout=120)
    assert child.returncode != 0
    if stop == "SIGKILL":
        assert data.is_file()  # nothing could run in the killed process
        monkeypatch.setenv("TMPDIR", str(temp))
        monkeypatch.setattr(tempfile, "tempdir", None)  # gettempdir() reads TMPDIR again
        with training_folder() as folder:  # what the next retrain does first
            assert folder.parent == temp and not data.exists()
    assert not data.parent.exists()
    assert list(temp.iterdir()) == []
    assert str(alias_version(connect(store), MODEL, CHAMPION).version) == "1"


def test_the_promotion_rule_decides_on_the_same_evidence(store: str, white: Path) -> None:
    """With a margin of 5 quality points, no challenger is better beyond it ('better' rejects) and none is worse
    beyond it ('not-worse' promotes); the rule is recorded with the decision."""
    client = connect(store)
    common = {"target": "quality", "parameters": {"alpha": "0.01"}, "margin": 5.0, "refit": False}
    rejected = retrain(client, MODEL, WINE_PROJECT, white, rule="better", **common)
    assert rejected.decision == "rejected" and str(alias_version(client, MODEL, CHAMPION).version) == "1"
    promoted = retrain(client, MODEL, WINE_PROJECT, white, rule="not-worse", **common)
    assert promoted.decision == "promoted" and "not worse beyond the margin" in promoted.reason
    assert str(alias_version(client, MODEL, CHAMPION).version) == promoted.challenger == "3"
    experiment = client.get_experiment_by_name(RETRAINING_EXPERIMENT)
    runs = client.search_runs([experiment.experiment_id], filter_string="params.action = 'retrain'")
    assert sorted(run.data.params["promotion_rule"] for run in runs) == ["better", "not-worse"]
    with pytest.raises(DriftloopError, match="'rule' parameter of retrain must be one of better, not-worse; got 'x'"):
        retrain(client, MODEL, WINE_PROJECT, white, rule="x", **common)


def test_the_champion_is_judged_only_on_holdout_rows_it_did_not_train_on(store: str, white: Path,
                                                                          workdir: Path) -> None:
    """Every model the job trains records which rows trained it; a later retrain whose data overlaps them leaves
    those rows out of the holdout the champion is judged on, and is skipped, changing nothing, when too few remain.
    The rows a champion saw are found here independently, by merging on every column."""
    from driftloop.retrain import training_rows
    from driftloop.retrain.job import MIN_HOLDOUT_ROWS, RetrainSkipped

    client = connect(store)
    first = retrain(client, MODEL, WINE_PROJECT, white, target="quality", parameters={"alpha": "0.01"})
    assert first.decision == "promoted" and first.champion_after == first.refit == "3"
    # the first champion was trained by the project alone: no record, its holdout is taken as it comes
    runs = client.search_runs([client.get_experiment_by_name(RETRAINING_EXPERIMENT).experiment_id])
    assert runs[0].data.params["holdout_rows_seen_by_champion"] == "unknown"
    wine = pd.read_csv(white)
    recorded = {version: training_rows.load(client, MODEL, version) for version in ("2", "3")}
    assert len(recorded["2"]) == len(wine.iloc[:1200].drop_duplicates())  # the validated challenger's rows
    assert len(recorded["3"]) == len(wine.drop_duplicates())  # the refit's: all 1,500

    # the same file again: its holdout (the freshest 300 rows) trained the champion, version 3
    before = registry_state(client)
    with pytest.raises(RetrainSkipped, match=r"300 of the 300 holdout rows trained the champion \(version 3\)"):
        retrain(client, MODEL, WINE_PROJECT, white, target="quality", parameters={"alpha": "0.01"})
    assert registry_state(client) == before

    # rows 600-1,699: the freshest 220 are the holdout; those among the champion's 1,500 (rows 1,480-1,499 and any
    # duplicate of an earlier row) are left out
    overlap = workdir / "overlap.csv"
    full = pd.read_csv(WINE_PROJECT / "data" / "winequality-white.csv", sep=";")
    full.iloc[600:1700].to_csv(overlap, index=False)
    holdout = full.iloc[1480:1700]
    trained = wine.drop_duplicates()
    seen = holdout.merge(trained, on=list(full.columns), how="left", indicator=True)["_merge"] == "both"
    assert 20 <= seen.sum() < len(holdout) - MIN_HOLDOUT_ROWS
    second = retrain(client, MODEL, WINE_PROJECT, overlap, target="quality", parameters={"alpha": "0.01"})
    assert second.holdout_rows == 220 and second.validation.rows == 220 - seen.sum()
    assert f"({seen.sum()} holdout rows that trained the champion left out)" in second.reason
    audit = client.get_run(second.audit_run_id).data.params
    assert audit["holdout_rows_seen_by_champion"] == str(seen.sum())

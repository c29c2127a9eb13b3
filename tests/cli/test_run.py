import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from mlflow import MlflowClient

from driftloop.cli.main import cli
from tests.conftest import WINE_PROJECT


def test_run_trains_registers_and_prints_metrics(workdir):
    result = CliRunner().invoke(
        cli, ["run", str(WINE_PROJECT), "-P", "alpha=0.01", "-P", "l1_ratio=0.5", "--experiment-name", "wine"]
    )
    assert result.exit_code == 0, result.output
    assert "Run completed with status FINISHED" in result.output
    run_id = result.output.split("Run ID: ")[1].split()[0]
    metrics_line = next(line for line in result.output.splitlines() if line.startswith("Metrics logged: "))
    client = MlflowClient(f"sqlite:///{workdir / 'mlflow.db'}")
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert f"accuracy={run.data.metrics['accuracy']:.6g}" in metrics_line
    assert f"loss={run.data.metrics['loss']:.6g}" in metrics_line
    assert run.data.params["alpha"] == "0.01"
    assert client.get_experiment(run.info.experiment_id).name == "wine"
    champion = client.get_model_version_by_alias("wine-quality", "champion")
    assert champion.run_id == run_id
    assert 0.4 < run.data.metrics["accuracy"] < 0.8 and 0.2 < run.data.metrics["loss"] < 0.7


@pytest.mark.parametrize(
    ("param", "message"),
    [
        ("alpha=abc", "Parameter 'alpha' must be a number (float); got 'abc'."),
        ("nosuch=1", "declares no parameter 'nosuch'; its parameters are: alpha, color, data, l1_ratio."),
        ("alpha", "Parameters are given as -P NAME=VALUE; got 'alpha'."),
        ("=3", "Parameters are given as -P NAME=VALUE; got '=3'."),
        ("alpha=inf", "Parameter 'alpha' must be a finite number; got 'inf'."),
    ],
)
def test_bad_parameters_are_refused_before_anything_runs(workdir, param, message):
    result = CliRunner().invoke(cli, ["run", str(WINE_PROJECT), "-P", param])
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output
    assert not (workdir / "mlruns").exists()  # no run was created


def test_a_missing_project_is_a_clear_error(workdir):
    result = CliRunner().invoke(cli, ["run", str(workdir / "nowhere")])
    assert result.exit_code == 1
    assert "does not exist" in result.output


def test_a_failing_project_ends_failed_with_its_cause(workdir):
    project = workdir / "broken"
    project.mkdir()
    (project / "MLproject").write_text(
        "name: broken\nentry_points:\n  main:\n    parameters:\n      n: {type: int, default: 1}\n"
        "    command: python fail.py {n}\n"
    )
    (project / "fail.py").write_text("import sys\nraise ValueError(f'bad input {sys.argv[1]}')\n")
    result = CliRunner().invoke(cli, ["run", str(project), "-P", "n=7"])
    assert result.exit_code == 1
    assert "Run completed with status FAILED" in result.output
    assert "ValueError: bad input 7" in result.output
    run_id = result.output.split("Run ID: ")[1].split()[0]
    assert MlflowClient(f"sqlite:///{workdir / 'mlflow.db'}").get_run(run_id).info.status == "FAILED"


def test_a_project_that_dies_without_ending_its_run_is_marked_failed(workdir):
    project = workdir / "killed"
    project.mkdir()
    (project / "MLproject").write_text("name: killed\nentry_points:\n  main:\n    command: python die.py\n")
    (project / "die.py").write_text(
        "import os, mlflow\nmlflow.start_run()\nmlflow.log_metric('x', 1.0)\nos._exit(3)\n"
    )
    result = CliRunner().invoke(cli, ["run", str(project)])
    assert result.exit_code == 1
    run_id = result.output.split("Run ID: ")[1].split()[0]
    run = MlflowClient(f"sqlite:///{workdir / 'mlflow.db'}").get_run(run_id)
    assert run.info.status == "FAILED"
    assert "Metrics logged: x=1" in result.output


def test_running_a_project_leaves_no_tracking_uri_behind(workdir, monkeypatch):
    """mlflow.set_tracking_uri exports MLFLOW_TRACKING_URI: driftloop must restore the environment after a run."""
    import os

    from driftloop.tracking.store import use_tracking_uri

    with use_tracking_uri(f"sqlite:///{workdir / 'other.db'}"):
        assert os.environ["MLFLOW_TRACKING_URI"].endswith("other.db")
    assert "MLFLOW_TRACKING_URI" not in os.environ
    assert "MLFLOW_REGISTRY_URI" not in os.environ


def test_real_mlflow_run_uses_the_same_store(workdir):
    """The user's own `mlflow run ... --env-manager local` in the same folder lands in driftloop's store."""
    mlflow_cli = Path(sys.executable).parent / "mlflow"
    completed = subprocess.run(
        [str(mlflow_cli), "run", str(WINE_PROJECT), "-P", "alpha=0.01", "-P", "l1_ratio=0.5", "--env-manager", "local"],
        cwd=workdir, capture_output=True, text=True, timeout=300,
        env={**__import__("os").environ, "PATH": f"{mlflow_cli.parent}:{__import__('os').environ['PATH']}"},
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    client = MlflowClient(f"sqlite:///{workdir / 'mlflow.db'}")
    champion = client.get_model_version_by_alias("wine-quality", "champion")
    result = CliRunner().invoke(cli, ["metrics", "list", "--run-id", champion.run_id])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("accuracy: ")

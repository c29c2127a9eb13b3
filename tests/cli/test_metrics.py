import json

from click.testing import CliRunner
from mlflow import MlflowClient
from mlflow.entities import Metric

from driftloop.cli.main import cli


def _run_with_history(workdir) -> str:
    client = MlflowClient(f"sqlite:///{workdir / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("m")
    run = client.create_run(experiment.experiment_id if experiment else client.create_experiment("m"))
    metrics = [Metric("loss", v, 1_700_000_000_000 + step * 1000, step) for step, v in enumerate([0.5, 0.4, 0.35])]
    metrics.append(Metric("accuracy", 0.85, 1_700_000_000_000, 0))
    client.log_batch(run.info.run_id, metrics=metrics)
    client.set_terminated(run.info.run_id)
    return run.info.run_id


def test_list_prints_latest_values_sorted_by_name(workdir):
    run_id = _run_with_history(workdir)
    result = CliRunner().invoke(cli, ["metrics", "list", "--run-id", run_id])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == ["accuracy: 0.85", "loss: 0.35"]  # one metric a line


def test_a_monitoring_run_lists_one_metric_a_line(workdir):
    """A monitoring run has hundreds of metrics: they used to come out as one line of thousands of characters."""
    client = MlflowClient(f"sqlite:///{workdir / 'mlflow.db'}")
    run = client.create_run(client.create_experiment("model-monitoring"))
    names = [f"drift/column {i}/{statistic}" for i in range(40) for statistic in ("ks", "psi", "wasserstein")]
    client.log_batch(run.info.run_id, metrics=[Metric(name, 0.25, 1_700_000_000_000, 0) for name in names])
    result = CliRunner().invoke(cli, ["metrics", "list", "--run-id", run.info.run_id])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [f"{name}: 0.25" for name in sorted(names)]


def test_history_and_json(workdir):
    run_id = _run_with_history(workdir)
    text = CliRunner().invoke(cli, ["metrics", "list", "--run-id", run_id, "--history", "loss"]).output
    lines = text.strip().splitlines()
    assert lines[0].split() == ["step", "timestamp", "(UTC)", "loss"]
    assert [line.split()[0] for line in lines[1:]] == ["0", "1", "2"]
    assert [float(line.split()[-1]) for line in lines[1:]] == [0.5, 0.4, 0.35]
    assert "2023-11-14T22:13:20+00:00" in lines[1]
    as_json = json.loads(
        CliRunner().invoke(cli, ["metrics", "list", "--run-id", run_id, "--history", "loss", "--format", "json"]).output
    )
    assert as_json["history"][2] == {"step": 2, "timestamp": 1_700_000_002_000, "value": 0.35}
    latest = json.loads(CliRunner().invoke(cli, ["metrics", "list", "--run-id", run_id, "--format", "json"]).output)
    assert latest["metrics"] == {"accuracy": 0.85, "loss": 0.35}


def test_unknown_run_and_unknown_metric(workdir):
    _run_with_history(workdir)
    result = CliRunner().invoke(cli, ["metrics", "list", "--run-id", "0123456789abcdef"])
    assert result.exit_code == 1
    assert result.output.strip() == "Error: No run with ID '0123456789abcdef' in the tracking store."
    run_id = _run_with_history(workdir)
    result = CliRunner().invoke(cli, ["metrics", "list", "--run-id", run_id, "--history", "nope"])
    assert result.exit_code == 1
    assert "has no metric 'nope'; its metrics are: accuracy, loss." in result.output

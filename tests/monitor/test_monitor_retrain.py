"""`driftloop monitor --retrain`: the policy runs after the pass and closes the loop."""

from click.testing import CliRunner
from mlflow import MlflowClient

from driftloop.cli.main import cli
from tests.conftest import WINE_PROJECT, copy_store
from tests.monitor.test_monitor_cli import _wine


def test_a_drift_alert_retrains_and_promotes_a_better_challenger(trained_wine_store, workdir):
    uri = copy_store(trained_wine_store, workdir)
    _wine("white").iloc[:1500].to_csv(workdir / "white.csv", index=False)
    (workdir / "rules.toml").write_text(
        '[[rule]]\nname = "drift"\nmetric = "drift/share"\ncomparison = ">="\nthreshold = 0.25\n'
        'severity = "alert"\n\n[retrain]\npolicy = "drift"\n'
    )
    result = CliRunner().invoke(cli, [
        "monitor", "--model", "wine-quality@champion", "--data", str(workdir / "white.csv"), "--timestamp-column",
        "ts", "--window", "7d", "--target", "quality", "--rules", str(workdir / "rules.toml"),
        "--retrain", str(WINE_PROJECT), "-P", "alpha=0.01", "--tracking-uri", uri,
    ])
    assert result.exit_code == 3, result.output  # the alert still makes the exit code
    assert "Retrain policy drift: retrain" in result.output
    assert "Promoted: wine-quality@champion is version 3" in result.output
    client = MlflowClient(uri)
    assert str(client.get_model_version_by_alias("wine-quality", "champion").version) == "3"  # the refit of validated version 2
    assert str(client.get_model_version_by_alias("wine-quality", "previous-champion").version) == "1"


def test_retrain_without_a_policy_is_refused_before_monitoring(trained_wine_store, workdir):
    uri = copy_store(trained_wine_store, workdir)
    result = CliRunner().invoke(cli, [
        "monitor", "--model", "wine-quality@champion", "--data", "x.csv", "--rows", "10", "--retrain",
        str(WINE_PROJECT), "--tracking-uri", uri,
    ])
    assert result.exit_code == 1
    assert "--retrain needs a [retrain] table with a policy" in result.output

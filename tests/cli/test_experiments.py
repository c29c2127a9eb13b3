from click.testing import CliRunner

from driftloop.cli.main import cli


def test_create_prints_the_new_id_on_the_default_store(workdir):
    result = CliRunner().invoke(cli, ["experiments", "create", "--experiment-name", "model-monitoring"])
    assert result.exit_code == 0, result.output
    assert "Created experiment with ID 1" in result.output
    assert (workdir / "mlflow.db").is_file()


def test_an_existing_name_is_a_one_line_error(workdir):
    runner = CliRunner()
    runner.invoke(cli, ["experiments", "create", "--experiment-name", "model-monitoring"])
    result = runner.invoke(cli, ["experiments", "create", "--experiment-name", "model-monitoring"])
    assert result.exit_code == 1
    assert result.output.strip() == "Error: Experiment 'model-monitoring' already exists with ID 1."


def test_tracking_uri_flag_wins_over_the_environment(workdir, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{workdir / 'from-env.db'}")
    flag_store = workdir / "from-flag.db"
    result = CliRunner().invoke(
        cli, ["experiments", "create", "-n", "x", "--tracking-uri", f"sqlite:///{flag_store}"]
    )
    assert result.exit_code == 0, result.output
    assert flag_store.is_file()
    assert not (workdir / "from-env.db").exists()
    assert not (workdir / "mlflow.db").exists()


def test_the_environment_wins_over_the_default(workdir, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{workdir / 'from-env.db'}")
    result = CliRunner().invoke(cli, ["experiments", "create", "-n", "x"])
    assert result.exit_code == 0, result.output
    assert (workdir / "from-env.db").is_file()
    assert not (workdir / "mlflow.db").exists()

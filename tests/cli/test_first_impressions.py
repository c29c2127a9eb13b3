"""First impressions of the command line: a fast start, tables that fit the terminal, the usual option names, and
one-line errors for a bad or unreachable tracking store."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import time

import pandas as pd
import pytest
from click.testing import CliRunner
from rich.console import Console

from driftloop.cli.main import cli
from driftloop.cli.windows_table import print_reasons, windows_table
from driftloop.monitor.results import WindowResult
from tests.local_servers import free_port

HEAVY = ("mlflow", "sklearn", "pandas", "numpy", "scipy", "pyarrow")


def test_loading_the_command_group_imports_no_heavy_library() -> None:
    """`driftloop --help` used to take ~5 s: every command imported MLflow and friends when the group loaded."""
    code = ("import json, sys; import driftloop.cli.main; "
            f"print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & set({list(HEAVY)!r}))))")
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert json.loads(output) == []


@pytest.mark.parametrize("command", [[], ["monitor"], ["simulate"], ["demo"], ["metrics", "list"], ["ui"]])
def test_help_imports_no_heavy_library(command: list[str]) -> None:
    code = ("import json, sys\nfrom click.testing import CliRunner\nfrom driftloop.cli.main import cli\n"
            f"result = CliRunner().invoke(cli, {[*command, '--help']!r})\nassert result.exit_code == 0, result.output\n"
            f"print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & set({list(HEAVY)!r}))))")
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert json.loads(output) == []


# ----------------------------------------------------------------------------------------------- the table


def _windows(count: int, *, naive: bool) -> list[WindowResult]:
    windows = []
    for index in range(count):
        start = pd.Timestamp("2024-01-01 06:00") + pd.Timedelta(weeks=index)
        metrics = {"drift/share": 0.416666, "performance/mae": 123.456789, "performance/rmse": 1234.5678 + index * 1e7,
                   "performance/accuracy": 0.123456, "performance/label_coverage": 0.987654}
        if naive:
            metrics["performance/relative_mae"] = 1.23456
        reasons = ["drifted: temperature, humidity, wind speed, hour of the day, day of the week, a long column "
                   "name that goes on", "performance degraded (mae): performance/mae = 123.5 > 112.5 (1.25 x "
                   "training 90) for 2 windows"]
        windows.append(WindowResult(index, start, start + pd.Timedelta(weeks=1), 100_000, metrics, "alert", reasons))
    return windows


@pytest.mark.parametrize("naive", [False, True])
def test_the_window_table_and_its_reasons_fit_80_columns(naive: bool) -> None:
    buffer = io.StringIO()
    console = Console(file=buffer, width=80, color_system=None)
    windows = _windows(3, naive=naive)
    console.print(windows_table(windows, "bike-sharing v1: 3 window(s) assessed, 2 closed, 1 open", open_steps=[2]))
    print_reasons(console, windows)
    lines = buffer.getvalue().splitlines()
    assert max(map(len, lines)) <= 80, "\n".join(lines)
    assert "…" not in buffer.getvalue()  # nothing cut: numbers and reasons are whole
    assert any(line.startswith("2024-01-15 06:00*") and "2e+07" in line for line in lines)  # open: marked
    assert any(line.startswith("* open: re-assessed by later passes") for line in lines)
    assert any("2024-01-01 06:00" in line and "123" in line and "1235" in line and "alert" in line
               for line in lines)
    text = " ".join(line.strip() for line in lines)
    assert "performance degraded (mae): performance/mae = 123.5 > 112.5 (1.25 x training 90) for 2 windows" in text
    # the alert rule's reason comes first, on its own line under the window
    first = next(i for i, line in enumerate(lines) if line.strip() == "2024-01-01 06:00 alert (window 0)")
    assert lines[first + 1].strip().startswith("performance degraded (mae)")


# ----------------------------------------------------------------------------------------------- option names


def test_h_is_help_for_ui_as_everywhere() -> None:
    result = CliRunner().invoke(cli, ["ui", "-h"])
    assert result.exit_code == 0 and "Usage: cli ui" in result.output and "--host" in result.output


def test_simulate_takes_timestamp_column_and_the_old_name_still_works(workdir) -> None:
    pd.DataFrame({"when": ["2024-01-01"], "cnt": [1.0]}).to_csv(workdir / "t.csv", index=False)
    new = CliRunner().invoke(cli, ["simulate", "--data", "t.csv", "--timestamp-column", "at"])
    old = CliRunner().invoke(cli, ["simulate", "--data", "t.csv", "--timestamp", "at"])
    for result in (new, old):  # both name the column they were given
        assert result.exit_code == 1 and "'at'" in result.output and "Traceback" not in result.output, result.output
    assert "--timestamp is deprecated; use --timestamp-column" in old.output
    assert "--timestamp" not in CliRunner().invoke(cli, ["simulate", "--help"]).output.replace("--timestamp-column", "")
    both = CliRunner().invoke(cli, ["simulate", "--data", "t.csv", "--timestamp", "a", "--timestamp-column", "b"])
    assert both.exit_code == 1 and "Give --timestamp-column only" in both.output


# ----------------------------------------------------------------------------------------------- tracking URIs


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("sqlite:/nope", "The MLflow tracking URI 'sqlite:/nope' (--tracking-uri or MLFLOW_TRACKING_URI) is not a "
                         "database URL; expected sqlite:///PATH"),
        ("foo://x", "The MLflow tracking URI 'foo://x' (--tracking-uri or MLFLOW_TRACKING_URI) has the unknown scheme "
                    "'foo'"),
        ("http://", "has no host"),
        ("postgresql://me:secret@db.invalid/mlflow", "'postgresql://***@db.invalid/mlflow'"),
    ],
)
def test_a_malformed_tracking_uri_is_one_line_naming_it(workdir, uri: str, message: str) -> None:
    for command in (["experiments", "create", "-n", "x"], ["metrics", "list", "--run-id", "abc"]):
        result = CliRunner().invoke(cli, [*command, "--tracking-uri", uri])
        assert result.exit_code == 1, result.output
        assert message in result.output and "Traceback" not in result.output and "secret" not in result.output
        assert len(result.output.strip().splitlines()) == 1, result.output


def test_an_unreachable_database_is_one_line_at_once(workdir) -> None:
    """Nothing listens on the port: MLflow alone would retry the database for minutes, then print a traceback."""
    pytest.importorskip("psycopg", reason="the PostgreSQL driver psycopg is not installed")
    uri = f"postgresql://me:secret@127.0.0.1:{free_port()}/mlflow"
    started = time.monotonic()
    result = CliRunner().invoke(cli, ["experiments", "create", "-n", "x", "--tracking-uri", uri])
    assert time.monotonic() - started < 60  # a generous bound: no retry loop
    assert result.exit_code == 1, result.output
    (line,) = result.output.strip().splitlines()
    assert "'postgresql://***@127.0.0.1:" in line and "cannot be reached" in line and "secret" not in line


def test_an_unreachable_tracking_server_is_one_line_at_once(workdir, monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing listens on the port: MLflow alone would retry for minutes, then print a traceback."""
    uri = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)  # the variable is checked as the flag is
    started = time.monotonic()
    result = CliRunner().invoke(cli, ["monitor", "--model", "m@champion", "--data", "x.csv", "--rows", "10"])
    assert time.monotonic() - started < 60  # a generous bound: no retry loop
    assert result.exit_code == 1, result.output
    assert result.output.strip() == (f"Error: The MLflow tracking URI {uri!r} (--tracking-uri or MLFLOW_TRACKING_URI) "
                                     "cannot be reached ([Errno 111] Connection refused): is the MLflow server "
                                     "running?")

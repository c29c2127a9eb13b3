"""``driftloop serve`` and ``driftloop log export`` in-process (CliRunner)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
from click.testing import CliRunner

from driftloop.cli.main import cli
from driftloop.data.inference_log import InferenceLog, PredictionBatch, new_row_ids
from tests.local_servers import free_port


def test_serve_without_the_alias_is_a_one_line_error(wine_uri: str, workdir: Path) -> None:
    result = CliRunner().invoke(cli, ["serve", "--model", "wine-quality@gold", "--tracking-uri", wine_uri,
                                      "--port", str(free_port())])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1 and "no model 'wine-quality' with alias 'gold'" in lines[0]


def test_serve_on_an_empty_store_is_a_one_line_error(workdir: Path) -> None:
    result = CliRunner().invoke(cli, ["serve", "--model", "wine-quality@champion", "--port", str(free_port())])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "has no model 'wine-quality' with alias 'champion'" in result.output


def test_serve_refuses_a_malformed_reference(workdir: Path) -> None:
    result = CliRunner().invoke(cli, ["serve", "--model", "wine-quality", "--port", str(free_port())])
    assert result.exit_code == 1 and "NAME@ALIAS" in result.output


def test_serve_refuses_an_empty_feedback_token_and_a_zero_limit(workdir: Path) -> None:
    for extra in (["--feedback-token", " "], ["--max-columns", "0"]):
        result = CliRunner().invoke(cli, ["serve", "--model", "wine-quality@champion", "--port", str(free_port()),
                                          *extra])
        assert result.exit_code != 0 and "Traceback" not in result.output
        assert extra[0] in result.output


def test_commands_are_documented() -> None:
    runner = CliRunner()
    assert "serve" in runner.invoke(cli, ["--help"]).output and "log" in runner.invoke(cli, ["--help"]).output
    help_text = runner.invoke(cli, ["serve", "--help"]).output
    for name in ("--poll-interval", "--feedback-token", "DRIFTLOOP_FEEDBACK_TOKEN", "--max-body-bytes", "--max-columns",
                 "--max-json-depth", "--max-number-digits", "--max-id-length", "--max-label-length"):
        assert name in help_text
    assert "--to" in runner.invoke(cli, ["log", "export", "--help"]).output


def test_log_export(workdir: Path) -> None:
    ts = pd.Timestamp("2024-05-01T12:00:00", tz="UTC").value
    with InferenceLog(workdir / "inference-log.db") as log:
        log.submit_predictions(PredictionBatch(new_row_ids(2, ts), ts, "m", "1", {"x": np.array([1.0, 2.0])},
                                               [0.5, 0.7])).result()
    result = CliRunner().invoke(cli, ["log", "export", "--to", "parts"])
    assert result.exit_code == 0, result.output
    assert "Exported 2 predictions" in result.output and "as replica " in result.output
    assert len(list((workdir / "parts" / "date=2024-05-01").glob("replica=*/part-0.parquet"))) == 1
    result = CliRunner().invoke(cli, ["log", "export", "--log", "missing.db", "--to", "parts"])
    assert result.exit_code == 1 and "not a driftloop inference log" in result.output
    assert time.time() > 0

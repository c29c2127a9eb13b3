"""``driftloop demo``: driftloop's main job on the embedded store."""

from __future__ import annotations

from pathlib import Path

import click

from driftloop.cli.common import handle_errors, tracking_uri_option
from driftloop.errors import DriftloopError
from driftloop.tracking import connect
from driftloop.tracking.metrics import format_metrics_line
from driftloop.tracking.projects import run_project

WINE_PROJECT = Path(__file__).resolve().parents[3] / "examples" / "wine"


@click.command("demo")
@tracking_uri_option
@handle_errors
def demo(tracking_uri: str | None) -> None:
    """Train the wine-quality model of examples/wine and show how to look at it."""
    if not WINE_PROJECT.is_dir():
        raise DriftloopError(f"The demo needs the wine project at {WINE_PROJECT}; run it from a clone of driftloop.")
    client = connect(tracking_uri)
    result = run_project(client, WINE_PROJECT, {"alpha": "0.01", "l1_ratio": "0.5"}, experiment_name="wine-quality")
    if result.status != "FINISHED":
        raise DriftloopError(f"The wine project failed: {result.cause}")
    click.echo(f"\nTrained wine-quality in run {result.run_id}: {format_metrics_line(result.metrics)}")
    click.echo(f"Tracking store: {client.tracking_uri}")
    click.echo("Look at it:")
    click.echo(f"  driftloop metrics list --run-id {result.run_id}")
    click.echo("  driftloop ui        # then open http://127.0.0.1:5000 (runs, and the model wine-quality@champion)")

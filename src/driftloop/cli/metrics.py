"""``driftloop metrics``: read a run's metrics."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import click

from driftloop.cli.common import handle_errors, open_store, tracking_uri_option


@click.group()
def metrics() -> None:
    """List the metrics of a run."""


@metrics.command("list")
@click.option("--run-id", required=True, help="The run whose metrics to list.")
@click.option("--history", "history_of", default=None, metavar="NAME", help="Print every value of this metric.")
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text", show_default=True)
@tracking_uri_option
@handle_errors
def list_metrics(run_id: str, history_of: str | None, output_format: str, tracking_uri: str | None) -> None:
    """Print the latest value of each metric of a run (one a line), or one metric's history."""
    from driftloop.tracking.metrics import format_metrics, latest_metrics, metric_history

    client = open_store(tracking_uri)
    if history_of is None:
        values = latest_metrics(client, run_id)
        if output_format == "json":
            click.echo(json.dumps({"run_id": run_id, "metrics": values}))
        else:
            click.echo(format_metrics(values) if values else f"Run {run_id} has no metrics.")
        return
    points = metric_history(client, run_id, history_of)
    if output_format == "json":
        click.echo(json.dumps({
            "run_id": run_id,
            "metric": history_of,
            "history": [{"step": p.step, "timestamp": p.timestamp, "value": p.value} for p in points],
        }))
        return
    click.echo(f"{'step':>6}  {'timestamp (UTC)':<24}  {history_of}")
    for point in points:
        when = datetime.fromtimestamp(point.timestamp / 1000, tz=timezone.utc).isoformat(timespec="seconds")
        click.echo(f"{point.step:>6}  {when:<24}  {point.value:.6g}")

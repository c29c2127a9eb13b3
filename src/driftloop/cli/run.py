"""``driftloop run``: run an MLflow project locally and show its outcome."""

from __future__ import annotations

import click

from driftloop.cli.common import handle_errors, open_store, tracking_uri_option
from driftloop.errors import DriftloopError


@click.command("run")
@click.argument("project_dir", type=click.Path(file_okay=False))
@click.option("-P", "--param", "params", multiple=True, metavar="NAME=VALUE", help="A project parameter (repeatable).")
@click.option("--experiment-name", default=None, help="Experiment to log the run in (created when missing).")
@click.option("--entry-point", "-e", default="main", show_default=True, help="Entry point of the project.")
@tracking_uri_option
@handle_errors
def run(
    project_dir: str, params: tuple[str, ...], experiment_name: str | None, entry_point: str, tracking_uri: str | None
) -> None:
    """Run the MLflow project in PROJECT_DIR in the local environment (as `mlflow run --env-manager local`)."""
    from driftloop.tracking.projects import parse_parameter_pairs, run_project

    client = open_store(tracking_uri)
    result = run_project(
        client, project_dir, parse_parameter_pairs(params), entry_point=entry_point, experiment_name=experiment_name
    )
    click.echo(f"Run completed with status {result.status}")
    click.echo(f"Run ID: {result.run_id}")
    if result.metrics:
        click.echo("Metrics logged: " + " ".join(f"{k}={v:.6g}" for k, v in result.metrics.items()))
    if result.status != "FINISHED":
        raise DriftloopError(f"Run {result.run_id} failed: {result.cause or 'see the output above'}")
    click.echo(f"See them with: driftloop metrics list --run-id {result.run_id}")

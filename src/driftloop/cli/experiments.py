"""``driftloop experiments``: manage MLflow experiments."""

from __future__ import annotations

import click

from driftloop.cli.common import handle_errors, open_store, tracking_uri_option


@click.group()
def experiments() -> None:
    """Create MLflow experiments (as `mlflow experiments`)."""


@experiments.command("create")
@click.option("--experiment-name", "-n", required=True, help="Name of the experiment to create.")
@tracking_uri_option
@handle_errors
def create(experiment_name: str, tracking_uri: str | None) -> None:
    """Create an experiment; an existing name is an error."""
    from driftloop.tracking.experiments import create_experiment

    experiment_id = create_experiment(open_store(tracking_uri), experiment_name)
    click.echo(f"Created experiment with ID {experiment_id}")

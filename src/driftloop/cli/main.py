"""The ``driftloop`` command group."""

from __future__ import annotations

import click

from driftloop import __version__
from driftloop.cli.demo import demo
from driftloop.cli.experiments import experiments
from driftloop.cli.metrics import metrics
from driftloop.cli.monitor import monitor, profile
from driftloop.cli.log import log
from driftloop.cli.retrain import COMMANDS as RETRAIN_COMMANDS
from driftloop.cli.run import run
from driftloop.cli.serve import serve
from driftloop.cli.simulate import simulate
from driftloop.cli.ui import ui


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(__version__, prog_name="driftloop")
def cli() -> None:
    """driftloop keeps production ML models accurate, inside MLflow.

    With no MLFLOW_TRACKING_URI, every command uses sqlite:///mlflow.db in the working folder (as `mlflow ui`).
    """


cli.add_command(ui)
cli.add_command(experiments)
cli.add_command(run)
cli.add_command(metrics)
cli.add_command(demo)
cli.add_command(monitor)
cli.add_command(profile)
cli.add_command(serve)
cli.add_command(log)
[cli.add_command(command) for command in RETRAIN_COMMANDS]
cli.add_command(simulate)

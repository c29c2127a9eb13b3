"""``driftloop promote``, ``driftloop rollback`` and ``driftloop retrain``: move the registry aliases, audited."""

from __future__ import annotations

import getpass

import click

from driftloop.cli.common import handle_errors, tracking_uri_option
from driftloop.tracking import connect


def default_actor() -> str:
    """Who is acting: the login name of the user running the command."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


model_option = click.option("--model", "model", required=True, metavar="NAME", help="Registered model name.")
actor_option = click.option("--actor", default=None, metavar="WHO",
                            help="Recorded as who made the change. Default: the login name.")


@click.command("promote")
@model_option
@click.option("--version", "version", required=True, metavar="V", help="Model version to make the champion.")
@click.option("--reason", default="manual promotion", show_default=True, help="Why, recorded in the audit trail.")
@actor_option
@tracking_uri_option
@handle_errors
def promote_command(model: str, version: str, reason: str, actor: str | None, tracking_uri: str | None) -> None:
    """Make version V the champion of NAME; the old champion becomes previous-champion (audited)."""
    from driftloop.tracking.registry import promote

    change = promote(connect(tracking_uri), model, version, reason=reason, actor=actor or default_actor())
    was = f" (was {change.previous})" if change.previous else ""
    click.echo(f"{model}: champion: version {change.champion}{was}; audit run {change.run_id}")


@click.command("rollback")
@model_option
@click.option("--reason", default="manual rollback", show_default=True, help="Why, recorded in the audit trail.")
@actor_option
@tracking_uri_option
@handle_errors
def rollback_command(model: str, reason: str, actor: str | None, tracking_uri: str | None) -> None:
    """Make previous-champion the champion of NAME again (audited)."""
    from driftloop.tracking.registry import rollback

    change = rollback(connect(tracking_uri), model, reason=reason, actor=actor or default_actor())
    was = f" (was {change.previous})" if change.previous else ""
    click.echo(f"{model}: champion: version {change.champion}{was}; audit run {change.run_id}")


COMMANDS = (promote_command, rollback_command)
"""The commands of this module, registered on the ``driftloop`` group by :mod:`driftloop.cli.main`."""

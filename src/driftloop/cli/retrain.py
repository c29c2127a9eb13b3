"""``driftloop promote``, ``driftloop rollback`` and ``driftloop retrain``: move the registry aliases, audited."""

from __future__ import annotations

import getpass

import click

from driftloop.cli.common import handle_errors, open_store, tracking_uri_option


def default_actor() -> str:
    """Who is acting: the login name of the user running the command."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


model_option = click.option("--model", "model", required=True, metavar="NAME",
                            help="Registered model name (or a models:/ or runs:/ URI of one of its versions).")
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
    from driftloop.tracking.models import registered_name
    from driftloop.tracking.registry import promote

    client = open_store(tracking_uri)
    model = registered_name(client, model)
    change = promote(client, model, version, reason=reason, actor=actor or default_actor())
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
    from driftloop.tracking.models import registered_name
    from driftloop.tracking.registry import rollback

    client = open_store(tracking_uri)
    model = registered_name(client, model)
    change = rollback(client, model, reason=reason, actor=actor or default_actor())
    was = f" (was {change.previous})" if change.previous else ""
    click.echo(f"{model}: champion: version {change.champion}{was}; audit run {change.run_id}")


def print_retrain_outcome(outcome) -> None:
    """The retrain's evidence and decision, in a few lines."""
    model = outcome.model
    v = outcome.validation
    click.echo(f"Trained version {outcome.challenger} (run {outcome.project_run_id}) on {outcome.training_rows} rows; "
               f"validated on {outcome.holdout_rows} holdout rows")
    click.echo(f"{v.metric}: champion (version {outcome.champion_before}) {v.champion:.4g}, "
               f"challenger {v.challenger:.4g}; difference {v.difference:.4g} "
               f"({v.confidence:.0%} CI [{v.ci_low:.4g}, {v.ci_high:.4g}]), margin {v.margin:g}")
    if outcome.refit is not None:
        click.echo(f"Validated, then refitted on all {outcome.training_rows + outcome.holdout_rows} labelled rows as "
                   f"version {outcome.refit} (run {outcome.refit_run_id})")
    moved = outcome.champion_after not in (outcome.champion_before, outcome.challenger, outcome.refit)
    now = f"{model}@champion is version {outcome.champion_after}" + (
        " (moved by another change while this retrain ran)" if moved else "")
    if outcome.decision == "promoted":
        click.echo(f"Promoted: {now} (previous-champion: {outcome.champion_before})")
    elif moved:
        click.echo(f"Rejected: {outcome.reason}; {now}")
    else:
        click.echo(f"Rejected: {outcome.reason}; {model}@champion stays version {outcome.champion_after}")
    click.echo(f"Audit run: {outcome.audit_run_id} (experiment retraining)")


@click.command("retrain")
@model_option
@click.option("--project", "project", required=True, type=click.Path(file_okay=False), metavar="DIR",
              help="MLflow project that trains and registers the model; it must declare a 'data' parameter.")
@click.option("--data", "data", required=True, type=click.Path(dir_okay=False), metavar="PATH",
              help="Labelled rows: a CSV/Parquet table with the target column, or a driftloop inference log.")
@click.option("--target", default=None, metavar="COL",
              help="Target column of the table (required for a table); for an inference log, the name its label "
                   "column gets in the training data (default: label).")
@click.option("--timestamp-column", default=None, metavar="COL",
              help="Orders the rows in time (the freshest form the holdout). Default: the file's order "
                   "(an inference log: its timestamps).")
@click.option("--last-rows", type=click.IntRange(min=1), default=None, metavar="N",
              help="Use only the N most recent labelled rows. Default: all.")
@click.option("--holdout-fraction", type=float, default=0.2, show_default=True,
              help="Share of the freshest labelled rows held out for validation.")
@click.option("--margin", type=float, default=0.0, show_default=True,
              help="Per-row loss units: with 'better' the challenger's loss must be lower by more than this; "
                   "with 'not-worse' it is rejected only when higher by more than this.")
@click.option("--metric", type=click.Choice(["mae", "mse", "rmse", "accuracy"]), default="mae", show_default=True,
              help="Primary metric of the paired comparison.")
@click.option("--promotion-rule", type=click.Choice(["not-worse", "better"]), default="not-worse",
              show_default=True,
              help="'not-worse': promote the challenger unless it is worse than the champion on the holdout beyond "
                   "--margin with 95%% confidence (with the refit, a tie goes to the model that has seen the "
                   "freshest rows); 'better': only when it is better beyond --margin with 95%% confidence.")
@click.option("--refit/--no-refit", default=True, show_default=True,
              help="Refit a validated challenger on all the labelled rows, holdout included, and promote the refit "
                   "(a second project run); --no-refit promotes the validated version itself.")
@click.option("-P", "--param", "params", multiple=True, metavar="NAME=VALUE", help="A project parameter (repeatable).")
@actor_option
@tracking_uri_option
@handle_errors
def retrain_command(model: str, project: str, data: str, target: str | None, timestamp_column: str | None,
                    last_rows: int | None, holdout_fraction: float, margin: float, metric: str,
                    promotion_rule: str, refit: bool, params: tuple[str, ...], actor: str | None,
                    tracking_uri: str | None) -> None:
    """Retrain NAME on fresh labelled rows, validate the challenger against the champion, promote or reject it."""
    from driftloop.retrain.job import retrain
    from driftloop.tracking.models import registered_name
    from driftloop.tracking.projects import parse_parameter_pairs

    client = open_store(tracking_uri)
    outcome = retrain(client, registered_name(client, model), project, data, target=target,
                      timestamp_column=timestamp_column,
                      holdout_fraction=holdout_fraction, margin=margin, parameters=parse_parameter_pairs(params),
                      metric=metric, last_rows=last_rows, actor=actor or default_actor(), refit=refit,
                      rule=promotion_rule)
    print_retrain_outcome(outcome)


COMMANDS = (promote_command, rollback_command, retrain_command)
"""The commands of this module, registered on the ``driftloop`` group by :mod:`driftloop.cli.main`."""

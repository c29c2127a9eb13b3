"""``driftloop simulate``: replay a time-indexed dataset through predict, late labels, monitor, retrain, validate and
promote, once per retraining policy, and compare the policies."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import click

from driftloop.cli.common import handle_errors, open_store, renamed
from driftloop.errors import DriftloopError

if TYPE_CHECKING:
    from rich.console import Console


def replay_with_progress(console: Console, dataset, policies: list[str], settings, registries=None) -> list:
    """Run :func:`driftloop.simulate.replay.simulate` for every policy, with a progress bar of replayed windows."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from driftloop.simulate.replay import simulate as run, window_count

    total = window_count(dataset, settings) * len(policies)
    with Progress(TextColumn("replaying {task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TimeElapsedColumn(), console=console, transient=True) as progress:
        task = progress.add_task(f"{len(policies)} polic{'y' if len(policies) == 1 else 'ies'}", total=total)
        return run(dataset, policies, settings, progress=lambda n: progress.advance(task, n), registries=registries)


def _registries(tracking_uri: str, data: str):
    """For each policy name, the registry of its replayed models in the store at ``tracking_uri``."""
    from pathlib import Path

    from driftloop.simulate.registry import ReplayRegistry, model_name

    client = open_store(tracking_uri)
    label = data if data in ("bike", "wine") else Path(data).stem

    def registry_of(policy: str) -> ReplayRegistry:
        return ReplayRegistry(client, model_name(label, policy))

    return registry_of


@click.command("simulate")
@click.option("--data", "data", default="bike", show_default=True, metavar="bike|wine|PATH",
              help="The bundled bike-sharing data (hourly, 2011-2012), the bundled wine-quality data (red wines then "
                   "white ones, one an hour), or a CSV/Parquet table with a timestamp and a numeric target.")
@click.option("--policy", default="all", show_default=True, metavar="never|schedule:N|drift|performance|all",
              help="Retraining policy to replay; 'all' compares never, schedule:1, schedule:4, schedule:13, drift and "
                   "performance.")
@click.option("--label-delay", default="7d", show_default=True, help="How long after its timestamp a label arrives.")
@click.option("--window", default="7d", show_default=True, help="Monitoring window length.")
@click.option("--train-days", default=90, show_default=True, type=click.IntRange(min=1),
              help="A retrain learns from the labelled rows of the last N days.")
@click.option("--target", default="cnt", show_default=True, help="Target column of a PATH table.")
@click.option("--timestamp-column", default=None, metavar="COLUMN",
              help="Timestamp column of a PATH table.  [default: timestamp]")
@click.option("--timestamp", "old_timestamp_column", default=None, hidden=True, help="Old name of --timestamp-column.")
@click.option("--format", "output", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--tracking-uri", default=None, metavar="URI",
              help="Record one run per policy in the experiment 'simulation' of this MLflow store "
                   "(per-window metrics and the summary). Without it nothing is written.")
@click.option("--register", is_flag=True,
              help="Also register every model of the replay in that store (model simulate-<data>-<policy>: versions, "
                   "champion/challenger aliases, audited promotions and rejections), as the retrain job does; about "
                   "1 s per model. Needs --tracking-uri.")
@click.option("--naive-lag", default=None, metavar="LENGTH|none",
              help="Season of the naive benchmark (the label this long earlier) that the performance policy must "
                   "beat; default 7d for bike (the same hour last week), none otherwise (the policy then compares the "
                   "MAE with the champion's at training).")
@click.option("--until", default=None, hidden=True, help="Stop the production stream at this date (short runs).")
@handle_errors
def simulate(data: str, policy: str, label_delay: str, window: str, train_days: int, target: str,
             timestamp_column: str | None, old_timestamp_column: str | None, output: str, tracking_uri: str | None,
             register: bool, naive_lag: str | None, until: str | None) -> None:
    """Replay a dataset as production traffic and compare retraining policies (cumulative MAE/RMSE, retrains,
    alerts, promotions, rejected challengers)."""
    import pandas as pd
    from rich.console import Console

    from driftloop.data.windows import parse_window_length
    from driftloop.simulate.data import load_dataset
    from driftloop.simulate.replay import SimulationSettings, parse_policy
    from driftloop.simulate.report import as_json_lines, as_table, log_simulation

    timestamp = renamed(timestamp_column, "--timestamp-column", old_timestamp_column, "--timestamp") or "timestamp"
    policies = parse_policy(policy)
    if register and not tracking_uri:
        raise DriftloopError("The '--register' option needs '--tracking-uri': the MLflow store to register the "
                             "replayed models in.")
    settings = SimulationSettings(window=parse_window_length(window, "--window"),
                                  label_delay=parse_window_length(label_delay, "--label-delay"),
                                  train_days=train_days,
                                  until=pd.Timestamp(until, tz="UTC") if until else None)
    dataset = load_dataset(data, target=target, timestamp=timestamp, train_days=train_days)
    if naive_lag is not None:
        lag = None if naive_lag.strip().lower() == "none" else parse_window_length(naive_lag, "--naive-lag")
        dataset = dataclasses.replace(dataset, naive_lag=lag)
    console = Console(stderr=True)
    registries = _registries(tracking_uri, data) if register else None
    results = replay_with_progress(console, dataset, policies, settings, registries)
    if tracking_uri:
        run_ids = log_simulation(open_store(tracking_uri), results, {
            "data": data, "window": window, "label_delay": label_delay, "train_days": str(train_days),
            "naive_lag": "none" if dataset.naive_lag is None else str(dataset.naive_lag)})
        console.print(f"Recorded {len(run_ids)} run(s) in the experiment 'simulation'.")
    if output == "json":
        for line in as_json_lines(results):
            click.echo(line)
    else:
        Console().print(as_table(results, title=f"Retraining policies on {data} (window {window}, label delay "
                                                f"{label_delay}, retrain on the last {train_days} labelled days)"))

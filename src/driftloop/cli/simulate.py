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

    from driftloop.simulate.data import BUNDLED
    from driftloop.simulate.registry import ReplayRegistry, model_name

    client = open_store(tracking_uri)
    label = data if data in BUNDLED else Path(data).stem

    def registry_of(policy: str) -> ReplayRegistry:
        return ReplayRegistry(client, model_name(label, policy))

    return registry_of


@click.command("simulate")
@click.option("--data", "data", default="bike", show_default=True, metavar="NAME|PATH",
              help="A bundled dataset — bike (hourly rentals, 2011-2012), wine (red wines then white ones, one an "
                   "hour), seattle-weather (daily weather type, 5 classes, 2012-2015), seattle-rain (daily, rain or "
                   "dry), seattle-temps (hourly temperature, 2010), trump-approval (daily approval rating, "
                   "2017-2019) — or a CSV/Parquet table with a timestamp and a target.")
@click.option("--task", type=click.Choice(["regression", "classification"]), default=None,
              help="What the model predicts. Default: inferred from the target of a PATH table — classification when "
                   "it is not numeric, is boolean or holds exactly two values, regression otherwise.")
@click.option("--policy", default="all", show_default=True, metavar="never|schedule:N|drift|performance|all",
              help="Retraining policy to replay; 'all' compares never, schedule:1, schedule:4, schedule:13, drift and "
                   "performance.")
@click.option("--label-delay", default="7d", show_default=True, help="How long after its timestamp a label arrives.")
@click.option("--window", default="7d", show_default=True, help="Monitoring window length.")
@click.option("--train-days", default=None, type=click.IntRange(min=1), metavar="N",
              help="A retrain learns from the labelled rows of the last N days.  [default: 365 for the daily "
                   "bundled data, else 90]")
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
@click.option("--naive-lag", default=None, metavar="LENGTH|previous|none",
              help="The naive benchmark that the performance policy must beat, shown as the last row: the label this "
                   "long earlier (seasonal naive), or 'previous', the label of the previous row (persistence). "
                   "Default: 7d for bike (the same hour last week), previous for a classifier, none otherwise (the "
                   "policy then compares the MAE or log loss with the champion's at training).")
@click.option("--promotion-rule", type=click.Choice(["not-worse", "better"]), default="not-worse",
              show_default=True,
              help="When the paired validation promotes a challenger: 'not-worse' — unless it is worse than the "
                   "champion on the holdout with 95%% confidence (its refit on the holdout then makes it the fresher "
                   "model); 'better' — only when better with 95%% confidence.")
@click.option("--until", default=None, hidden=True, help="Stop the production stream at this date (short runs).")
@handle_errors
def simulate(data: str, task: str | None, policy: str, label_delay: str, window: str, train_days: int | None,
             target: str, timestamp_column: str | None, old_timestamp_column: str | None, output: str,
             tracking_uri: str | None, register: bool, naive_lag: str | None, promotion_rule: str,
             until: str | None) -> None:
    """Replay a dataset as production traffic and compare retraining policies (cumulative MAE/RMSE, or accuracy,
    log loss and ROC AUC for a classifier; retrains, skipped retrains, alerts, promotions, rejected challengers)."""
    import pandas as pd
    from rich.console import Console

    from driftloop.data.windows import parse_window_length
    from driftloop.simulate.data import load_dataset
    from driftloop.simulate.replay import SimulationSettings, naive_result, parse_policy
    from driftloop.simulate.report import as_json_lines, as_table, log_simulation

    timestamp = renamed(timestamp_column, "--timestamp-column", old_timestamp_column, "--timestamp") or "timestamp"
    policies = parse_policy(policy)
    if register and not tracking_uri:
        raise DriftloopError("The '--register' option needs '--tracking-uri': the MLflow store to register the "
                             "replayed models in.")
    dataset = load_dataset(data, target=target, timestamp=timestamp, train_days=train_days or 90, task=task)
    if task is not None and dataset.task != task:
        raise DriftloopError(f"The '--task' option must be {dataset.task} for --data {data}; got {task!r}.")
    if naive_lag is not None:
        choice = naive_lag.strip().lower()
        lag = None if choice in ("none", "previous") else parse_window_length(naive_lag, "--naive-lag")
        dataset = dataclasses.replace(dataset, naive_lag=lag, naive_previous=choice == "previous")
    train_days = train_days or int(dataset.settings.get("train_days", 90))  # type: ignore[call-overload]
    settings = SimulationSettings(window=parse_window_length(window, "--window"),
                                  label_delay=parse_window_length(label_delay, "--label-delay"),
                                  train_days=train_days,
                                  until=pd.Timestamp(until, tz="UTC") if until else None,
                                  promotion_rule=promotion_rule)
    console = Console(stderr=True)
    registries = _registries(tracking_uri, data) if register else None
    results = replay_with_progress(console, dataset, policies, settings, registries)
    if tracking_uri:
        run_ids = log_simulation(open_store(tracking_uri), results, {
            "data": data, "window": window, "label_delay": label_delay, "train_days": str(train_days),
            "naive_lag": "none" if dataset.naive_lag is None else str(dataset.naive_lag), "task": dataset.task,
            "naive": dataset.naive_name if dataset.has_naive else "none",
            "promotion_rule": settings.promotion_rule})
        console.print(f"Recorded {len(run_ids)} run(s) in the experiment 'simulation'.")
    naive = naive_result(dataset, settings)
    shown = results if naive is None else [*results, naive]
    if output == "json":
        for line in as_json_lines(shown):
            click.echo(line)
    else:
        Console().print(as_table(shown, title=f"Retraining policies on {data} (window {window}, label delay "
                                                f"{label_delay}, retrain on the last {train_days} labelled days)"))

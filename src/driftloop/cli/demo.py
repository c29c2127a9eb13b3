"""``driftloop demo``: driftloop's main job, and the loop that fixes what it finds, on the bundled bike-sharing data
and the embedded store."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import click

from driftloop.cli.common import handle_errors, open_store, tracking_uri_option

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from rich.console import Console

    from driftloop.monitor.job import MonitorOutcome

DEMO_ACTOR = "driftloop demo"
#: The retrain holds out the freshest 10 % of the labelled rows (about 7 weeks) to validate the challenger.
HOLDOUT_FRACTION = 0.1


@click.command("demo")
@click.option("--compare-policies", is_flag=True,
              help="Then backtest the retraining policies (never, schedules, drift, performance) on the same stream "
                   "(2-3 more minutes).")
@click.option("--skip-simulation", is_flag=True, hidden=True, help="Old flag: the backtest is now off by default.")
@click.option("--folder", default=None, hidden=True, help="Old option: the demo no longer writes files.")
@tracking_uri_option
@handle_errors
def demo(compare_policies: bool, skip_simulation: bool, folder: str | None, tracking_uri: str | None) -> None:
    """Train a bike-sharing model on Jan-Mar 2011 and monitor it week by week until the end of 2012 (it degrades:
    alerts); retrain it on the labelled rows before July 2012 through its MLflow project, validate and promote the
    challenger, and monitor the new champion from July 2012 (most alerts clear). Writes only to the MLflow store."""
    from rich.console import Console

    from driftloop.demo.bike import MODEL_NAME, RETRAIN_AT, load_hourly, train_champion
    from driftloop.tracking.experiments import DEFAULT_UI_ADDRESS, experiment_url

    console = Console(highlight=False)
    if folder is not None or skip_simulation:
        click.echo("Warning: --folder and --skip-simulation are deprecated: the demo writes no files and backtests "
                   "the policies only with --compare-policies.", err=True)
    client = open_store(tracking_uri)
    frame = load_hourly()
    with console.status("Training bike-sharing on January-March 2011..."):
        first = train_champion(client, frame)
    what = "Trained and registered" if first.created else "Reusing"
    console.print(f"{what} {MODEL_NAME} version {first.version}, run {first.run_id}")
    with tempfile.TemporaryDirectory(prefix="driftloop-demo-") as scratch_path:  # the production files, deleted
        scratch = Path(scratch_path)
        old = _monitor(console, client, frame, first.version, scratch, since=None,
                       what="weekly windows from April 2011")
        training_mae = client.get_run(first.run_id).data.metrics.get("mae", float("nan"))
        alerts = sum(w.verdict == "alert" for w in old.all_windows)
        console.print(f"MAE at training: {training_mae:.1f}; [bold]{alerts} of {len(old.all_windows)} weeks raised an "
                      f"alert[/]: the model learnt winter 2011 and the rentals grew.")
        console.print(f"\nClosing the loop: retrain on the labelled rows before {RETRAIN_AT:%B %Y}, validate against "
                      f"version {first.version}, promote")
        new_version = _retrain(console, client, frame, scratch, first.version)
        if new_version is None:
            return
        new = _monitor(console, client, frame, new_version, scratch, since=RETRAIN_AT,
                       what=f"weekly windows from {RETRAIN_AT:%B %Y}")
        _print_before_after(console, old, new, first.version, new_version)
    console.print(f"Monitoring runs in experiment 'model-monitoring', one per version (store {client.tracking_uri}).")
    if compare_policies:
        _compare_policies(console, client)
    console.print("A classifier closes the same loop: [bold]driftloop simulate --data seattle-rain --policy all[/] "
                  "(rain or dry, daily; accuracy, log loss, ROC AUC; about 3 minutes).")
    experiment_id = client.get_run(new.run_id).info.experiment_id
    link = experiment_url(DEFAULT_UI_ADDRESS, experiment_id)
    console.print(f"Look at it: [bold]driftloop ui[/] then open {link} -> a run's Model metrics (drift/, "
                  "performance/, quality/) and Artifacts -> report.html", soft_wrap=True)  # a link is never cut


def _monitor(console: Console, client: MlflowClient, frame, version: str, folder: Path, *, since, what: str
             ) -> MonitorOutcome:
    """Monitor ``bike-sharing/<version>`` week by week on the production rows (from ``since``); print the weeks."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from driftloop.cli.windows_table import windows_table
    from driftloop.demo.bike import ALERT_RULES, MODEL_NAME, NAIVE_LAG, TARGET, TIMESTAMP, production_stream
    from driftloop.monitor.job import MonitorOptions, run_monitor

    rows = production_stream(frame)
    if since is not None:
        rows = rows[rows[TIMESTAMP] >= since]
    production = folder / f"production-v{version}.parquet"
    rows.to_parquet(production, index=False)
    options = MonitorOptions(timestamp_column=TIMESTAMP, window="7d", target=TARGET, rules_path=str(ALERT_RULES),
                             naive_lag=NAIVE_LAG)
    with Progress(TextColumn(f"monitoring version {version}, weekly windows"), BarColumn(),
                  TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn(), console=console,
                  transient=True) as progress:
        task = progress.add_task("weeks", total=None)
        outcome = run_monitor(client, f"{MODEL_NAME}/{version}", str(production), options,
                              progress=lambda done, total: progress.update(task, completed=done, total=total))
    if since is None:
        console.print(windows_table(outcome.all_windows, f"{MODEL_NAME} version {version}, {what}",
                                    open_steps=outcome.open_steps))
    return outcome


def _retrain(console: Console, client: MlflowClient, frame, folder: Path, first: str) -> str | None:
    """Run the retrain job with the demo's MLflow project (once: a later demo reuses the promoted version, the
    validated challenger's refit on all the labelled rows)."""
    from driftloop.cli.retrain import print_retrain_outcome
    from driftloop.demo.bike import FEATURES, MODEL_NAME, PROJECT, RETRAIN_AT, TARGET, TIMESTAMP
    from driftloop.retrain.job import retrain
    from driftloop.tracking.registry import champion_version

    champion = str(champion_version(client, MODEL_NAME).version)
    if champion != first:
        console.print(f"Reusing version {champion}, promoted by an earlier run of the demo.")
        return champion
    labelled = folder / "labelled.csv"
    frame[frame[TIMESTAMP] < RETRAIN_AT][[TIMESTAMP, *FEATURES, TARGET]].to_csv(labelled, index=False)
    with console.status("Retraining through the MLflow project driftloop/demo/bike_project (about a minute)..."):
        outcome = retrain(client, MODEL_NAME, PROJECT, labelled, target=TARGET, timestamp_column=TIMESTAMP,
                          holdout_fraction=HOLDOUT_FRACTION, actor=DEMO_ACTOR)
    print_retrain_outcome(outcome)
    return outcome.decided if outcome.decision == "promoted" else None


def _print_before_after(console: Console, old: MonitorOutcome, new: MonitorOutcome, first: str, second: str) -> None:
    """The weeks both versions were monitored on, side by side: MAE and verdict of each."""
    from rich import box
    from rich.table import Table

    from driftloop.cli.windows_table import VERDICT_STYLE, number

    before = {w.start: w for w in old.all_windows}
    weeks = [(before[w.start], w) for w in new.all_windows if w.start in before]
    table = Table(title=f"The same weeks: version {first} (trained Jan-Mar 2011) and version {second} (retrained)",
                  box=box.SIMPLE_HEAD, title_justify="left")
    for header in ("week of", f"MAE v{first}", "verdict", f"MAE v{second}", "verdict"):
        table.add_column(header, justify="right" if header.startswith("MAE") else "left", no_wrap=True)
    for a, b in weeks:
        table.add_row(f"{b.start:%Y-%m-%d}", number(a.metrics.get("performance/mae")),
                      f"[{VERDICT_STYLE[a.verdict]}]{a.verdict}[/]", number(b.metrics.get("performance/mae")),
                      f"[{VERDICT_STYLE[b.verdict]}]{b.verdict}[/]")
    console.print(table)
    old_alerts = sum(a.verdict == "alert" for a, _ in weeks)
    new_alerts = sum(b.verdict == "alert" for _, b in weeks)
    console.print(f"[bold]Alerts in these {len(weeks)} weeks: {old_alerts} with version {first}, {new_alerts} with "
                  f"version {second}.[/]")


def _compare_policies(console: Console, client) -> None:
    """Replay the stream through the closed loop once per retraining policy and print the comparison."""
    from driftloop.cli.simulate import replay_with_progress
    from driftloop.simulate.data import load_dataset
    from driftloop.simulate.replay import SimulationSettings, parse_policy
    from driftloop.simulate.report import as_table, log_simulation

    results = replay_with_progress(console, load_dataset("bike"), parse_policy("all"), SimulationSettings())
    log_simulation(client, results, {"data": "bike", "window": "7d", "label_delay": "7d", "train_days": "90"})
    console.print(as_table(results, title="Retraining policies on the same stream (weekly windows, labels 7 days late)"))
    console.print("Each policy is also a run in experiment 'simulation'.")

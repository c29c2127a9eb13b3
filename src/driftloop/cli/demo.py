"""``driftloop demo``: driftloop's main job on the bundled bike-sharing data and the embedded store."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from driftloop.cli.common import handle_errors, open_store, tracking_uri_option

if TYPE_CHECKING:
    from rich.console import Console

VERDICT_STYLE = {"ok": "green", "warn": "yellow", "alert": "bold red"}


@click.command("demo")
@click.option("--folder", default="driftloop-demo", show_default=True, help="Where to write the production data.")
@click.option("--skip-simulation", is_flag=True, help="Skip the backtest of retraining policies (about 2-3 minutes).")
@tracking_uri_option
@handle_errors
def demo(folder: str, skip_simulation: bool, tracking_uri: str | None) -> None:
    """Train a bike-sharing model on Jan-Mar 2011, monitor the rest of 2011-2012 week by week, then backtest the
    retraining policies (never, schedules, drift, performance) on the same stream."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.table import Table

    from driftloop.demo.bike import TARGET, TIMESTAMP, load_hourly, production_stream, train_champion
    from driftloop.monitor.job import MonitorOptions, run_monitor
    from driftloop.tracking.experiments import DEFAULT_UI_ADDRESS, experiment_url

    console = Console()
    client = open_store(tracking_uri)
    frame = load_hourly()
    with console.status("Training bike-sharing on January-March 2011..."):
        trained = train_champion(client, frame)
    what = "Trained and registered" if trained.created else "Reusing"
    console.print(f"{what} bike-sharing version {trained.version} (alias champion), run {trained.run_id}")
    data_dir = Path(folder)
    data_dir.mkdir(parents=True, exist_ok=True)
    production = data_dir / "bike-production.parquet"
    production_stream(frame).to_parquet(production, index=False)
    options = MonitorOptions(timestamp_column=TIMESTAMP, window="7d", target=TARGET)
    with Progress(TextColumn("monitoring weekly windows"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TimeElapsedColumn(), console=console, transient=True) as progress:
        task = progress.add_task("weeks", total=None)
        outcome = run_monitor(client, "bike-sharing@champion", str(production), options,
                              progress=lambda done, total: progress.update(task, completed=done, total=total))
    windows = outcome.all_windows
    table = Table(title="bike-sharing@champion, weekly windows from April 2011")
    for header in ("week of", "rows", "drift share", "MAE", "verdict"):
        table.add_column(header, justify="left" if header in ("week of", "verdict") else "right")
    for window in windows:
        mae = window.metrics.get("performance/mae", float("nan"))
        share = window.metrics.get("drift/share", float("nan"))
        table.add_row(f"{window.start:%Y-%m-%d}", str(window.rows), f"{share:.2f}", f"{mae:.1f}",
                      f"[{VERDICT_STYLE[window.verdict]}]{window.verdict}[/]")
    console.print(table)
    alerts = sum(w.verdict == "alert" for w in windows)
    training_mae = client.get_run(trained.run_id).data.metrics.get("mae", float("nan"))
    console.print(f"MAE at training: {training_mae:.1f}; {alerts} of {len(windows)} weeks raised an alert.")
    console.print(f"Monitoring run {outcome.run_id} in experiment 'model-monitoring' (store {client.tracking_uri}).")
    if not skip_simulation:
        _compare_policies(console, client)
    experiment_id = client.get_run(outcome.run_id).info.experiment_id
    link = experiment_url(DEFAULT_UI_ADDRESS, experiment_id, outcome.run_id)
    console.print(f"Look at it: [bold]driftloop ui[/] then open {link} -> Model metrics (drift/, performance/, "
                  "quality/) and Artifacts -> report.html")


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

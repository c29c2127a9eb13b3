"""How good could a retraining policy be? The best retrain times in hindsight on the bike-sharing replay.

Fits the first champion and the challenger that a retrain after each weekly window would train (the replay's rows and
estimator), scores every model on every window it could serve, and finds by dynamic programming the schedule with at
most k retrains of lowest cumulative MAE (:mod:`driftloop.simulate.hindsight`). No policy that trains challengers this
way does better with as many retrains, validated or not: the table is the frontier the policies are measured against.
With ``--policies-json`` (the file ``bench/policies.py --json`` writes), each policy of the same phase is placed
against it: how far its cumulative MAE is above the best one reachable with as many retrains.

    python bench/retrain_oracle.py [--phase 0] [--policies-json phases.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from drift import machine  # noqa: E402
from policies import shifted  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn  # noqa: E402
from rich.table import Table  # noqa: E402

from driftloop.simulate.data import bike_dataset  # noqa: E402
from driftloop.simulate.hindsight import best_schedules, replay_costs  # noqa: E402
from driftloop.simulate.replay import SimulationSettings, window_count  # noqa: E402


def fixed_schedule_cost(costs, every: int) -> tuple[float, int]:
    """A schedule retraining every ``every`` windows with every challenger promoted: total cost and retrains."""
    windows = costs.shape[1]
    model, total, retrains = 0, 0.0, 0
    for window in range(windows):
        total += costs[model, window]
        if (window + 1) % every == 0 and window + 1 < windows:
            model, retrains = window + 1, retrains + 1
    return total, retrains


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="The hindsight-optimal retrain schedules of the bike replay.")
    parser.add_argument("--phase", type=int, default=0, help="day offset of the weekly windows (as bench/policies.py)")
    parser.add_argument("--retrains", type=int, nargs="+", default=[0, 1, 2, 4, 7, 10, 12, 15, 20, 23, 30, 45, 91])
    parser.add_argument("--policies-json", default=None, help="bench/policies.py --json output to compare with")
    args = parser.parse_args(argv)
    console = Console(width=150)
    console.print(f"[bold]machine[/]: {machine()}")
    dataset, settings = shifted(bike_dataset(), args.phase), SimulationSettings()
    start = time.perf_counter()
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total} models"),
                  TimeElapsedColumn(), console=console) as progress:
        task = progress.add_task("fit and score every challenger", total=window_count(dataset, settings) + 1)
        costs, rows = replay_costs(dataset, settings, progress=lambda n: progress.advance(task, n))
    schedules = best_schedules(costs, costs.shape[1] - 1)  # every count of retrains that can matter (about 1 s)
    windows = costs.shape[1]
    table = Table(title=f"Best retrain times in hindsight, bike sharing, phase +{args.phase} d "
                        f"({time.perf_counter() - start:.0f} s)")
    columns = ("retrains at most", "best MAE", "every challenger promoted, fixed schedule", "retrain after windows")
    for column in columns:
        table.add_column(column, justify="right" if column != "retrain after windows" else "left")
    for count in sorted({min(count, len(schedules) - 1) for count in args.retrains}):
        best = schedules[count]
        every = max(1, round(windows / (count + 1))) if count else None
        fixed = ""
        if every is not None:
            fixed_cost, fixed_retrains = fixed_schedule_cost(costs, every)
            fixed = f"every {every}: {fixed_cost / rows:.1f} ({fixed_retrains})"
        shown = ", ".join(map(str, best.retrain_after)) if len(best.retrain_after) <= 16 else "..."
        table.add_row(str(count), f"{best.cost / rows:.1f}", fixed, shown)
    console.print(table)
    if args.policies_json:
        saved = json.loads(Path(args.policies_json).read_text())
        runs = saved["datasets"]["bike"]["runs"] if "datasets" in saved else saved["runs"]
        phase = runs.get(str(args.phase))
        if phase is None:
            console.print(f"{args.policies_json} has no run of phase {args.phase}")
            return
        for result in phase:
            count = min(int(result["retrains"]), len(schedules) - 1)
            best = schedules[count].cost / rows
            console.print(f"{result['policy']:>12}: MAE {result['mae']:.1f} with {result['retrains']} retrains; "
                          f"the best schedule with as many: {best:.1f} (the policy is {result['mae'] / best - 1:+.1%})")


if __name__ == "__main__":
    main()

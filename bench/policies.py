"""Backtest of the retraining policies on the bike-sharing data, repeated over window phases.

One ``driftloop simulate --data bike --policy all`` run is a single path through time: where a fixed schedule
happens to retrain relative to the seasons decides much of its cumulative MAE (measured: every 6 weeks 48.4, every
8 weeks 54.0, every 13 weeks 50.8). To tell a policy's merit from that luck, this script replays the same data
with the weekly windows starting on each of ``--phases`` different days (the timestamps and the end of training are
shifted together by 0, 1, ... days; the features, including the weekday, are untouched), and reports per policy the
mean cumulative MAE over the phases, its range, and the mean number of retrains.

The target of issue 6, checked on the means: the drift or performance policy reaches a cumulative MAE within 10%
of the weekly schedule's with at most one sixth of its retrains.

    python bench/policies.py --phases 7 [--policies never schedule:1 schedule:4 schedule:13 drift performance]

Other bundled datasets (``--data seattle-weather seattle-rain seattle-temps trump-approval``; issue 16) are replayed
with the same policies and more fixed schedules, once (phase 0), and each gets the checks of issue 16: the default
policy (``performance``) against the curve of fixed schedules — no schedule with as many or fewer retrains may reach a
lower error (MAE, or log loss for a classifier); for each schedule that does, in phase 0, the paired difference of
the two replays' per-row losses with its bootstrap interval, to tell a real gap from the noise of one replay — and
against the best schedule in hindsight with as many retrains (:mod:`driftloop.simulate.hindsight`, fitted and
scored in the same run) and the spread of schedules with as many retrains at random times:

    python bench/policies.py --data seattle-weather seattle-rain seattle-temps trump-approval --phases 1 \
        --policies never schedule:1 schedule:2 schedule:4 schedule:8 schedule:13 drift performance --hindsight
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from drift import machine  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn  # noqa: E402
from rich.table import Table  # noqa: E402

from driftloop.retrain.validation import bootstrap_mean_ci  # noqa: E402
from driftloop.simulate.data import BUNDLED  # noqa: E402
from driftloop.simulate.hindsight import best_schedules, replay_costs  # noqa: E402
from driftloop.simulate.replay import ALL_POLICIES, Dataset, SimulationSettings, simulate, window_count  # noqa: E402

ADAPTIVE = ("drift", "performance")
WEEKLY = "schedule:1"


def shifted(dataset: Dataset, days: int) -> Dataset:
    """The same rows with timestamps and the end of training moved ``days`` later: weekly windows start elsewhere."""
    if days == 0:
        return dataset
    offset = pd.Timedelta(days=days)
    frame = dataset.frame.assign(**{dataset.timestamp: dataset.frame[dataset.timestamp] + offset})
    return replace(dataset, frame=frame, train_end=dataset.train_end + offset)


def error_key(runs: dict[int, list[dict]]) -> str:
    """The error the checks compare: MAE for a regression, log loss for a classifier (the validation's loss)."""
    return "mae" if "mae" in next(iter(runs.values()))[0] else "log_loss"


def summarise(runs: dict[int, list[dict]], policies: list[str]) -> list[dict]:
    """Per policy: mean, min and max cumulative error over the phases, mean retrains (challengers trained), skipped
    retrains, promotions and rejections (and the mean accuracy and ROC AUC of a classifier)."""
    key = error_key(runs)
    rows = []
    for policy in policies:
        results = [next(r for r in phase if r["policy"] == policy) for phase in runs.values()]
        errors = [r[key] for r in results]
        row = {
            "policy": policy, "mae_mean": statistics.fmean(errors), "mae_min": min(errors), "mae_max": max(errors),
            "retrains_mean": statistics.fmean(r["retrains"] for r in results),
            "skipped_mean": statistics.fmean(r.get("skipped", 0) for r in results),
            "promotions_mean": statistics.fmean(r["promotions"] for r in results),
            "rejected_mean": statistics.fmean(r["rejected"] for r in results),
        }
        for extra in ("accuracy", "roc_auc"):
            if extra in results[0]:
                row[extra] = statistics.fmean(r[extra] for r in results)
        rows.append(row)
    return rows


def curve_verdict(summary: list[dict], policy: str = "performance") -> str:
    """Issue 16's acceptance on the means: no fixed schedule with as many or fewer retrains (challengers trained,
    skipped ones left out) has a lower error."""
    by_policy = {row["policy"]: row for row in summary}
    row = by_policy.get(policy)
    if row is None:
        return f"{policy} was not run"
    beaten = [r for r in summary if r["policy"].startswith("schedule:") and r["retrains_mean"] <= row["retrains_mean"]
              and r["mae_mean"] < row["mae_mean"]]
    if beaten:
        return (f"{policy} is ABOVE the fixed schedules' curve: " + ", ".join(
            f"{r['policy']} {r['mae_mean']:.4g} with {r['retrains_mean']:.1f} retrains" for r in beaten))
    return f"{policy} lies on or below the fixed schedules' curve ({row['mae_mean']:.4g}, {row['retrains_mean']:.1f})"


def paired_lines(results: list, policy: str = "performance", seed: int = 0) -> list[str]:
    """Is the default policy's distance to each fixed schedule that beats it with as many or fewer retrains more
    than the noise of one replay? The two replays score the same production rows, so their per-row losses
    (``PolicyResult.row_losses``) are paired: the mean difference with a 95 % percentile bootstrap interval over
    rows, and over whole windows (the rows of a window resampled together: losses of neighbouring rows are
    correlated)."""
    by_policy = {result.policy: result for result in results}
    default = by_policy.get(policy)
    if default is None:
        return []
    key = "mae" if default.task == "regression" else "log_loss"
    sizes = np.array([window.rows for window in default.windows if window.rows], dtype=int)
    lines = []
    for other in results:
        if not (other.policy.startswith("schedule:") and other.retrains <= default.retrains
                and getattr(other, key) < getattr(default, key)):
            continue
        differences = default.row_losses - other.row_losses
        low, high = bootstrap_mean_ci(differences, resamples=4000, seed=seed)
        sums = np.add.reduceat(differences, np.concatenate([[0], np.cumsum(sizes)[:-1]]))
        draws = np.random.default_rng(seed).integers(0, len(sizes), size=(4000, len(sizes)))
        block_low, block_high = np.quantile(sums[draws].sum(axis=1) / sizes[draws].sum(axis=1), [0.025, 0.975])
        lines.append(f"{policy} - {other.policy}: {key} difference {differences.mean():+.4f} on {len(differences)} "
                     f"rows, 95 % CI [{low:+.4f}, {high:+.4f}] over rows, [{block_low:+.4f}, {block_high:+.4f}] over "
                     f"{len(sizes)} windows")
    return lines


def schedule_cost(costs: np.ndarray, retrain_after: np.ndarray) -> float:
    """Total cost of retraining after the windows ``retrain_after`` (sorted) with every challenger promoted: window
    ``w`` is served by the model of the last retrain before it (model 0, the first champion, before any)."""
    windows = np.arange(costs.shape[1])
    after = np.concatenate([[-1], np.asarray(retrain_after, dtype=int)])  # -1: the first champion, model 0
    models = after[np.searchsorted(after, windows, side="left") - 1] + 1  # the last retrain after a window < w
    return float(costs[models, windows].sum())


def hindsight_lines(dataset: Dataset, settings: SimulationSettings, phase: list[dict], key: str,
                    draws: int = 2000) -> list[str]:
    """Each policy of phase 0 against the best schedule in hindsight with as many retrains, and against ``draws``
    schedules with as many retrains at random times (every challenger promoted; median and 95 % range): where the
    random times' range is wide, one replay of a fixed schedule is one draw from it."""
    costs, rows = replay_costs(dataset, settings)
    schedules = best_schedules(costs, costs.shape[1] - 1)
    rng = np.random.default_rng(0)
    lines = []
    for result in phase:
        retrains = min(int(result["retrains"]), len(schedules) - 1)
        best = schedules[retrains].cost / rows
        random_costs = [schedule_cost(costs, np.sort(rng.choice(costs.shape[1] - 1, retrains, replace=False))) / rows
                        for _ in range(draws if retrains else 0)]
        spread = (f"; random times with as many: median {np.median(random_costs):.4g}, 95 % in "
                  f"[{np.quantile(random_costs, 0.025):.4g}, {np.quantile(random_costs, 0.975):.4g}]"
                  if random_costs else "")
        lines.append(f"{result['policy']:>12}: {key} {result[key]:.4g} with {result['retrains']} retrains; best in "
                     f"hindsight with as many: {best:.4g} ({result[key] / best - 1:+.1%}){spread}")
    return lines


def target_verdicts(summary: list[dict]) -> list[str]:
    """Issue 6's target for each adaptive policy, on the means over the phases."""
    by_policy = {row["policy"]: row for row in summary}
    weekly = by_policy.get(WEEKLY)
    if weekly is None:
        return ["the weekly schedule (schedule:1) was not run: no target to check"]
    lines = []
    for name in ADAPTIVE:
        row = by_policy.get(name)
        if row is None:
            continue
        ratio = row["mae_mean"] / weekly["mae_mean"]
        share = row["retrains_mean"] / weekly["retrains_mean"]
        met = ratio <= 1.10 and share <= 1 / 6
        lines.append(f"{name}: MAE {ratio:.3f}x the weekly schedule's (target <= 1.10), retrains {share:.3f} of its "
                     f"(target <= {1 / 6:.3f}) -> {'MET' if met else 'not met'}")
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Backtest the retraining policies over several window phases.")
    parser.add_argument("--data", nargs="+", default=["bike"], choices=sorted(BUNDLED), help="bundled datasets")
    parser.add_argument("--phases", type=int, default=7, help="window phases (day offsets 0 .. phases-1)")
    parser.add_argument("--policies", nargs="+", default=list(ALL_POLICIES))
    parser.add_argument("--hindsight", action="store_true", help="also the best schedules in hindsight (phase 0)")
    parser.add_argument("--rule", default=None, choices=["better", "not-worse"],
                        help="promotion rule of the paired validation (default: SimulationSettings')")
    parser.add_argument("--json", default=None, help="also write every run and the summary as JSON to this file")
    args = parser.parse_args(argv)
    if not 1 <= args.phases <= 7:
        parser.error(f"--phases must be between 1 and 7 (day offsets within a week); got {args.phases}")
    console = Console(width=150)
    console.print(f"[bold]machine[/]: {machine()}")
    report = {"machine": machine(), "phases": args.phases, "datasets": {}}
    for name in args.data:
        base = BUNDLED[name]()
        train_days = int(base.settings.get("train_days", 90))  # type: ignore[call-overload]
        settings = SimulationSettings(train_days=train_days)
        if args.rule:
            settings = replace(settings, promotion_rule=args.rule)
        runs: dict[int, list[dict]] = {}
        start = time.perf_counter()
        total = sum(window_count(shifted(base, days), settings) for days in range(args.phases)) * len(args.policies)
        with Progress(TextColumn("{task.description}"), BarColumn(),
                      TextColumn("{task.completed}/{task.total} windows"), TimeElapsedColumn(),
                      console=console) as progress:
            task = progress.add_task(f"{name}: {args.phases} phases x {len(args.policies)} policies", total=total)
            for days in range(args.phases):
                results = simulate(shifted(base, days), args.policies, settings,
                                   progress=lambda n: progress.advance(task, n))
                runs[days] = [result.summary() for result in results]
                if days == 0:
                    paired = paired_lines(results)
        key = error_key(runs)
        summary = summarise(runs, args.policies)
        table = Table(title=f"Retraining policies on {name}, {args.phases} window phase(s) "
                            f"({time.perf_counter() - start:.0f} s)")
        extras = [extra for extra in ("accuracy", "roc_auc") if extra in summary[0]]
        for column in ("policy", f"{key} mean", f"{key} min", f"{key} max", *extras, "retrains", "skipped",
                       "promotions", "rejected"):
            table.add_column(column, justify="left" if column == "policy" else "right")
        for row in summary:
            table.add_row(row["policy"], f"{row['mae_mean']:.4g}", f"{row['mae_min']:.4g}", f"{row['mae_max']:.4g}",
                          *(f"{row[extra]:.3f}" for extra in extras), f"{row['retrains_mean']:.1f}",
                          f"{row['skipped_mean']:.1f}", f"{row['promotions_mean']:.1f}", f"{row['rejected_mean']:.1f}")
        console.print(table)
        lines = [curve_verdict(summary), *paired] + (target_verdicts(summary) if name == "bike" else [])
        if args.hindsight:
            lines += hindsight_lines(base, settings, runs[0], key)
        for line in lines:
            console.print(line)
        report["datasets"][name] = {"runs": runs, "summary": summary, "checks": lines}
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()

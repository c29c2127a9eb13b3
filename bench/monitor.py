"""Benchmark of a whole monitoring pass: 1,000,000 rows in 30 daily windows over 25 columns, into MLflow.

Target (issue 4): <= 5 s beyond reading the data, including the MLflow logging, on the embedded SQLite store.

Set-up (not timed): seeded synthetic data from ``bench/drift.py`` (20 numeric, 5 categorical columns); a
scikit-learn pipeline registered as ``bench-model@champion`` with its reference profile (200,000 rows). The
production file holds the served predictions and the labels (as the inference log does), so that the pass measures
monitoring rather than the model's own scoring.

Measured in the same run:

* read: ``pandas.read_parquet`` of the production file;
* driftloop: ``run_monitor`` end to end (read, 30 windows of drift + quality + performance, verdicts, log_batch of
  every metric, the windows' JSON and report.html), on a fresh monitoring run each repeat;
* baseline: the same 30 windows computed with the scipy per-column loop (``bench/drift.py``), and the same metric
  points logged one ``log_metric`` call at a time (timed on the first 300 points, extrapolated).

    python bench/monitor.py --rows 1000000 --repeats 3
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from drift import machine, make_table, scipy_loop  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from driftloop.monitor.job import MonitorOptions, run_monitor  # noqa: E402
from driftloop.profile import ReferenceProfile  # noqa: E402
from driftloop.tracking import connect  # noqa: E402
from driftloop.tracking.profiles import log_profile  # noqa: E402
from driftloop.tracking.store import use_tracking_uri  # noqa: E402

DAYS = 30


def register_model(client, reference: pd.DataFrame) -> None:
    import mlflow
    import mlflow.sklearn
    from mlflow.models import infer_signature
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline

    numeric = [c for c in reference.columns if pd.api.types.is_numeric_dtype(reference[c])]
    target = reference[numeric[:3]].sum(axis=1)
    model = make_pipeline(ColumnTransformer([("numeric", "passthrough", numeric)]), Ridge()).fit(reference, target)
    with use_tracking_uri(client.tracking_uri), mlflow.start_run() as run:
        mlflow.log_metrics({"mae": 1.0, "rmse": 1.5})
        mlflow.sklearn.log_model(model, name="model", registered_model_name="bench-model",
                                 signature=infer_signature(reference.head(100), model.predict(reference.head(100))))
    log_profile(client, run.info.run_id, ReferenceProfile().fit(reference.assign(prediction=model.predict(reference))))
    client.set_registered_model_alias("bench-model", "champion", "1")
    return model


def write_production(model, rows: int, path: Path) -> Path:
    """``rows`` drifted production rows over the 30 days with the model's predictions and noisy labels, as Parquet."""
    production = make_table(rows, seed=2, drift=True).to_pandas()
    production["prediction"] = model.predict(production)
    production["label"] = production["prediction"] + np.random.default_rng(3).normal(0, 1, len(production))
    production.insert(0, "ts", pd.Timestamp("2024-01-01", tz="UTC")
                      + pd.to_timedelta(np.sort(np.random.default_rng(4).uniform(0, DAYS * 86400, len(production))),
                                        unit="s"))
    production.to_parquet(path, index=False)
    return path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--reference-rows", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    console = Console()
    folder = Path(tempfile.mkdtemp(prefix="driftloop-bench-monitor-"))
    os.chdir(folder)
    client = connect(f"sqlite:///{folder / 'mlflow.db'}")
    console.print(f"set-up in {folder}: reference {args.reference_rows:,} rows, production {args.rows:,} rows")
    reference = make_table(args.reference_rows, seed=1, drift=False).to_pandas()
    model = register_model(client, reference)
    path = write_production(model, args.rows, folder / "production.parquet")

    read_times, monitor_times = [], []
    for repeat in range(args.repeats):
        start = time.perf_counter()
        pd.read_parquet(path)
        read_times.append(time.perf_counter() - start)
        options = MonitorOptions(timestamp_column="ts", window="1d", target="label", experiment=f"bench-{repeat}")
        start = time.perf_counter()
        outcome = run_monitor(client, "bench-model@champion", str(path), options)
        monitor_times.append(time.perf_counter() - start)
        assert len(outcome.new_windows) == DAYS, len(outcome.new_windows)
    points = outcome.metric_points
    read, total = statistics.median(read_times), statistics.median(monitor_times)

    # Baseline: the scipy loop over the same windows, and one log_metric call per point.
    production = pd.read_parquet(path)
    day = production["ts"].dt.floor("1D")
    profile = ReferenceProfile().fit(reference)
    start = time.perf_counter()
    for _, window in production.groupby(day):
        scipy_loop(reference, window, profile)
    baseline_compute = time.perf_counter() - start
    run = client.create_run(client.create_experiment("bench-baseline"))
    sample = 300
    start = time.perf_counter()
    for i in range(sample):
        client.log_metric(run.info.run_id, f"m{i % 100}", float(i), step=i // 100)
    baseline_logging = (time.perf_counter() - start) / sample * points

    table = Table(title=f"monitoring {args.rows:,} rows, {DAYS} daily windows, 25 columns (median of {args.repeats})")
    for header in ("what", "seconds"):
        table.add_column(header, justify="left" if header == "what" else "right")
    table.add_row("read Parquet (pandas)", f"{read:.2f}")
    table.add_row("driftloop run_monitor, end to end", f"{total:.2f}")
    table.add_row("[bold]driftloop beyond reading[/] (target <= 5 s)", f"[bold]{total - read:.2f}[/]")
    table.add_row("  metric points logged with log_batch", f"{points:,}")
    table.add_row("baseline: scipy loop over the 30 windows", f"{baseline_compute:.2f}")
    table.add_row(f"baseline: {points:,} log_metric calls (extrapolated from {sample})", f"{baseline_logging:.2f}")
    table.add_row("baseline total / driftloop beyond reading",
                  f"{(baseline_compute + baseline_logging) / (total - read):.1f}x")
    console.print(table)
    console.print(machine())
    verdict = "met" if total - read <= 5.0 else "NOT met"
    console.print(f"target <= 5 s beyond reading: {verdict}")


if __name__ == "__main__":
    main()

"""Benchmark of a monitoring pass over a Parquet dataset larger than memory, read window by window (issue 17).

Target: 100M rows x 25 columns in 100 daily windows in <= 90 s beyond reading, peak RSS <= 3 GB, on a 2-core
machine (``--full``); the default is a small run (2M rows) that shows the same figures per row in a minute.

Set-up (not timed): seeded synthetic data of ``bench/drift.py`` (20 numeric, 5 categorical columns) with the served
``prediction`` and a ``label``, written as one Parquet file per day (rows in time order, as an inference log
exported by date is); a scikit-learn model registered as ``bench-model@champion`` with its reference profile
(200,000 rows), as in ``bench/monitor.py``.

Measured in the same run:

* read: one Arrow dataset scan of the columns the monitor reads (the 25 inputs, prediction, label, time stamp),
  batch by batch, in this process;
* driftloop: ``run_monitor`` end to end in a child process (scan of the time and label columns, each window read,
  drift + quality + performance, verdicts, ``log_batch`` into MLflow on SQLite, report), its wall time, its CPU
  time and its peak resident set size (``getrusage(RUSAGE_SELF).ru_maxrss`` in the child), and the CPU time of the
  child's whole process tree from start to exit (with Spark: the JVM and its Python workers; this process adopts
  the orphans, ``PR_SET_CHILD_SUBREAPER``, and ``getrusage(RUSAGE_CHILDREN)`` counts every process waited for);
* with ``--baseline REF``: the same pass with the ``src/`` of commit ``REF`` (extracted with ``git archive``), in
  another child process, on the same data and store.

    python bench/scale.py                  # 2M rows, 100 windows
    python bench/scale.py --full           # 100M rows x 25 columns (about 22 GB of Parquet in --folder)
    python bench/scale.py --rows 10000000 --windows 10 --baseline main   # 1M-row windows, against main
    python bench/scale.py --rows 20000000 --spark   # and the Spark engine in local[2] on the same data

With ``--spark``, the Spark engine (``--engine spark``) runs in a child process on the same data: its session
start-up (the JVM) is timed apart from its pass; target: within 5x the numpy engine's pass (issue 17). The data
written into ``--folder`` is reused by a later run with the same ``--folder``, ``--rows`` and ``--windows``.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import math
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import NamedTuple

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402
from drift import machine, make_table  # noqa: E402
from monitor import register_model  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402
from startup import extract_src  # noqa: E402

from driftloop.data.dataset import open_dataset  # noqa: E402
from driftloop.tracking import connect  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
START = pd.Timestamp("2024-01-01", tz="UTC")
MONITOR = """
import resource, sys, time
from driftloop.monitor.job import MonitorOptions, run_monitor
from driftloop.tracking import connect
client = connect(sys.argv[1])
engine = sys.argv[4]
options = MonitorOptions(timestamp_column="ts", window="1d", target="label", experiment=sys.argv[3], engine=engine,
                         spark_master="local[2]" if engine == "spark" else None)
if engine == "spark":  # the session's start-up (JVM) is Spark's fixed cost, timed apart
    start = time.perf_counter()
    from driftloop.spark.session import spark_session
    spark_session("local[2]")
    print("startup", time.perf_counter() - start)
start, cpu = time.perf_counter(), time.process_time()
outcome = run_monitor(client, "bench-model@champion", sys.argv[2], options)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kilobytes on Linux
print(time.perf_counter() - start, time.process_time() - cpu, peak, len(outcome.new_windows), outcome.metric_points)
"""


def write_dataset(folder: Path, rows: int, windows: int, model) -> None:
    """One Parquet file per day, rows in time order; generated a day at a time (bounded memory)."""
    folder.mkdir(parents=True, exist_ok=True)
    per_day = rows // windows
    for day in range(windows):
        count = per_day + (1 if day < rows % windows else 0)
        frame = make_table(count, seed=10 + day, drift=day >= windows // 2).to_pandas()
        frame["prediction"] = model.predict(frame)
        frame["label"] = frame["prediction"] + np.random.default_rng(day).normal(0, 1, count)
        offsets = np.sort(np.random.default_rng(1000 + day).uniform(0, 86_400, count))
        frame.insert(0, "ts", START + pd.Timedelta(days=day) + pd.to_timedelta(offsets, unit="s"))
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), folder / f"day-{day:05d}.parquet",
                       row_group_size=262_144)


def scan_seconds(folder: Path) -> float:
    """One pass over the needed columns, batch by batch (what the monitor's reading costs at least)."""
    data = open_dataset(folder)
    start = time.perf_counter()
    for _ in data.to_batches(columns=data.schema.names, fragment_readahead=1, batch_readahead=4):
        pass
    return time.perf_counter() - start


class Pass(NamedTuple):
    """One ``run_monitor`` in a child process: wall and CPU seconds (every thread), its own peak RSS in bytes, the
    windows and metric points written, for Spark the session's start-up seconds (not in ``seconds``), and the whole
    child process tree's wall and CPU seconds (``tree_seconds``, ``tree_cpu``: start-up and imports included)."""

    seconds: float
    cpu: float
    peak: int
    windows: str
    points: str
    startup: float = 0.0
    tree_seconds: float = 0.0
    tree_cpu: float = 0.0


#: ``prctl(PR_SET_CHILD_SUBREAPER, 1)`` (Linux, ``<linux/prctl.h>``): orphaned descendants are re-parented to this
#: process instead of init, so that waiting for them adds their CPU time to ``RUSAGE_CHILDREN``.
PR_SET_CHILD_SUBREAPER = 36


def adopt_descendants() -> bool:
    """Make this process the reaper of its orphaned descendants (Spark's JVM and Python workers outlive the child
    that started them, or exit after it); False where the system call is not available (not Linux)."""
    try:
        return ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def reap_descendants() -> None:
    """Wait for every process re-parented to this one (:func:`adopt_descendants`), so that their CPU time is in
    ``getrusage(RUSAGE_CHILDREN)``."""
    while True:
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            return


def children_cpu() -> float:
    """User + system CPU seconds of every waited-for descendant so far (``getrusage(RUSAGE_CHILDREN)``): a process's
    own figure includes the descendants it waited for, so with :func:`adopt_descendants` this is the whole tree's."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def monitor(uri: str, data: Path, engine: str, src: Path = REPO / "src", label: str = "",
            events: Path | None = None) -> Pass:
    """``run_monitor`` with ``engine`` and the sources ``src`` in a child process, into a fresh experiment; Spark's
    event log goes to the folder ``events``."""
    env = {**os.environ, "PYTHONPATH": str(src)}
    if events is not None:  # Spark's event log: every task's timings, for the per-partition figures (the UI is off)
        env["PYSPARK_SUBMIT_ARGS"] = (f"--conf spark.eventLog.enabled=true --conf spark.eventLog.dir={events} "
                                      "--conf spark.eventLog.compress=false pyspark-shell")
    experiment = f"bench-scale-{engine}{label}-{uuid.uuid4().hex[:8]}"
    reap_descendants()  # nothing of an earlier pass is counted in this one
    cpu_before, start = children_cpu(), time.perf_counter()
    child = subprocess.run([sys.executable, "-c", MONITOR, uri, str(data), experiment, engine],
                           capture_output=True, text=True, check=False, env=env)
    reap_descendants()  # the JVM and the Python workers, when they outlived the child
    tree_seconds, tree_cpu = time.perf_counter() - start, children_cpu() - cpu_before
    if child.returncode != 0:
        raise SystemExit(child.stderr[-3000:])
    lines = child.stdout.split("\n")
    startup = next((float(line.split()[1]) for line in lines if line.startswith("startup")), 0.0)
    total, cpu, peak, windows, points = child.stdout.split()[-5:]
    return Pass(float(total), float(cpu), int(peak), windows, points, startup, tree_seconds, tree_cpu)


class Stage(NamedTuple):
    """One Spark stage of the pass, from the event log: its name, tasks (partitions), the sum and the largest of
    its tasks' run times and CPU times (JVM threads only: Python workers' CPU is not counted there), in seconds."""

    name: str
    tasks: int
    run: float
    longest: float
    cpu: float


def spark_stages(events: Path) -> list[Stage]:
    """The stages of the Spark pass with their tasks' timings, read from the event log in ``events``."""
    names: dict[int, str] = {}
    tasks: dict[int, list[tuple[float, float]]] = {}
    for log in events.rglob("events_*"):  # not the status file nor Hadoop's hidden .crc checksums
        for line in log.read_text().splitlines():
            event = json.loads(line)
            kind = event.get("Event")
            if kind == "SparkListenerStageCompleted":
                info = event["Stage Info"]
                names[info["Stage ID"]] = info["Stage Name"]
            elif kind == "SparkListenerTaskEnd" and event.get("Task Metrics"):
                metrics = event["Task Metrics"]
                tasks.setdefault(event["Stage ID"], []).append(
                    (metrics["Executor Run Time"] / 1e3, metrics["Executor CPU Time"] / 1e9))
    return [Stage(names.get(stage, "?"), len(times), sum(t for t, _ in times), max(t for t, _ in times),
                  sum(c for _, c in times)) for stage, times in sorted(tasks.items())]


def cluster_cores(task_seconds: float, rows: int, *, daily_rows: float = 1e9, within: float = 3600.0,
                  fixed: float = 0.0, efficiency: float = 0.7) -> int:
    """Cores that process ``daily_rows`` within ``within`` seconds: the measured task time per row scaled to a day,
    spread over the cores at ``efficiency`` (stragglers, scheduling), after the ``fixed`` seconds that do not shrink
    with more cores (driver, start-up): ``ceil(task_seconds / rows * daily_rows / ((within - fixed) * efficiency))``.

    >>> cluster_cores(100.0, 1_000_000, fixed=600.0)  # 1e5 task seconds over 2,100 s a core
    48
    """
    return math.ceil(task_seconds / rows * daily_rows / ((within - fixed) * efficiency))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--windows", type=int, default=100)
    parser.add_argument("--full", action="store_true", help="100M rows (overrides --rows)")
    parser.add_argument("--folder", type=Path, default=None, help="where to write the data (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the data and the store")
    parser.add_argument("--spark", action="store_true", help="also run the Spark engine in local[2] on the same data")
    parser.add_argument("--baseline", default=None,
                        help="also run the numpy engine of this git commit (its src/, by git archive) on the same data")
    args = parser.parse_args(argv)
    rows = 100_000_000 if args.full else args.rows
    console = Console()
    tree = adopt_descendants()  # the CPU of the child processes' whole trees (Spark's JVM and Python workers)
    folder = args.folder or Path(tempfile.mkdtemp(prefix="driftloop-bench-scale-"))
    folder.mkdir(parents=True, exist_ok=True)
    os.chdir(folder)
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    client = connect(uri)
    start = time.perf_counter()
    model = register_model(client, make_table(200_000, seed=1, drift=False).to_pandas())
    data = folder / "production"
    if data.exists():  # written by an earlier run with the same --folder: reused if it has the rows asked for
        files = sorted(data.glob("*.parquet"))
        held = sum(pq.ParquetFile(f).metadata.num_rows for f in files)
        if (held, len(files)) != (rows, args.windows):
            raise SystemExit(f"{data} holds {held:,} rows in {len(files)} files, not the {rows:,} rows in "
                             f"{args.windows} files asked for: give another --folder, or remove it.")
    else:  # written beside, then renamed: an interrupted write is not reused
        partial = folder / "production.partial"
        shutil.rmtree(partial, ignore_errors=True)
        write_dataset(partial, rows, args.windows, model)
        partial.rename(data)
    console.print(f"set-up in {folder}: {rows:,} rows in {args.windows} daily files "
                  f"({sum(f.stat().st_size for f in data.iterdir()) / 1e9:.1f} GB), "
                  f"{time.perf_counter() - start:.0f} s")

    read = scan_seconds(data)
    passes = {"this tree": monitor(uri, data, "numpy")}
    if args.baseline:
        baseline_src = extract_src(args.baseline, folder / f"baseline-{args.baseline}")
        passes[f"baseline {args.baseline}"] = monitor(uri, data, "numpy", baseline_src, label="-baseline")
    ours = passes["this tree"]

    table = Table(title=f"monitoring {rows:,} rows x 25 columns in {ours.windows} daily windows, Parquet read window "
                        "by window")
    table.add_column("what")
    for name in passes:
        table.add_column(name, justify="right")

    def row(what: str, figure) -> None:
        table.add_row(what, *(figure(one) for one in passes.values()))

    table.add_row("read: one scan of the needed columns (Arrow dataset)", *[f"{read:.1f} s"] * len(passes))
    row("driftloop run_monitor, end to end (child process)", lambda one: f"{one.seconds:.1f} s")
    row("  CPU time of that process (both cores)", lambda one: f"{one.cpu:.1f} s")
    if tree:
        row("  CPU time of its whole process tree, start-up included", lambda one: f"{one.tree_cpu:.1f} s")
    row("[bold]driftloop beyond reading[/]", lambda one: f"[bold]{one.seconds - read:.1f} s[/]")
    row("  per million rows", lambda one: f"{(one.seconds - read) / rows * 1e6:.2f} s")
    row("  projected to 100M rows (target <= 90 s)", lambda one: f"{(one.seconds - read) / rows * 1e8:.0f} s")
    row("[bold]peak RSS of the monitor[/] (target <= 3 GB)", lambda one: f"[bold]{one.peak / 1e9:.2f} GB[/]")
    row("metric points written with log_batch", lambda one: one.points)
    console.print(table)
    if args.spark:
        events = folder / "spark-events"
        shutil.rmtree(events, ignore_errors=True)
        events.mkdir()
        spark = monitor(uri, data, "spark", events=events)
        compare = Table(title=f"Spark engine in local[2] against the numpy engine, same {rows:,} rows, same run")
        for name in ("what", "numpy", "Spark", "Spark / numpy"):
            compare.add_column(name, justify="left" if name == "what" else "right")
        compare.add_row("session start-up (JVM), not counted below", "", f"{spark.startup:.1f} s", "")
        compare.add_row("[bold]run_monitor end to end, wall[/] (target <= 5x)", f"{ours.seconds:.1f} s",
                        f"{spark.seconds:.1f} s", f"[bold]{spark.seconds / ours.seconds:.1f}x[/]")
        compare.add_row("  CPU of the monitoring process (driver; run_monitor only)", f"{ours.cpu:.1f} s",
                        f"{spark.cpu:.1f} s", f"{spark.cpu / ours.cpu:.1f}x")
        if tree:
            compare.add_row("whole child process tree, wall (start-up and imports included)",
                            f"{ours.tree_seconds:.1f} s", f"{spark.tree_seconds:.1f} s",
                            f"{spark.tree_seconds / ours.tree_seconds:.1f}x")
            compare.add_row("  its CPU: the process, the JVM, the Python workers (user + system)",
                            f"{ours.tree_cpu:.1f} s", f"{spark.tree_cpu:.1f} s",
                            f"{spark.tree_cpu / ours.tree_cpu:.1f}x")
        compare.add_row("metric points", ours.points, spark.points, "")
        console.print(compare)
        stages = spark_stages(events)
        timings = Table(title=f"where the Spark pass's time goes: {len(stages)} stages (Spark's event log)")
        for name in ("stage", "tasks", "task run s", "longest task s", "task CPU s (JVM)"):
            timings.add_column(name, justify="left" if name == "stage" else "right")
        for stage in stages:
            site = re.sub(r"\S*/", "", stage.name)  # "collect at monitor.py:124": the line that started the job
            timings.add_row(site[:60], str(stage.tasks), f"{stage.run:.1f}", f"{stage.longest:.2f}", f"{stage.cpu:.1f}")
        task_seconds = sum(stage.run for stage in stages)
        timings.add_row("[bold]all tasks[/]", str(sum(s.tasks for s in stages)), f"[bold]{task_seconds:.1f}[/]", "",
                        f"{sum(s.cpu for s in stages):.1f}")
        console.print(timings)
        fixed = max(spark.seconds - task_seconds / 2, 0.0) + spark.startup  # not covered by the 2 cores' tasks
        cores = cluster_cores(task_seconds, rows, fixed=fixed)
        console.print(f"projection: 1e9 rows a day within an hour: ceil({task_seconds:.1f} s / {rows:,} rows x 1e9 / "
                      f"((3600 - {fixed:.0f} s fixed) x 0.7)) = {cores} cores, e.g. {math.ceil(cores / 4)} executors "
                      "x 4 cores")
    console.print(machine())
    if not args.keep and args.folder is None:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()

"""Benchmark of the monitor's MLflow traffic on each kind of tracking store (issue 17 item 3).

One monitoring pass (rows in 30 daily windows, 25 columns, as ``bench/monitor.py`` makes them) against:

* ``sqlite``: the embedded default, ``sqlite:///mlflow.db``;
* ``http+sqlite``: an MLflow tracking server on that SQLite store (``mlflow server``, served artifacts);
* ``postgresql``: a PostgreSQL database used directly (``postgresql://...``);
* ``http+postgresql``: an MLflow tracking server on PostgreSQL — a team's shared server.

PostgreSQL is started by the benchmark on a free local port in a temporary folder (Debian's ``postgresql``; the
PostgreSQL rows are left out with the reason when it or the ``psycopg`` driver is missing).

Measured per store, on a fresh monitoring run each repeat: the pass end to end, and the time spent inside
``MlflowClient`` calls (outermost calls only: reading the model, profile and state, logging the windows' metrics with
``log_batch``, tags, the report artifact), divided by the 30 windows. Baseline: the SQLite store, in the same run.

    python bench/tracking_stores.py --rows 100000 --repeats 2
"""

from __future__ import annotations

import argparse
import functools
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parents[1]))  # tests.local_servers: the tests' real servers

import pandas as pd  # noqa: E402
from drift import machine, make_table  # noqa: E402
from mlflow import MlflowClient  # noqa: E402
from monitor import DAYS, register_model, write_production  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from driftloop.monitor.job import MonitorOptions, run_monitor  # noqa: E402
from driftloop.tracking import connect  # noqa: E402
from tests.local_servers import Unavailable, create_database, free_port, local_postgres, running_server  # noqa: E402


class ClientTimer:
    """Accumulates the wall time spent inside public ``MlflowClient`` methods (outermost calls only)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.calls = 0
        self._depth = 0

    @contextmanager
    def installed(self) -> Iterator[ClientTimer]:
        originals = {name: value for name, value in vars(MlflowClient).items()
                     if callable(value) and not name.startswith("_")}
        for name, method in originals.items():
            setattr(MlflowClient, name, self._timed(method))
        try:
            yield self
        finally:
            for name, method in originals.items():
                setattr(MlflowClient, name, method)

    def _timed(self, method):
        @functools.wraps(method)
        def timed(*args, **kwargs):
            self._depth += 1
            start = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                self._depth -= 1
                if self._depth == 0:
                    self.seconds += time.perf_counter() - start
                    self.calls += 1
        return timed


@contextmanager
def tracking_server(backend: str, folder: Path) -> Iterator[str]:
    """``mlflow server`` on ``backend`` with served artifacts, on a free port; its URI."""
    port = free_port()
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    env.pop("MLFLOW_TRACKING_URI", None)
    command = [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", backend, "--artifacts-destination",
               str(folder / f"artifacts-{port}"), "--host", "127.0.0.1", "--port", str(port), "--workers", "2"]
    with running_server(command, health_url=f"http://127.0.0.1:{port}/health", env=env,
                        log=folder / f"server-{port}.log"):
        yield f"http://127.0.0.1:{port}"


def measure(uri: str, reference: pd.DataFrame, production: Path, repeats: int) -> tuple[float, float, int]:
    """(median pass seconds, median seconds inside MlflowClient, client calls per pass) on the store at ``uri``."""
    client = connect(uri)
    register_model(client, reference)
    totals, inside, calls = [], [], 0
    for repeat in range(repeats):
        options = MonitorOptions(timestamp_column="ts", window="1d", target="label", experiment=f"bench-{repeat}")
        timer = ClientTimer()
        start = time.perf_counter()
        with timer.installed():
            outcome = run_monitor(client, "bench-model@champion", str(production), options)
        totals.append(time.perf_counter() - start)
        inside.append(timer.seconds)
        calls = timer.calls
        assert len(outcome.new_windows) == DAYS, len(outcome.new_windows)
    return statistics.median(totals), statistics.median(inside), calls


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--reference-rows", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args(argv)
    console = Console(width=120)
    folder = Path(tempfile.mkdtemp(prefix="driftloop-bench-stores-"))
    os.chdir(folder)  # a database store keeps run artifacts under ./mlruns
    reference = make_table(args.reference_rows, seed=1, drift=False).to_pandas()
    model = register_model(connect(f"sqlite:///{folder / 'scratch.db'}"), reference)
    path = write_production(model, args.rows, folder / "production.parquet")

    results: dict[str, tuple[float, float, int]] = {}
    results["sqlite"] = measure(f"sqlite:///{folder / 'mlflow.db'}", reference, path, args.repeats)
    with tracking_server(f"sqlite:///{folder / 'served.db'}", folder) as uri:
        results["http+sqlite"] = measure(uri, reference, path, args.repeats)
    try:
        with local_postgres("bench") as server:
            results["postgresql"] = measure(create_database(server, "direct"), reference, path, args.repeats)
            with tracking_server(create_database(server, "served"), folder) as uri:
                results["http+postgresql"] = measure(uri, reference, path, args.repeats)
    except Unavailable as missing:
        console.print(f"PostgreSQL rows left out: {missing}")

    table = Table(title=f"one monitoring pass, {args.rows:,} rows in {DAYS} daily windows, 25 columns "
                        f"(median of {args.repeats})")
    for header in ("store", "pass s", "in MlflowClient s", "per window ms", "client calls", "vs sqlite"):
        table.add_column(header, justify="left" if header == "store" else "right")
    base = results["sqlite"][1]
    for store, (total, inside, calls) in results.items():
        table.add_row(store, f"{total:.2f}", f"{inside:.2f}", f"{1000 * inside / DAYS:.0f}", f"{calls}",
                      f"{inside / base:.1f}x")
    console.print(table)
    import mlflow

    console.print({**machine(), "mlflow": mlflow.__version__, "load average": os.getloadavg()})


if __name__ == "__main__":
    main()

"""Loopback benchmark of the prediction service: throughput and latency of POST /predict.

Servers compared, one at a time on the same machine and the same model (wine-quality@champion):

* ``driftloop serve --no-log``                (no inference log)
* ``driftloop serve --log ...``               (inference log on, synchronous=full: every commit fsynced)
* ``mlflow models serve -m models:/wine-quality@champion --env-manager local``   (MLflow's own server)

Each serves from one process (MLflow's default is one uvicorn worker; driftloop always uses one). Payloads: a
single row, and a batch of 100 rows, in ``dataframe_split`` format (MLflow's and driftloop's common format).

The load generator is closed-loop: ``--clients`` processes, each with ``--threads`` threads, each thread with one
keep-alive ``http.client`` connection sending pre-encoded bodies back to back. Each run is bounded both by a
number of requests and by a duration, whichever comes first. A separate run at concurrency 1 measures the service
time of a lone request (no queueing).

    python bench/serve.py                      # trains the wine model in a temporary store first
    python bench/serve.py --tracking-uri sqlite:////path/mlflow.db --duration 10 --requests 20000

Prints a Markdown table (and writes it to ``--out`` when given).

The logging cost is then measured again, paired (``--rounds``, 0 to skip): both driftloop servers run at once (one
idle while the other is loaded), and ``--rounds`` short loaded runs of each alternate (off/on, then on/off, ...).
Each round gives the ratio of the two throughputs measured seconds apart, so that the machine's own drift in speed
(on a shared VM the no-log server alone moves about 6% between sequential runs) cancels out; the cost reported is
``1 - median(on / off)`` with the range of the rounds.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

REPO = Path(__file__).resolve().parents[1]
WINE = REPO / "examples" / "wine"
COLUMNS = ["fixed acidity", "volatile acidity", "citric acid", "residual sugar", "chlorides", "free sulfur dioxide",
           "total sulfur dioxide", "density", "pH", "sulphates", "alcohol"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def payloads() -> dict[str, bytes]:
    """Request bodies: real rows of the red-wine data, as dataframe_split."""
    import pandas as pd

    frame = pd.read_csv(WINE / "data" / "winequality-red.csv", sep=";").drop(columns=["quality"]).astype("float64")
    rows = frame[COLUMNS].to_numpy().tolist()
    single = {"dataframe_split": {"columns": COLUMNS, "data": rows[:1]}}
    batch = {"dataframe_split": {"columns": COLUMNS, "data": rows[:100]}}
    return {"1 row": json.dumps(single).encode(), "100 rows": json.dumps(batch).encode()}


# ------------------------------------------------------------------------------------------------- load generator
def _thread_loop(port: int, path: str, body: bytes, count: int, deadline: float, out: list[float],
                 errors: list[str]) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Content-Type": "application/json", "Content-Length": str(len(body))}
    for _ in range(count):
        if time.perf_counter() > deadline:
            break
        started = time.perf_counter()
        try:
            connection.request("POST", path, body, headers)
            response = connection.getresponse()
            response.read()
        except (OSError, http.client.HTTPException) as error:
            errors.append(repr(error))
            connection.close()
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            continue
        if response.status != 200:
            errors.append(str(response.status))
            continue
        out.append(time.perf_counter() - started)
    connection.close()


def _client_process(args: tuple[int, str, bytes, int, int, float]) -> tuple[list[float], list[str], float, float]:
    port, path, body, threads, count, duration = args
    latencies: list[list[float]] = [[] for _ in range(threads)]
    errors: list[str] = []
    started = time.perf_counter()
    deadline = started + duration
    workers = [threading.Thread(target=_thread_loop,
                                args=(port, path, body, count // threads + (i < count % threads), deadline,
                                      latencies[i], errors)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return [x for chunk in latencies for x in chunk], errors[:5], started, time.perf_counter()


def load(port: int, path: str, body: bytes, *, clients: int, threads: int, requests: int, duration: float) -> dict:
    """Run the closed-loop load and return throughput and latency percentiles."""
    per_client = [requests // clients + (i < requests % clients) for i in range(clients)]
    with multiprocessing.get_context("fork").Pool(clients) as pool:
        results = pool.map(_client_process, [(port, path, body, threads, n, duration) for n in per_client])
    latencies = sorted(x for result in results for x in result[0])
    errors = [e for result in results for e in result[1]]
    elapsed = max(r[3] for r in results) - min(r[2] for r in results)
    if not latencies:
        return {"requests": 0, "errors": errors}

    def quantile(q: float) -> float:
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1e3

    return {
        "requests": len(latencies),
        "seconds": elapsed,
        "rps": len(latencies) / elapsed,
        "p50_ms": quantile(0.50),
        "p99_ms": quantile(0.99),
        "mean_ms": statistics.fmean(latencies) * 1e3,
        "errors": errors,
    }


def cpu_per_request(server: "Server", before: dict[int, float] | None, after: dict[int, float] | None,
                    requests: int) -> dict:
    """CPU microseconds per answered request of the loaded run: all the server's processes, and the busiest one.

    Throughput on a shared machine drifts from run to run; CPU time per request drifts much less, and the busiest
    process's share (the one that serves; not driftloop's log writer, not MLflow's launcher) is what bounds a
    one-process server's throughput."""
    if before is None or after is None or not requests:
        return {}
    used = [seconds - before.get(pid, 0.0) for pid, seconds in after.items()]
    return {"cpu_us": 1e6 * sum(used) / requests, "main_cpu_us": 1e6 * max(used, default=0.0) / requests}


# ---------------------------------------------------------------------------------------------------- servers
class Server:
    def __init__(self, name: str, command: list[str], port: int, predict_path: str, health_path: str,
                 env: dict[str, str], cwd: Path) -> None:
        self.name, self.command, self.port = name, command, port
        self.predict_path, self.health_path = predict_path, health_path
        self.env, self.cwd = env, cwd
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Server:
        self.output = open(self.cwd / f"{self.name.replace(' ', '_').replace('/', '_')}.out", "wb")
        self.process = subprocess.Popen(self.command, env=self.env, cwd=self.cwd, stdout=self.output,
                                        stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}; see {self.output.name}")
            try:
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                connection.request("GET", self.health_path)
                if connection.getresponse().status == 200:
                    connection.close()
                    return self
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} did not answer within 120 s")

    def cpu_seconds(self) -> dict[int, float] | None:
        """CPU seconds used so far by each process of the server (its session: the server, its log writer, MLflow's
        workers), from /proc; None where there is no /proc."""
        assert self.process is not None
        used = {}
        tick = os.sysconf("SC_CLK_TCK")
        try:
            pids = [int(name) for name in os.listdir("/proc") if name.isdigit()]
        except OSError:
            return None
        for pid in pids:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if int(fields[3]) == self.process.pid:  # session id: start_new_session made the server its leader
                used[pid] = (int(fields[11]) + int(fields[12])) / tick
        return used

    def __exit__(self, *exc: object) -> None:
        assert self.process is not None
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.process.wait()
        self.output.close()


def train(folder: Path) -> str:
    from driftloop.tracking import connect
    from driftloop.tracking.projects import run_project

    uri = f"sqlite:///{folder / 'mlflow.db'}"
    previous = Path.cwd()
    os.chdir(folder)
    try:
        result = run_project(connect(uri), WINE, {"alpha": "0.01", "l1_ratio": "0.5"})
    finally:
        os.chdir(previous)
    if result.status != "FINISHED":
        raise SystemExit(f"training failed: {result.cause}")
    return uri


def versions() -> dict[str, str]:
    import fastapi
    import mlflow
    import numpy
    import pandas
    import sklearn
    import uvicorn

    import driftloop

    found = {"python": platform.python_version(), "driftloop": driftloop.__version__, "mlflow": mlflow.__version__,
             "fastapi": fastapi.__version__, "uvicorn": uvicorn.__version__, "numpy": numpy.__version__,
             "pandas": pandas.__version__, "scikit-learn": sklearn.__version__}
    for optional in ("uvloop", "httptools"):
        try:
            module = __import__(optional)
            found[optional] = getattr(module, "__version__", "yes")
        except ImportError:
            found[optional] = "not installed"
    return found


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{platform.system()} {platform.release()}, {os.cpu_count()} cores ({cpu}), Python {platform.python_version()}"


def paired_logging_cost(off: Server, on: Server, bodies: dict[str, bytes], *, rounds: int, clients: int,
                        threads: int, requests: int, duration: float) -> list[str]:
    """Logging cost per payload from ``rounds`` alternating loaded runs of the no-log and the log server (see the
    module docstring); one Markdown line per payload."""
    lines = []
    for payload_name, body in bodies.items():
        for server in (off, on):  # warm-up
            load(server.port, server.predict_path, body, clients=1, threads=2, requests=300, duration=5)
        ratios = []
        for round_index in range(rounds):
            order = (off, on) if round_index % 2 == 0 else (on, off)
            rps = {}
            for server in order:
                rps[server.name] = load(server.port, server.predict_path, body, clients=clients, threads=threads,
                                        requests=requests, duration=duration).get("rps", 0.0)
            if rps[off.name]:
                ratios.append(rps[on.name] / rps[off.name])
            print(f"paired round {round_index + 1}/{rounds} {payload_name}: off {rps[off.name]:.0f} req/s, "
                  f"on {rps[on.name]:.0f} req/s", flush=True)
        if ratios:
            costs = sorted(100 * (1 - ratio) for ratio in ratios)
            lines.append(f"- {payload_name}, paired over {len(ratios)} alternating rounds of {duration:g} s: logging "
                         f"costs {100 * (1 - statistics.median(ratios)):.1f}% of throughput (median; rounds "
                         f"{costs[0]:.1f}% to {costs[-1]:.1f}%)")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracking-uri", default=None, help="Store with wine-quality@champion (default: train one).")
    parser.add_argument("--requests", type=int, default=20_000, help="At most this many requests per run.")
    parser.add_argument("--duration", type=float, default=8.0, help="At most this many seconds per run.")
    parser.add_argument("--clients", type=int, default=2, help="Client processes.")
    parser.add_argument("--threads", type=int, default=4, help="Threads (connections) per client process.")
    parser.add_argument("--skip-mlflow", action="store_true", help="Do not benchmark mlflow models serve.")
    parser.add_argument("--out", default=None, help="Also write the Markdown table to this file.")
    parser.add_argument("--rounds", type=int, default=6,
                        help="Alternating paired rounds for the logging cost (0: skip).")
    parser.add_argument("--round-duration", type=float, default=3.0, help="Seconds of each paired round.")
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="driftloop-bench-"))
    try:
        uri = args.tracking_uri or train(work)
        env = dict(os.environ, MLFLOW_TRACKING_URI=uri, MLFLOW_DISABLE_TELEMETRY="true")
        env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
        bodies = payloads()
        python = sys.executable
        servers = []
        port = free_port()
        servers.append(Server("driftloop serve --no-log", [python, "-m", "driftloop", "serve", "-m",
                              "wine-quality@champion", "--port", str(port), "--no-log"], port, "/predict", "/health",
                              env, work))
        port = free_port()
        servers.append(Server("driftloop serve --log", [python, "-m", "driftloop", "serve", "-m",
                              "wine-quality@champion", "--port", str(port), "--log", str(work / "bench-log.db")],
                              port, "/predict", "/health", env, work))
        if not args.skip_mlflow:
            port = free_port()
            servers.append(Server("mlflow models serve", [python, "-m", "mlflow", "models", "serve", "-m",
                                  "models:/wine-quality@champion", "--env-manager", "local", "-h", "127.0.0.1",
                                  "-p", str(port)], port, "/invocations", "/ping", env, work))
        results = []
        for server in servers:
            with server:
                for payload_name, body in bodies.items():
                    # warm-up, then the lone-request latency, then the loaded run
                    load(server.port, server.predict_path, body, clients=1, threads=2, requests=300, duration=5)
                    lone = load(server.port, server.predict_path, body, clients=1, threads=1,
                                requests=min(2000, args.requests), duration=min(5.0, args.duration))
                    before = server.cpu_seconds()
                    busy = load(server.port, server.predict_path, body, clients=args.clients, threads=args.threads,
                                requests=args.requests, duration=args.duration)
                    busy.update(cpu_per_request(server, before, server.cpu_seconds(), busy["requests"]))
                    rows = 1 if payload_name == "1 row" else 100
                    results.append((server.name, payload_name, rows, lone, busy))
                    print(f"{server.name:28s} {payload_name:9s} lone p50 {lone.get('p50_ms', 0):.2f} ms "
                          f"p99 {lone.get('p99_ms', 0):.2f} ms | c={args.clients * args.threads}: "
                          f"{busy.get('rps', 0):.0f} req/s p50 {busy.get('p50_ms', 0):.2f} ms "
                          f"p99 {busy.get('p99_ms', 0):.2f} ms cpu {busy.get('cpu_us', 0):.0f} us/req "
                          f"errors {busy['errors'][:2]}", flush=True)
        concurrency = args.clients * args.threads
        lines = [
            f"Machine: {machine()}",
            "Versions: " + ", ".join(f"{k} {v}" for k, v in versions().items()),
            f"Command: `python bench/serve.py {' '.join(argv if argv is not None else sys.argv[1:])}`".replace(" `", " `"),
            f"Load: closed loop, {args.clients} client processes x {args.threads} keep-alive connections "
            f"(concurrency {concurrency}), each run bounded by {args.requests} requests and {args.duration:g} s; "
            "'lone' = one connection, one request at a time.",
            "",
            f"| server | payload | lone p50 ms | lone p99 ms | req/s (c={concurrency}) | rows/s | p50 ms | p99 ms "
            "| CPU us/req | busiest process CPU us/req |",
            "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for name, payload_name, rows, lone, busy in results:
            lines.append(f"| {name} | {payload_name} | {lone.get('p50_ms', float('nan')):.2f} | "
                         f"{lone.get('p99_ms', float('nan')):.2f} | {busy.get('rps', 0):.0f} | "
                         f"{busy.get('rps', 0) * rows:.0f} | {busy.get('p50_ms', float('nan')):.2f} | "
                         f"{busy.get('p99_ms', float('nan')):.2f} | {busy.get('cpu_us', float('nan')):.0f} | "
                         f"{busy.get('main_cpu_us', float('nan')):.0f} |")
        table = {(name, payload): busy.get("rps", 0) for name, payload, _, _, busy in results}
        main_cpu = {(name, payload): busy.get("main_cpu_us") for name, payload, _, _, busy in results}
        lines.append("")
        for payload_name in bodies:
            off = table.get(("driftloop serve --no-log", payload_name), 0)
            on = table.get(("driftloop serve --log", payload_name), 0)
            mlflow_rps = table.get(("mlflow models serve", payload_name))
            text = f"- {payload_name}: logging costs {100 * (1 - on / off):.1f}% of throughput" if off else ""
            cpu_off = main_cpu.get(("driftloop serve --no-log", payload_name))
            cpu_on = main_cpu.get(("driftloop serve --log", payload_name))
            if cpu_off and cpu_on:
                text += f" ({100 * (cpu_on / cpu_off - 1):.1f}% more CPU per request in the serving process)"
            if mlflow_rps:
                text += f"; driftloop with logging = {on / mlflow_rps:.2f}x mlflow models serve"
            lines.append(text)
        if args.rounds > 0:
            with servers[0], servers[1]:
                lines += paired_logging_cost(servers[0], servers[1], bodies, rounds=args.rounds,
                                             clients=args.clients, threads=args.threads, requests=args.requests,
                                             duration=args.round_duration)
        report = "\n".join(lines)
        print("\n" + report)
        if args.out:
            Path(args.out).write_text(report + "\n")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Streaming detectors: false alarms, detection delay and speed against river, and their CPU cost in the service.

1. False alarms: each detector (default parameters) over a stationary stream of 1,000,000 values (standard normal,
   and its absolute values, the shape of an absolute-error stream), driftloop's and river's (``river.drift``, run
   by ``--side-python``, by default this Python when it has river, as the test extra installs it) on the same values in the same run; also their speed.
2. Detection delay: ``--repeats`` streams of 2,000 values of N(0, 1) then 2,000 of N(shift, 1) (shifts of 0.5, 1
   and 2 standard deviations): the values between the shift and the first detection at or after it (median, and
   the share of streams where it is missed within the 2,000 values), and false alarms before the shift.
3. The log writer's CPU per group commit, in this process: detectors off, ADWIN (the default), all three;
   predictions of 1 and 100 rows, feedback of 100 labels.
4. CPU per request: three ``driftloop serve --log`` processes on the same model, with the detectors off
   (``--no-stream-detectors``), with the default (ADWIN) and with all three detectors, loaded at the same time in
   each of ``--rounds`` rounds (so that the machine's load, which other processes change from second to second,
   is the same for the three): ``/predict`` with 1-row and 100-row requests, ``/feedback`` with 1 and 100 labels
   per request (each label for a logged prediction of its own: the errors stream takes each once). The CPU of the
   server process and of its log writer per request, from the scheduler's nanosecond counters, and the share the
   detectors add (target: at most 5%): each round pairs every configuration with the detectors-off server loaded in
   the same seconds; the median of the rounds' ratios, with its distribution-free 95% confidence interval (order
   statistics of the binomial, :func:`median_interval`), and the writer's share of it. ``--aa`` loads a second
   detectors-off server: its interval against the first is the benchmark's resolution in that run (an A/A test).

    python bench/stream.py                                   # trains the wine model in a temporary store first
    python bench/stream.py --skip-service   # river from this environment (the test extra), or --side-python PY
    python bench/stream.py --skip-detectors --skip-writer --rounds 40 --duration 3 --aa   # the CPU per request
    git worktree add /tmp/before <commit> && python bench/stream.py --skip-detectors --baseline-src /tmp/before/src

river has no CUSUM in its latest release (0.26.1), so CUSUM has no river column.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import importlib.util
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import binom

sys.path.insert(0, str(Path(__file__).resolve().parent))
from serve import Server, free_port, load, machine, payloads, train  # noqa: E402

from driftloop.stream import DETECTORS  # noqa: E402

#: This Python, when it has river (the test extra installs it), runs river's side of the comparison.
RIVER_HERE = sys.executable if importlib.util.find_spec("river") else None

RIVER = """
import json, sys, time
import numpy as np
from river import drift
out = []
for kind, path in json.load(sys.stdin):
    values = np.load(path)
    found = []
    started = time.perf_counter()
    for stream in values:
        detector = {"adwin": drift.ADWIN, "page_hinkley": drift.PageHinkley}[kind]()
        hits = []
        for i, value in enumerate(stream.tolist()):
            detector.update(value)
            if detector.drift_detected:
                hits.append(i)
        found.append(hits)
    out.append({"detections": found, "seconds": time.perf_counter() - started})
print(json.dumps(out))
"""
RIVER_DETECTORS = ("adwin", "page_hinkley")
SHIFTS = (0.5, 1.0, 2.0)
HALF = 2_000


def ours(kind: str, streams: np.ndarray) -> dict:
    DETECTORS[kind]().update_many(streams[0, :100])  # the compiled code is loaded (or compiled) once, not timed
    started = time.perf_counter()
    found = [DETECTORS[kind]().update_many(stream) for stream in streams]
    return {"detections": found, "seconds": time.perf_counter() - started}


def river(side_python: str | None, jobs: list[tuple[str, str]]) -> list[dict | None]:
    if not side_python:
        return [None] * len(jobs)
    answer = subprocess.run([side_python, "-c", RIVER], input=json.dumps(jobs), capture_output=True, text=True,
                            check=True)
    return json.loads(answer.stdout)


def delay_summary(detections: list[list[int]]) -> str:
    delays, missed, early = [], 0, 0
    for hits in detections:
        early += sum(1 for h in hits if h < HALF)
        after = [h - HALF for h in hits if h >= HALF]
        if after:
            delays.append(after[0])
        else:
            missed += 1
    median = f"{statistics.median(delays):.0f}" if delays else "-"
    return f"{median} ({100 * missed / len(detections):.0f}% missed, {early} early)"


def detector_tables(side_python: str | None, work: Path, n: int, repeats: int) -> list[str]:
    rng = np.random.default_rng(20261130)
    stationary = {"N(0, 1)": rng.normal(0, 1, n), "abs N(0, 1)": np.abs(rng.normal(0, 1, n))}
    shifted = {shift: np.concatenate([rng.normal(0, 1, (repeats, HALF)), rng.normal(shift, 1, (repeats, HALF))],
                                     axis=1) for shift in SHIFTS}
    jobs, keys = [], []
    for name, values in stationary.items():
        path = work / f"stationary-{len(keys)}.npy"
        np.save(path, values[None, :])
        for kind in RIVER_DETECTORS:
            jobs.append((kind, str(path)))
            keys.append(("stationary", name, kind))
    for shift, values in shifted.items():
        path = work / f"shift-{shift}.npy"
        np.save(path, values)
        for kind in RIVER_DETECTORS:
            jobs.append((kind, str(path)))
            keys.append(("shift", shift, kind))
    theirs = dict(zip(keys, river(side_python, jobs)))

    lines = [f"False alarms over {n:,} stationary values (default parameters), and updates per second:", "",
             "| stream | detector | driftloop alarms | river alarms | same positions | driftloop updates/s | "
             "river updates/s |", "|---|---|---:|---:|---|---:|---:|"]
    for name, values in stationary.items():
        for kind in DETECTORS:
            mine = ours(kind, values[None, :])
            other = theirs.get(("stationary", name, kind))
            same = "-" if other is None else ("yes" if other["detections"] == mine["detections"] else "NO")
            river_alarms = "-" if other is None else str(len(other["detections"][0]))
            river_speed = "-" if other is None else f"{n / other['seconds']:,.0f}"
            lines.append(f"| {name} | {kind} | {len(mine['detections'][0])} | {river_alarms} | {same} | "
                         f"{n / mine['seconds']:,.0f} | {river_speed} |")
            print(lines[-1], flush=True)
    lines += ["", f"Detection delay after a shift of the mean ({repeats} streams of {HALF:,} + {HALF:,} values, "
              "unit variance): median values from the shift to the first detection (share missed within "
              f"{HALF:,} values, detections before the shift in all streams):", "",
              "| shift | detector | driftloop | river | same positions |", "|---|---|---|---|---|"]
    for shift, values in shifted.items():
        for kind in DETECTORS:
            mine = ours(kind, values)
            other = theirs.get(("shift", shift, kind))
            same = "-" if other is None else ("yes" if other["detections"] == mine["detections"] else "NO")
            lines.append(f"| {shift:g} σ | {kind} | {delay_summary(mine['detections'])} | "
                         f"{'-' if other is None else delay_summary(other['detections'])} | {same} |")
            print(lines[-1], flush=True)
    return lines


WRITER_CONFIGURATIONS = {"off": None, "adwin (default)": {"adwin": {}},
                         "all three": {name: {} for name in DETECTORS}}


def writer_cost(work: Path, rounds: int, groups: int) -> list[str]:
    """The log writer's CPU per group commit (in this process, no HTTP): groups of one request, with the detectors
    off, ADWIN, or all three, each round ending with the detectors' flush (in the service: every FLUSH_SECONDS);
    rounds in rotating order, the median of each. Requests: predictions of 1 or 100 rows of 11 features, and
    feedback of 100 labels (each for a logged prediction of its own, logged before the timed part: each label
    feeds the errors stream)."""
    from driftloop.data.inference_log import InferenceLog, new_row_ids
    from driftloop.data.log_writer import GroupWriter

    rng = np.random.default_rng(7)
    lines = ["", f"The log writer's CPU per group commit (`GroupWriter.write` in one process, synchronous=normal, "
             f"{groups:,} groups of one request per round, then one flush of the detectors; {rounds} rounds in "
             "rotating order; median):", "",
             "| request | " + " | ".join(f"{name}, µs" for name in WRITER_CONFIGURATIONS) + " |",
             "|---|" + "---:|" * len(WRITER_CONFIGURATIONS)]

    def predictions(rows: int) -> list:
        stamp = time.time_ns()
        inputs = {f"x{i}": rng.normal(size=rows) for i in range(11)}
        return [(0, "predictions", (new_row_ids(rows, stamp), stamp, "m", "1", inputs,
                                    rng.normal(5, 1, rows).tolist()))]

    def feedback(writer: GroupWriter, rows: int) -> list:
        logged = predictions(rows)
        writer.write(logged)
        return [(0, "feedback", (list(zip(logged[0][2][0], rng.integers(3, 9, rows).tolist())), False))]

    for request, rows in (("predictions", 1), ("predictions", 100), ("feedback", 100)):
        writers = {}
        for index, (name, streams) in enumerate(WRITER_CONFIGURATIONS.items()):
            path = work / f"writer-{request}-{rows}-{index}.db"
            with InferenceLog(path, streams=None):
                pass
            writers[name] = GroupWriter(path, "normal", streams=streams)
        measured: dict[str, list[float]] = {name: [] for name in writers}
        names = list(writers)
        for round_index in range(rounds):
            for name in names[round_index % len(names):] + names[:round_index % len(names)]:
                writer = writers[name]
                prepared = [predictions(rows) if request == "predictions" else feedback(writer, rows)
                            for _ in range(groups)]
                writer.flush_streams()  # the logged predictions' values are not part of the timed flush
                started = time.process_time()
                for group in prepared:
                    writer.write(group)
                writer.flush_streams()
                measured[name].append(1e6 * (time.process_time() - started) / groups)
        for writer in writers.values():
            writer.close()
        label = f"{request}, {rows} {'row' if request == 'predictions' else 'label'}{'s' if rows > 1 else ''}"
        lines.append(f"| {label} | " + " | ".join(f"{statistics.median(values):.0f}" for values in measured.values())
                     + " |")
        print(lines[-1], flush=True)
    return lines


CONFIGURATIONS = {  # name: the flags of driftloop serve
    "off": ["--no-stream-detectors"],
    "adwin (default)": [],
    "all three": ["--stream-detector", "adwin", "--stream-detector", "page_hinkley", "--stream-detector", "cusum"],
}


def process_cpu(server: Server) -> dict[str, float] | None:
    """CPU seconds used so far by the server process and by the rest of its session (the log writer), from the
    scheduler's nanosecond counters of every thread (``/proc/PID/task/TID/schedstat``), not the 10 ms ticks of
    ``/proc/PID/stat``; None where there is no /proc."""
    used = server.cpu_seconds()
    if used is None:
        return None
    found = {"server": 0.0, "writer": 0.0}
    for pid, ticks in used.items():
        try:
            seconds = sum(int(Path(f"/proc/{pid}/task/{tid}/schedstat").read_text().split()[0])
                          for tid in os.listdir(f"/proc/{pid}/task")) / 1e9
        except (OSError, ValueError, IndexError):
            seconds = ticks
        found["server" if pid == server.process.pid else "writer"] += seconds
    return found


def _send_bodies(port: int, path: str, bodies: list[bytes], deadline: float, sent: list[int]) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    for body in bodies:
        if time.perf_counter() > deadline:
            break
        connection.request("POST", path, body, {"Content-Type": "application/json"})
        response = connection.getresponse()
        response.read()
        if response.status != 200:
            raise RuntimeError(f"{path} answered {response.status}")
        sent[0] += 1
    connection.close()


def load_bodies(port: int, path: str, bodies: list[bytes], threads: int, duration: float) -> int:
    """Closed loop over distinct bodies (each sent once; ``threads`` connections), for ``duration`` seconds at most:
    the requests answered."""
    sent = [0]
    deadline = time.perf_counter() + duration
    workers = [threading.Thread(target=_send_bodies, args=(port, path, bodies[i::threads], deadline, sent))
               for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return sent[0]


def feedback_bodies(server: Server, rows: int, requests: int) -> list[bytes]:
    """``requests`` bodies of ``rows`` labels each, for predictions the server has logged (one label per prediction:
    each feeds the errors stream once)."""
    batch = json.loads(payloads()["100 rows"])
    ids: list[str] = []
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    while len(ids) < rows * requests:
        connection.request("POST", "/predict", json.dumps(batch), {"Content-Type": "application/json"})
        ids.extend(json.loads(connection.getresponse().read())["ids"])
    connection.close()
    labels = np.random.default_rng(11).integers(3, 9, len(ids)).tolist()
    return [json.dumps([{"id": i, "label": y} for i, y in zip(ids[k: k + rows], labels[k: k + rows])]).encode()
            for k in range(0, rows * requests, rows)]


FEEDBACK_REQUESTS = {1: 1_000, 100: 60}
"""Requests of /feedback per server and round, by labels per request (each label for a prediction of its own)."""


def _run_round(servers: list[Server], send: Any) -> dict[str, dict[str, float]]:
    """Load every server at once (``send(server)`` returns the requests answered): the same machine load for each
    configuration. The CPU per request of each, its server process and its writer."""
    before = {server.name: process_cpu(server) for server in servers}
    answered: dict[str, int] = {}
    workers = [threading.Thread(target=lambda s=server: answered.__setitem__(s.name, send(s))) for server in servers]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    measured = {}
    for server in servers:
        after, start = process_cpu(server), before[server.name]
        if after is None or start is None or not answered.get(server.name):
            return {}
        parts = {part: 1e6 * (after[part] - start[part]) / answered[server.name] for part in after}
        measured[server.name] = {"total": sum(parts.values()), **parts}
    return measured


def service_cost(work: Path, tracking_uri: str | None, rounds: int, duration: float,
                 baseline: str | None = None, aa: bool = False) -> list[str]:
    """The CPU per request of the service in every configuration (with ``aa``, a second detectors-off server; with
    ``baseline``, a source folder of another driftloop, that driftloop's detectors off and ADWIN), in the same
    rounds."""
    uri = tracking_uri or train(work)
    env = dict(os.environ, MLFLOW_TRACKING_URI=uri, MLFLOW_DISABLE_TELEMETRY="true")
    configurations = [(name, flags, env) for name, flags in CONFIGURATIONS.items()]
    if aa:
        configurations.append(("off again (A/A)", CONFIGURATIONS["off"], env))
    if baseline:
        other = dict(env, PYTHONPATH=os.pathsep.join(filter(None, [baseline, env.get("PYTHONPATH")])))
        configurations += [("baseline off", CONFIGURATIONS["off"], other),
                           ("baseline adwin", CONFIGURATIONS["adwin (default)"], other)]
    servers = []
    for index, (name, flags, server_env) in enumerate(configurations):
        port = free_port()
        servers.append(Server(name, [sys.executable, "-m", "driftloop", "serve", "-m", "wine-quality@champion",
                                     "--port", str(port), "--poll-interval", "0", "--log",
                                     str(work / f"service-{index}.db"), *flags],
                              port, "/predict", "/health", server_env, work))
    lines = ["", f"CPU per request of `driftloop serve --log` (synchronous=full, the default; no registry polls), "
             f"{rounds} rounds of at most {duration:g} s, each loading the {len(servers)} configurations at once "
             "(the same machine load for each; per configuration 2 keep-alive connections, closed loop); CPU from "
             "the scheduler's ns counters of every thread of the server and its log writer; medians over the rounds. "
             "Added: the median over the rounds of each round's ratio to the detectors-off server (the baseline's "
             "ADWIN: to the baseline's detectors-off server) [95% confidence interval of that median; "
             "interquartile range]; of which the writer: the median of the rounds' added writer CPU, as a share "
             "of the detectors-off server's CPU [95% CI]:", "",
             "| endpoint, payload | detectors off: µs/request (server + writer) | "
             + " | ".join(f"{s.name}: µs/request (server + writer), added" for s in servers[1:]) + " |",
             "|---|---:|" + "---:|" * (len(servers) - 1)]
    off = servers[0]
    with contextlib.ExitStack() as stack:
        for server in servers:
            stack.enter_context(server)
        runs: dict[str, Any] = {}
        for payload_name, body in payloads().items():
            runs[f"/predict, {payload_name}"] = (
                lambda s, b=body: load(s.port, "/predict", b, clients=1, threads=2, requests=10**7,
                                       duration=duration)["requests"])
        for rows, per_round in FEEDBACK_REQUESTS.items():
            bodies = {server.name: iter([feedback_bodies(server, rows, per_round) for _ in range(rounds + 1)])
                      for server in servers}
            runs[f"/feedback, {rows} label{'s' if rows > 1 else ''}"] = (
                lambda s, pool=bodies: load_bodies(s.port, "/feedback", next(pool[s.name]), 2, duration))
        for run_name, send in runs.items():
            if run_name.startswith("/predict"):
                for server in servers:  # warm-up
                    send(server)
            else:
                _run_round(servers, send)  # warm-up
            cpu: dict[str, list[dict[str, float]]] = {server.name: [] for server in servers}
            for round_index in range(rounds):
                measured = _run_round(servers, send)
                for name, value in measured.items():
                    cpu[name].append(value)
                print(f"round {round_index + 1} {run_name}: " + ", ".join(
                    f"{n} {v['total']:.0f} µs ({v['server']:.0f} + {v['writer']:.0f})" for n, v in measured.items()),
                    flush=True)
            lines.append(_service_line(run_name, cpu, off.name))
            print(lines[-1], flush=True)
    return lines


def median_interval(values: list[float], confidence: float = 0.95) -> tuple[float, float, float]:
    """The median of independent values and its distribution-free confidence interval.

    The interval is ``(x_(k), x_(n+1-k))`` of the sorted values, with ``k`` the largest rank such that
    ``P(B < k) <= (1 - confidence) / 2`` for ``B ~ Binomial(n, 1/2)``: the number of values below the true median
    (W. J. Conover, *Practical Nonparametric Statistics*, 3rd ed., 1999, §3.2). Its coverage is at least
    ``confidence`` whatever the values' distribution; with fewer than 6 values none is that wide (NaN bounds).

    >>> median_interval([float(v) for v in range(1, 31)])
    (15.5, 10.0, 21.0)
    """
    ordered = sorted(values)
    n = len(ordered)
    tail = (1 - confidence) / 2
    k = int(binom.ppf(tail, n, 0.5))
    if binom.cdf(k, n, 0.5) <= tail:
        k += 1
    median = statistics.median(ordered)
    if k < 1:
        return median, math.nan, math.nan
    return median, ordered[k - 1], ordered[n - k]


def _service_line(run_name: str, cpu: dict[str, list[dict[str, float]]], off: str) -> str:
    def cell(name: str) -> str:
        medians = {part: statistics.median(r[part] for r in cpu[name]) for part in ("total", "server", "writer")}
        return f"{medians['total']:.0f} ({medians['server']:.0f} + {medians['writer']:.0f})"

    cells = [cell(off)]
    for name in cpu:
        if name == off:
            continue
        pairs = list(zip(cpu[name], cpu["baseline off" if name == "baseline adwin" else off]))
        added = [100 * (mine["total"] / base["total"] - 1) for mine, base in pairs]
        writer = [100 * (mine["writer"] - base["writer"]) / base["total"] for mine, base in pairs]
        median, low, high = median_interval(added)
        quartiles = statistics.quantiles(added, n=4) if len(added) > 1 else [added[0]] * 3
        writer_median, writer_low, writer_high = median_interval(writer)
        cells.append(f"{cell(name)}, **{median:+.1f}%** [{low:+.1f}% to {high:+.1f}%; IQR {quartiles[0]:+.1f}% to "
                     f"{quartiles[2]:+.1f}%]; writer {writer_median:+.1f}% [{writer_low:+.1f}% to "
                     f"{writer_high:+.1f}%]")
    return f"| {run_name} | " + " | ".join(cells) + " |"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--values", type=int, default=1_000_000, help="Length of the stationary streams.")
    parser.add_argument("--repeats", type=int, default=50, help="Shifted streams per shift.")
    parser.add_argument("--side-python", default=os.environ.get("DRIFTLOOP_BENCH_SIDE_PYTHON", RIVER_HERE),
                        help="A Python with river installed ('' to skip river; default: this one when it has river, "
                             "as the test extra installs it).")
    parser.add_argument("--skip-service", action="store_true", help="Do not measure the service's CPU.")
    parser.add_argument("--baseline-src", default=None, metavar="DIR",
                        help="The src folder of another driftloop (e.g. a checkout of an earlier commit): its service "
                             "with the detectors off and with ADWIN joins the CPU rounds.")
    parser.add_argument("--skip-writer", action="store_true", help="Do not measure the writer's cost per commit.")
    parser.add_argument("--aa", action="store_true",
                        help="Load a second detectors-off server in the same rounds: its 'added' CPU against the "
                             "first (an A/A comparison) shows what the run can resolve.")
    parser.add_argument("--skip-detectors", action="store_true",
                        help="Do not measure false alarms, delays and speed (only the CPU costs).")
    parser.add_argument("--tracking-uri", default=None, help="Store with wine-quality@champion (default: train one).")
    parser.add_argument("--rounds", type=int, default=40,
                        help="Rounds of the CPU measurements (the 95%% interval of the added CPU spans the rounds' "
                             "ratios of ranks ~n/2 -+ sqrt(n): it narrows as 1/sqrt(rounds)).")
    parser.add_argument("--duration", type=float, default=5.0, help="Seconds of each round.")
    parser.add_argument("--groups", type=int, default=2_000, help="Group commits per round of the writer's cost.")
    args = parser.parse_args(argv)
    side = args.side_python if args.side_python and Path(args.side_python).exists() else None
    work = Path(tempfile.mkdtemp(prefix="driftloop-bench-stream-"))
    try:
        lines = [f"Machine: {machine()}; load average at the start {os.getloadavg()[0]:.1f}", ""]
        if not args.skip_detectors:
            lines += detector_tables(side, work, args.values, args.repeats)
        if not args.skip_writer:
            lines += writer_cost(work, args.rounds, args.groups)
        if not args.skip_service:
            lines += service_cost(work, args.tracking_uri, args.rounds, args.duration, args.baseline_src, args.aa)
        lines += ["", f"Load average at the end: {os.getloadavg()[0]:.1f}"]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())

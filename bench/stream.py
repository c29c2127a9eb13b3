"""Streaming detectors: false alarms, detection delay and speed against river, and their CPU cost in the service.

1. False alarms: each detector (default parameters) over a stationary stream of 1,000,000 values (standard normal,
   and its absolute values, the shape of an absolute-error stream), driftloop's and river's (``river.drift``, run
   by the side environment's Python, ``--side-python``) on the same values in the same run; also their speed.
2. Detection delay: ``--repeats`` streams of 2,000 values of N(0, 1) then 2,000 of N(shift, 1) (shifts of 0.5, 1
   and 2 standard deviations): the values between the shift and the first detection at or after it (median, and
   the share of streams where it is missed within the 2,000 values), and false alarms before the shift.
3. The log writer's CPU per group commit, in this process: detectors off, ADWIN (the default), all three.
4. CPU per request: three ``driftloop serve --log`` processes on the same model, with the detectors off
   (``--no-stream-detectors``), with the default (ADWIN) and with all three detectors, loaded in rotating rounds
   (``--rounds``) with 1-row and 100-row requests; the CPU time of all their processes (server and log writer) per
   request, and the share the detectors add (target: at most 5%).

    python bench/stream.py                                   # trains the wine model in a temporary store first
    python bench/stream.py --skip-service --side-python side-venv/bin/python

river has no CUSUM in its latest release (0.26.1), so CUSUM has no river column.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from serve import Server, cpu_per_request, free_port, load, machine, payloads, train  # noqa: E402

from driftloop.stream import DETECTORS  # noqa: E402

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
    """The log writer's CPU per group commit (in this process, no HTTP): groups of one request of 1 or 100 rows of
    11 features, with the detectors off, ADWIN, or all three; rounds in rotating order, the median of each."""
    from driftloop.data.inference_log import InferenceLog, new_row_ids
    from driftloop.data.log_writer import GroupWriter

    rng = np.random.default_rng(7)
    lines = ["", f"The log writer's CPU per group commit (`GroupWriter.write` in one process, synchronous=normal, "
             f"{groups:,} groups of one request per round, {rounds} rounds in rotating order; median):", "",
             "| rows per group | " + " | ".join(f"{name}, µs" for name in WRITER_CONFIGURATIONS) + " |",
             "|---|" + "---:|" * len(WRITER_CONFIGURATIONS)]
    for rows in (1, 100):
        writers = {}
        for index, (name, streams) in enumerate(WRITER_CONFIGURATIONS.items()):
            path = work / f"writer-{rows}-{index}.db"
            with InferenceLog(path, streams=None):
                pass
            writers[name] = GroupWriter(path, "normal", streams=streams)
        measured: dict[str, list[float]] = {name: [] for name in writers}
        names = list(writers)
        for round_index in range(rounds):
            for name in names[round_index % len(names):] + names[:round_index % len(names)]:
                prepared = []
                for _ in range(groups):
                    stamp = time.time_ns()
                    inputs = {f"x{i}": rng.normal(size=rows) for i in range(11)}
                    payload = (new_row_ids(rows, stamp), stamp, "m", "1", inputs, rng.normal(5, 1, rows).tolist())
                    prepared.append([(0, "predictions", payload)])
                started = time.process_time()
                for group in prepared:
                    writers[name].write(group)
                    writers[name].stream_updates.clear()
                measured[name].append(1e6 * (time.process_time() - started) / groups)
        for writer in writers.values():
            writer.close()
        lines.append(f"| {rows} | " + " | ".join(f"{statistics.median(values):.0f}" for values in measured.values())
                     + " |")
        print(lines[-1], flush=True)
    return lines


CONFIGURATIONS = {  # name: the flags of driftloop serve
    "off": ["--no-stream-detectors"],
    "adwin (default)": [],
    "all three": ["--stream-detector", "adwin", "--stream-detector", "page_hinkley", "--stream-detector", "cusum"],
}


def service_cost(work: Path, tracking_uri: str | None, rounds: int, duration: float) -> list[str]:
    uri = tracking_uri or train(work)
    env = dict(os.environ, MLFLOW_TRACKING_URI=uri, MLFLOW_DISABLE_TELEMETRY="true")
    servers = []
    for name, flags in CONFIGURATIONS.items():
        port = free_port()
        servers.append(Server(name, [sys.executable, "-m", "driftloop", "serve", "-m", "wine-quality@champion",
                                     "--port", str(port), "--log", str(work / f"{name.split()[0]}.db"), *flags],
                              port, "/predict", "/health", env, work))
    lines = ["", f"CPU per request of `driftloop serve --log` (server and log writer processes) on POST /predict, "
             f"rounds of {duration:g} s per configuration in rotating order, 2 client processes x 2 threads; "
             "added: median over the rounds of each round's ratio to the detectors-off server (range):", "",
             "| payload | detectors off, CPU µs/request | " + " | ".join(f"{n}: µs/request, added" for n in
                                                                       list(CONFIGURATIONS)[1:]) + " |",
             "|---|---:|" + "---:|" * (len(CONFIGURATIONS) - 1)]
    off = servers[0]
    with contextlib.ExitStack() as stack:
        for server in servers:
            stack.enter_context(server)
        for payload_name, body in payloads().items():
            for server in servers:  # warm-up
                load(server.port, "/predict", body, clients=1, threads=2, requests=300, duration=5)
            cpu: dict[str, list[float]] = {server.name: [] for server in servers}
            added: dict[str, list[float]] = {server.name: [] for server in servers[1:]}
            for round_index in range(rounds):
                shift = round_index % len(servers)
                measured = {}
                for server in servers[shift:] + servers[:shift]:
                    before = server.cpu_seconds()
                    run = load(server.port, "/predict", body, clients=2, threads=2, requests=10**6,
                               duration=duration)
                    measured[server.name] = cpu_per_request(server, before, server.cpu_seconds(),
                                                            run["requests"]).get("cpu_us", float("nan"))
                for name, value in measured.items():
                    cpu[name].append(value)
                for name in added:
                    added[name].append(100 * (measured[name] / measured[off.name] - 1))
                print(f"round {round_index + 1} {payload_name}: " + ", ".join(f"{n} {v:.0f} µs"
                                                                             for n, v in measured.items()), flush=True)
            cells = []
            for name, values in added.items():
                spread = sorted(values)
                cells.append(f"{statistics.median(cpu[name]):.0f}, {statistics.median(values):+.1f}% "
                             f"({spread[0]:+.1f}% to {spread[-1]:+.1f}%)")
            lines.append(f"| {payload_name} | {statistics.median(cpu[off.name]):.0f} | " + " | ".join(cells) + " |")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--values", type=int, default=1_000_000, help="Length of the stationary streams.")
    parser.add_argument("--repeats", type=int, default=50, help="Shifted streams per shift.")
    parser.add_argument("--side-python", default=os.environ.get("DRIFTLOOP_BENCH_SIDE_PYTHON"),
                        help="A Python with river installed ('' to skip river).")
    parser.add_argument("--skip-service", action="store_true", help="Do not measure the service's CPU.")
    parser.add_argument("--tracking-uri", default=None, help="Store with wine-quality@champion (default: train one).")
    parser.add_argument("--rounds", type=int, default=6, help="Alternating rounds of the CPU measurement.")
    parser.add_argument("--duration", type=float, default=5.0, help="Seconds of each round.")
    parser.add_argument("--groups", type=int, default=2_000, help="Group commits per round of the writer's cost.")
    args = parser.parse_args(argv)
    side = args.side_python if args.side_python and Path(args.side_python).exists() else None
    work = Path(tempfile.mkdtemp(prefix="driftloop-bench-stream-"))
    try:
        lines = [f"Machine: {machine()}", ""]
        lines += detector_tables(side, work, args.values, args.repeats)
        lines += writer_cost(work, args.rounds, args.groups)
        if not args.skip_service:
            lines += service_cost(work, args.tracking_uri, args.rounds, args.duration)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Load test of the prediction service under hostile clients: valid traffic with and without them, paired.

One ``driftloop serve --log`` process serves ``wine-quality@champion``. Valid clients drive ``POST /predict``
(single rows, ``dataframe_split``) with ``bench/serve.py``'s closed-loop load generator (``--clients`` processes x
``--threads`` keep-alive connections). Hostile clients, one process per request class of issue 11, each on one
keep-alive connection, send the same hostile request over and over, at most ``--hostile-rate`` per second
(0: back to back, a closed loop):

* 20,000 duplicated column names (the wine columns over and over, 311 KB of JSON),
* arrays nested 100,000 deep (200 KB),
* a 400-digit integer in a cell,
* a ``text/plain`` POST to ``/feedback`` (what a web page can make a browser send),
* a label of 2**63 (does not fit the log's 64-bit integers),
* a string label for the regressor,
* a 100,000-character prediction id.

``--rounds`` pairs of runs alternate (clean then hostile, then hostile then clean, ...), each ``--duration``
seconds, so that the machine's drift cancels out in the ratio of each pair. Reported: the valid clients' throughput
with hostile clients as a share of the clean runs' (median of the pairs and its range), errors among valid requests
(must be none), the hostile answers by status (must be 4xx, no 5xx) with their slowest, and ``GET /health`` latency
polled every 20 ms (a stalled event loop shows there first).

    python bench/serve_hostile.py                                   # trains the wine model in a temporary store
    python bench/serve_hostile.py --tracking-uri sqlite:////path/mlflow.db --hostile-rate 0
    python bench/serve_hostile.py --src /path/to/other/checkout/src # serve another version (before/after)
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import serve as base  # noqa: E402  (bench/serve.py: the load generator, the server wrapper, training)

JSON = "application/json"


def hostile_requests() -> dict[str, tuple[str, str, bytes]]:
    """Each hostile class: (path, content type, body)."""
    columns = [base.COLUMNS[i % len(base.COLUMNS)] for i in range(20_000)]
    record = {name: 1.0 for name in base.COLUMNS}
    big_integer = json.dumps({"dataframe_records": [record]}).replace("1.0}", "9" * 400 + "}").encode()
    return {
        "20,000 duplicated columns": ("/predict", JSON, json.dumps(
            {"dataframe_split": {"columns": columns, "data": []}}).encode()),
        "nested 100,000 deep": ("/predict", JSON, b"[" * 100_000 + b"]" * 100_000),
        "400-digit integer": ("/predict", JSON, big_integer),
        "text/plain to /feedback": ("/feedback", "text/plain", b'[{"id": "x", "label": 5}]'),
        "label 2**63": ("/feedback", JSON, json.dumps([{"id": "x", "label": 2**63}]).encode()),
        "string label, regressor": ("/feedback", JSON, b'[{"id": "x", "label": "good"}]'),
        "100,000-character id": ("/feedback", JSON, json.dumps([{"id": "x" * 100_000, "label": 5}]).encode()),
    }


def _hostile_process(args: tuple[int, str, str, bytes, float, float]) -> tuple[dict[int, int], float, int]:
    """Send one hostile request again and again until the deadline: (statuses, slowest seconds, failures)."""
    port, path, content_type, body, rate, duration = args
    statuses: Counter[int] = Counter()
    slowest, failures = 0.0, 0
    headers = {"Content-Type": content_type, "Content-Length": str(len(body))}
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    started = time.perf_counter()
    sent = 0
    while (now := time.perf_counter()) < started + duration:
        if rate > 0 and sent >= rate * (now - started):
            time.sleep(min(0.01, 1 / rate))
            continue
        sent += 1
        try:
            connection.request("POST", path, body, headers)
            response = connection.getresponse()
            response.read()
            statuses[response.status] += 1
        except (OSError, http.client.HTTPException):
            failures += 1
            connection.close()
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            continue
        slowest = max(slowest, time.perf_counter() - now)
    connection.close()
    return dict(statuses), slowest, failures


class HealthProbe(threading.Thread):
    """GET /health every 20 ms; keeps the latencies."""

    def __init__(self, port: int) -> None:
        super().__init__(daemon=True)
        self.port, self.latencies, self.stop = port, [], threading.Event()

    def run(self) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        while not self.stop.wait(0.02):
            started = time.perf_counter()
            connection.request("GET", "/health")
            connection.getresponse().read()
            self.latencies.append(time.perf_counter() - started)
        connection.close()

    def summary(self) -> tuple[float, float]:
        ordered = sorted(self.latencies) or [float("nan")]
        return ordered[int(0.99 * (len(ordered) - 1))] * 1e3, ordered[-1] * 1e3


def one_run(port: int, body: bytes, hostile: dict[str, tuple[str, str, bytes]] | None, args: argparse.Namespace
            ) -> dict:
    """Valid load for ``args.duration`` seconds, with the hostile clients alongside when ``hostile`` is given."""
    probe = HealthProbe(port)
    probe.start()
    pool = None
    if hostile:
        pool = multiprocessing.get_context("fork").Pool(len(hostile))
        pending = pool.map_async(_hostile_process, [(port, path, ctype, payload, args.hostile_rate, args.duration)
                                                    for path, ctype, payload in hostile.values()])
    valid = base.load(port, "/predict", body, clients=args.clients, threads=args.threads, requests=10**9,
                      duration=args.duration)
    probe.stop.set()
    probe.join()
    valid["health_p99_ms"], valid["health_max_ms"] = probe.summary()
    if pool is not None:
        valid["hostile"] = dict(zip(hostile, pending.get()))
        pool.close()
        pool.join()
    return valid


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracking-uri", default=None, help="Store with wine-quality@champion (default: train one).")
    parser.add_argument("--src", default=None, help="Serve the driftloop package of this folder (default: this one).")
    parser.add_argument("--rounds", type=int, default=4, help="Pairs of clean and hostile runs.")
    parser.add_argument("--duration", type=float, default=5.0, help="Seconds of each run.")
    parser.add_argument("--clients", type=int, default=2, help="Valid client processes.")
    parser.add_argument("--threads", type=int, default=4, help="Keep-alive connections per valid client process.")
    parser.add_argument("--hostile-rate", type=float, default=10.0,
                        help="Requests per second of each hostile client (0: back to back).")
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="driftloop-bench-hostile-"))
    try:
        uri = args.tracking_uri or base.train(work)
        env = dict(os.environ, MLFLOW_TRACKING_URI=uri, MLFLOW_DISABLE_TELEMETRY="true")
        if args.src:
            env["PYTHONPATH"] = str(Path(args.src).resolve())
        port = base.free_port()
        server = base.Server("driftloop serve --log", [sys.executable, "-m", "driftloop", "serve", "-m",
                             "wine-quality@champion", "--port", str(port), "--log", str(work / "log.db")],
                             port, "/predict", "/health", env, work)
        body = base.payloads()["1 row"]
        hostile = hostile_requests()
        pairs = []
        with server:
            base.load(port, "/predict", body, clients=1, threads=2, requests=500, duration=3)  # warm-up
            for index in range(args.rounds):
                runs = {}
                for kind in (("clean", "hostile") if index % 2 == 0 else ("hostile", "clean")):
                    runs[kind] = one_run(port, body, hostile if kind == "hostile" else None, args)
                    print(f"round {index + 1}/{args.rounds} {kind:7s}: {runs[kind].get('rps', 0):.0f} valid req/s, "
                          f"valid errors {runs[kind]['errors'][:2]}, /health p99 {runs[kind]['health_p99_ms']:.1f}"
                          f" ms max {runs[kind]['health_max_ms']:.1f} ms", flush=True)
                pairs.append(runs)
        ratios = [pair["hostile"]["rps"] / pair["clean"]["rps"] for pair in pairs]
        valid_errors = [error for pair in pairs for run in pair.values() for error in run["errors"]]
        lines = [
            f"Machine: {base.machine()}",
            "Versions: " + ", ".join(f"{k} {v}" for k, v in base.versions().items()),
            f"Command: `python bench/serve_hostile.py {' '.join(argv if argv is not None else sys.argv[1:])}`",
            f"Valid load: closed loop, {args.clients} processes x {args.threads} connections, single-row /predict; "
            f"hostile: one connection per class, {args.hostile_rate:g} req/s each (0 = back to back); "
            f"{args.rounds} alternating pairs of {args.duration:g} s runs.",
            "",
            f"- valid throughput with hostile clients: {100 * statistics.median(ratios):.1f}% of the clean runs' "
            f"(median of {len(ratios)} pairs; {100 * min(ratios):.1f}% to {100 * max(ratios):.1f}%); clean "
            f"{statistics.median(p['clean']['rps'] for p in pairs):.0f} req/s, with hostile clients "
            f"{statistics.median(p['hostile']['rps'] for p in pairs):.0f} req/s",
            f"- valid p99 latency: clean {statistics.median(p['clean']['p99_ms'] for p in pairs):.1f} ms, with "
            f"hostile clients {statistics.median(p['hostile']['p99_ms'] for p in pairs):.1f} ms",
            f"- errors among valid requests: {len(valid_errors)} {valid_errors[:3]}",
            f"- GET /health every 20 ms: p99 {statistics.median(p['clean']['health_p99_ms'] for p in pairs):.1f} ms "
            f"clean, {statistics.median(p['hostile']['health_p99_ms'] for p in pairs):.1f} ms with hostile clients; "
            f"slowest {max(p['hostile']['health_max_ms'] for p in pairs):.1f} ms",
            "",
            "| hostile class | body bytes | requests | answers | slowest ms |",
            "| --- | ---: | ---: | --- | ---: |",
        ]
        for name in hostile:
            statuses: Counter[int] = Counter()
            slowest, failures = 0.0, 0
            for pair in pairs:
                got, worst, failed = pair["hostile"]["hostile"][name]
                statuses.update(got)
                slowest, failures = max(slowest, worst), failures + failed
            answers = ", ".join(f"{status} x{count}" for status, count in sorted(statuses.items()))
            if failures:
                answers += f", {failures} connection failures"
            lines.append(f"| {name} | {len(hostile[name][2])} | {sum(statuses.values())} | {answers} | "
                         f"{slowest * 1e3:.1f} |")
        print("\n" + "\n".join(lines))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

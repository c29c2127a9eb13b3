"""Benchmark of the multivariate detectors against NannyML's reconstruction error, side by side in one run.

Seeded synthetic data, ``--rows`` rows (default 1,000,000) for the reference and for the window: 20 numeric columns
(normal, lognormal, uniform, Poisson; columns 0-1, 4-5, 8-9 correlated in pairs) and 5 categorical columns (2 to 35
levels), written to Parquet. In the window the correlation of columns 0 and 1 flips (+0.7 to -0.7) while every
marginal stays the same. Measured, in the same process and run (the detectors' threads as in production, 1):

* fit: ``MultivariateDrift(detectors=("pca", "mmd", "classifier")).fit(reference)`` (profile time, once);
* per window, medians of ``--repeats`` (wall time, and the CPU time of the process, which a loaded machine inflates
  less): encoding the window (standardised numbers, frequency-encoded categories),
  then each detector's compare on the encoded rows; the PCA figure compared with the target is encoding + PCA;
* NannyML's ``DataReconstructionDriftCalculator`` (``bench/multivariate_nannyml.py``, run by ``--side-python`` as
  a fresh process on the same Parquet files, the window as one chunk): its fit and its calculate, and its
  reconstruction error, which must equal driftloop's (relative error <= 1e-9).

    python bench/multivariate.py --rows 1000000 --repeats 3 --side-python /path/to/side/bin/python
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table
from threadpoolctl import threadpool_limits

from driftloop.multivariate import MultivariateDrift

LEVELS = (2, 3, 5, 12, 35)
TARGETS = {"pca": 1.0, "classifier": 5.0, "mmd": 2.0}  # seconds per window, issue 15
SIDE_SCRIPT = Path(__file__).with_name("multivariate_nannyml.py")
CPU_SECONDS: list[float] = []  # the CPU time of the process during each timed call, in call order


def make_frame(n: int, seed: int, flip: bool) -> pd.DataFrame:
    """20 numeric and 5 categorical columns; with ``flip`` the correlation of num_0 and num_1 changes sign."""
    rng = np.random.default_rng(seed)
    columns: dict[str, Any] = {}
    for j in range(20):
        kind = j % 4
        if kind == 0:
            x = rng.normal(10.0 * j, 1.0 + j, size=n)
        elif kind == 1:
            base = (columns[f"num_{j - 1}"] - 10.0 * (j - 1)) / j  # standardised partner column
            rho = -0.7 if flip and j == 1 else 0.7
            x = rho * base + np.sqrt(1 - rho * rho) * rng.normal(size=n)
        elif kind == 2:
            x = rng.uniform(-1.0, 1.0, size=n)
        else:
            x = rng.poisson(4.0, size=n).astype(np.float64)
        columns[f"num_{j}"] = x
    for j, levels in enumerate(LEVELS):
        weights = np.arange(1, levels + 1, dtype=np.float64)
        names = np.array([f"level_{k}" for k in range(levels)])
        columns[f"cat_{j}"] = names[rng.choice(levels, size=n, p=weights / weights.sum())]
    return pd.DataFrame(columns)


def timed(function: Any) -> tuple[float, Any]:
    start, start_cpu = time.perf_counter(), time.process_time()
    value = function()
    CPU_SECONDS.append(time.process_time() - start_cpu)
    return time.perf_counter() - start, value


def run_nannyml(side_python: str, reference: Path, window: Path) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env["NML_DISABLE_USAGE_LOGGING"] = "1"
    command = [side_python, str(SIDE_SCRIPT), "--reference", str(reference), "--window", str(window),
               "--categorical", *[f"cat_{j}" for j in range(len(LEVELS))]]
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if not lines:
        return {"error": " | ".join(done.stderr.strip().splitlines()[-3:])}
    return json.loads(lines[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--side-python", default=os.environ.get("DRIFTLOOP_BENCH_SIDE_PYTHON"),
                        help="python of a side environment with NannyML (default: $DRIFTLOOP_BENCH_SIDE_PYTHON)")
    args = parser.parse_args()
    console = Console()
    console.print(f"python {platform.python_version()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}; "
                  f"{args.rows:,} rows x 25 columns, reference and window")
    reference, window = make_frame(args.rows, 0, False), make_frame(args.rows, 1, True)
    with tempfile.TemporaryDirectory(prefix="driftloop-bench-multivariate-") as tmp:
        ref_path, win_path = Path(tmp) / "reference.parquet", Path(tmp) / "window.parquet"
        reference.to_parquet(ref_path)
        window.to_parquet(win_path)
        fit_s, detectors = timed(lambda: MultivariateDrift(detectors=("pca", "mmd", "classifier")).fit(reference))
        runs: dict[str, list[float]] = {"encode": [], "pca": [], "mmd": [], "classifier": []}
        cpu: dict[str, list[float]] = {name: [] for name in runs}
        results: dict[str, Any] = {}
        for _ in range(args.repeats):
            with threadpool_limits(detectors.n_threads):
                seconds, encoded = timed(lambda: detectors.encoder_.transform(window))
                runs["encode"].append(seconds)
                cpu["encode"].append(CPU_SECONDS[-1])
                for name, detector in detectors.detectors_.items():
                    seconds, results[name] = timed(lambda d=detector: d.compare(encoded))
                    runs[name].append(seconds)
                    cpu[name].append(CPU_SECONDS[-1])
        nannyml = run_nannyml(args.side_python, ref_path, win_path) if args.side_python else {"error": "no side env"}
    median = {name: statistics.median(values) for name, values in runs.items()}
    median_cpu = {name: statistics.median(values) for name, values in cpu.items()}
    table = Table(title=f"Multivariate detectors, {args.rows:,} x 25 (median of {args.repeats}; fit {fit_s:.2f} s)")
    for column in ("detector", "seconds per window", "CPU seconds", "target", "p-value on the flipped window",
                   "NannyML"):
        table.add_column(column)
    ours_error = results["pca"].statistics["reconstruction_error"]
    for name in ("pca", "mmd", "classifier"):
        seconds = median["encode"] + median[name]
        extra = ""
        if name == "pca" and "error" not in nannyml:
            cpu_seconds = median_cpu["encode"] + median_cpu[name]
            extra = (f"calculate {nannyml['calculate_s']:.2f} s, CPU {nannyml['calculate_cpu_s']:.2f} s (fit "
                     f"{nannyml['fit_s']:.2f} s): {nannyml['calculate_s'] / seconds:.1f}x slower, "
                     f"{nannyml['calculate_cpu_s'] / cpu_seconds:.1f}x in CPU")
        elif name == "pca":
            extra = nannyml["error"]
        table.add_row(name, f"{seconds:.2f} (encode {median['encode']:.2f} + {median[name]:.2f})",
                      f"{median_cpu['encode'] + median_cpu[name]:.2f}",
                      f"<= {TARGETS[name]:.0f} s {'met' if seconds <= TARGETS[name] else 'MISSED'}",
                      f"{results[name].p_value:.3g}", extra)
    console.print(table)
    if "error" not in nannyml:
        theirs = nannyml["reconstruction_error"]
        relative = abs(ours_error - theirs) / theirs
        console.print(f"reconstruction error: driftloop {ours_error:.12g}, NannyML {theirs:.12g}"
                      f" (relative difference {relative:.1e}, NannyML {nannyml['version']})")
        if relative > 1e-9:
            sys.exit("driftloop's reconstruction error differs from NannyML's")
    console.print(f"domain classifier: AUC {results['classifier'].statistics['auc']:.4f}, columns carrying the "
                  f"drift {', '.join(results['classifier'].columns)}")


if __name__ == "__main__":
    main()

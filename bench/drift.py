"""Benchmark of the drift engine: driftloop's ReferenceProfile.compare against the scipy per-column loop.

Seeded synthetic data: 20 numeric columns (normal, lognormal, uniform, integer-valued) and 5 categorical columns
(2, 3, 5, 12 and 35 levels); the reference and the window are written to Parquet. The profile is fitted beforehand
(as at training time). Measured, in the same process and run:

* driftloop compute: ``profile.compare(table)`` on the window already loaded as an Arrow table;
* driftloop path -> table: ``profile.compare("window.parquet")`` (read + compute);
* the scipy loop: ks_2samp, wasserstein_distance (divided by the reference's std), PSI and Jensen–Shannon on the
  profile's bins for numeric columns; chi2_contingency, PSI and Jensen–Shannon for categorical columns;
* Evidently (DataDriftPreset) and NannyML (UnivariateDriftCalculator), when a side environment has them
  (``--side-python``; see BENCHMARKS.md): ``bench/drift_baselines.py`` run by that python as a fresh process per
  repeat on the same Parquet files, medians of compute, wall time and peak RSS;
* peak memory of compare beyond the loaded window, twice: numpy and Python allocations (tracemalloc, separate run),
  and everything the process holds, Arrow's buffers included (resident set sampled every 0.5 ms during the first
  full-size compare of a fresh process that loaded the saved profile and the window, after a 1,000-row warm-up);

and checks that driftloop's statistics equal scipy's (relative error <= 1e-9).

    python bench/drift.py --sizes 100000 1000000 5000000 --repeats 3
    python bench/drift.py --sizes 1000000 --side-python /path/to/side/bin/python --baseline-repeats 3
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import scipy
from rich.console import Console
from rich.table import Table
from scipy import stats as ss
from scipy.spatial.distance import jensenshannon

from driftloop.profile import ReferenceProfile
from driftloop.profile.bins import bin_counts

LEVELS = (2, 3, 5, 12, 35)
TOLERANCE = 1e-9


def make_table(n: int, seed: int, drift: bool) -> pa.Table:
    """20 numeric and 5 categorical columns; with ``drift``, four columns move a little."""
    rng = np.random.default_rng(seed)
    columns: dict[str, Any] = {}
    for j in range(20):
        kind = j % 4
        shift = 0.05 if drift and j in (0, 5) else 0.0
        if kind == 0:
            x = rng.normal(10.0 * j + shift * (1 + j), 1.0 + j, size=n)
        elif kind == 1:
            x = rng.lognormal(shift, 0.5, size=n)
        elif kind == 2:
            x = rng.uniform(-1.0, 1.0, size=n)
        else:
            x = rng.poisson(4.0, size=n).astype(np.float64)
        columns[f"num_{j}"] = x
    for j, levels in enumerate(LEVELS):
        weights = np.arange(1, levels + 1, dtype=np.float64)
        if drift and j == 4:
            weights[0] *= 1.2
        weights /= weights.sum()
        codes = rng.choice(levels, size=n, p=weights)
        names = np.array([f"level_{k}" for k in range(levels)])
        columns[f"cat_{j}"] = pa.array(names[codes], type=pa.string())
    return pa.table(columns)


def psi_reference(p: np.ndarray, q: np.ndarray, eps: float = 1e-4) -> float:
    p = np.maximum(p / p.sum(), eps)
    q = np.maximum(q / q.sum(), eps)
    return float(np.sum((q - p) * np.log(q / p)))


def scipy_loop(reference: pd.DataFrame, window: pd.DataFrame, profile: ReferenceProfile) -> dict[tuple[str, str], tuple[float, float]]:
    """The per-column loop a user writes with scipy; bins and category tables from the profile (same edges)."""
    out: dict[tuple[str, str], tuple[float, float]] = {}
    for name, column in profile.columns_.items():
        ref, win = reference[name], window[name]
        if column.kind == "numeric":
            r, w = ref.to_numpy(), win.to_numpy()
            ks = ss.ks_2samp(r, w)
            out[(name, "ks")] = (float(ks.statistic), float(ks.pvalue))
            out[(name, "wasserstein")] = (float(ss.wasserstein_distance(r, w) / np.std(r)), np.nan)
            p, q = bin_counts(np.sort(r), column.edges), bin_counts(np.sort(w), column.edges)
            out[(name, "psi")] = (psi_reference(p, q), np.nan)
            out[(name, "js")] = (float(jensenshannon(p / p.sum(), q / q.sum(), base=2)), np.nan)
        else:
            p = ref.value_counts().reindex(column.categories, fill_value=0).to_numpy()
            wc = win.value_counts()
            q = np.append(wc.reindex(column.categories, fill_value=0).to_numpy(), wc.sum() - wc.reindex(column.categories, fill_value=0).sum())
            p = np.append(p, 0)
            keep = (p + q) > 0
            chi = ss.chi2_contingency(np.vstack([p[keep], q[keep]]))  # scipy default: Yates when dof == 1
            out[(name, "chi2")] = (float(chi.statistic), float(chi.pvalue))
            out[(name, "psi")] = (psi_reference(p, q), np.nan)
            out[(name, "js")] = (float(jensenshannon(p / p.sum(), q / q.sum(), base=2)), np.nan)
    return out


def timed(function: Any, repeats: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeats):
        gc.collect()
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def max_relative_error(result: pd.DataFrame, oracle: dict[tuple[str, str], tuple[float, float]]) -> float:
    worst = 0.0
    for row in result.itertuples(index=False):
        value, p_value = oracle[(row.column, row.statistic)]
        for a, b in ((row.value, value), (row.p_value, p_value)):
            if np.isnan(a) and np.isnan(b):
                continue
            worst = max(worst, abs(a - b) / max(abs(a), abs(b), 1e-300))
    return worst


BASELINES = ("evidently", "nannyml")
BASELINE_SCRIPT = Path(__file__).with_name("drift_baselines.py")


def run_baseline_once(side_python: str, tool: str, ref_path: Path, win_path: Path) -> dict[str, Any]:
    """One fresh ``drift_baselines.py`` process in the side environment; its JSON line (``error`` on failure).

    PYTHONPATH and PYTHONHOME are not passed on (the side environment must not see this one's packages), and the
    tools' telemetry is off.
    """
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "PYTHONHOME")}
    env.update(NML_DISABLE_USAGE_LOGGING="1", DO_NOT_TRACK="1")
    command = [side_python, str(BASELINE_SCRIPT), "--tool", tool, "--reference", str(ref_path), "--window",
               str(win_path)]
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if not lines:
        tail = " | ".join(done.stderr.strip().splitlines()[-3:])
        return {"tool": tool, "error": f"failed (exit {done.returncode}): {tail}"}
    return json.loads(lines[-1])


def run_baseline(side_python: str | None, tool: str, ref_path: Path, win_path: Path, repeats: int,
                 driftloop_compute: float) -> dict[str, Any]:
    """Medians over ``repeats`` fresh processes of one tool, and driftloop's compute speedup over it."""
    if side_python is None:
        return {"tool": tool, "error": "not installed"}
    runs = []
    for _ in range(repeats):
        run = run_baseline_once(side_python, tool, ref_path, win_path)
        if "error" in run:
            return run
        runs.append(run)
    summary: dict[str, Any] = {"tool": tool, "version": runs[0]["version"], "pandas": runs[0]["pandas"],
                               "repeats": repeats}
    for key in ("compute_s", "wall_s", "peak_rss_mb", "read_s", "import_s"):
        summary[key] = statistics.median(run[key] for run in runs)
    summary["speedup_compute"] = summary["compute_s"] / driftloop_compute
    summary["runs"] = runs
    return summary


def baseline_cell(baseline: dict[str, Any]) -> str:
    """A tool's median compute for the main table, or why it is missing."""
    if "error" in baseline:
        return "not installed" if baseline["error"].startswith("not installed") else "failed"
    return f"{baseline['compute_s']:.1f}"


def baselines_table(rows: list[dict[str, Any]], repeats: int) -> Table:
    """Evidently and NannyML next to driftloop: compute, wall, peak RSS and driftloop's speedup, per size."""
    table = Table(title=f"Against Evidently and NannyML (side environment, fresh process each, median of {repeats})")
    for header in ("rows", "tool", "version", "compute (s)", "wall (s)", "peak RSS (MB)",
                   "driftloop compute (s)", "driftloop speedup"):
        table.add_column(header, justify="right")
    for r in rows:
        for tool in BASELINES:
            b = r["baselines"][tool]
            if "error" in b:
                table.add_row(f"{r['rows']:,}", tool, "", b["error"], "", "", f"{r['compute_s']:.3f}", "")
                continue
            table.add_row(f"{r['rows']:,}", tool, b["version"], f"{b['compute_s']:.2f}", f"{b['wall_s']:.2f}",
                          f"{b['peak_rss_mb']:.0f}", f"{r['compute_s']:.3f}", f"{b['speedup_compute']:.0f}x")
    return table


def peak_memory(profile: ReferenceProfile, table: pa.Table) -> int:
    gc.collect()
    tracemalloc.start()
    profile.compare(table)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


def resident_bytes() -> int:
    """The process's resident set size now (Linux ``/proc/self/statm``)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class ResidentPeak:
    """Largest resident set size seen while the ``with`` block runs, sampled every ``interval`` seconds by a
    thread (the compiled kernels and numpy's sort release the GIL, so it keeps sampling)."""

    def __init__(self, interval: float = 0.0005) -> None:
        self.interval, self.peak, self._stop = interval, 0, threading.Event()

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, resident_bytes())
            time.sleep(self.interval)

    def __enter__(self) -> ResidentPeak:
        self.peak = resident_bytes()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, resident_bytes())


def resident_probe(profile_path: str, window_path: str) -> None:
    """Run in a fresh process (``--resident-probe``): load the profile and the window, warm up on 1,000 rows (JIT
    cache, thread pool), then print as JSON the resident memory before and at the peak of one full compare."""
    profile = ReferenceProfile.load(profile_path)
    window = pq.read_table(window_path)
    profile.compare(window.slice(0, 1000))
    gc.collect()
    before = resident_bytes()
    start = time.perf_counter()
    with ResidentPeak() as peak:
        profile.compare(window)
    print(json.dumps({"window_bytes": window.nbytes, "before_bytes": before, "peak_bytes": peak.peak,
                      "first_compare_s": time.perf_counter() - start}))


def fresh_process_peak(profile_path: Path, window_path: Path) -> dict[str, float]:
    """Resident peak of a full compare in a fresh process, beyond the loaded window (see :func:`resident_probe`)."""
    done = subprocess.run([sys.executable, __file__, "--resident-probe", str(profile_path), str(window_path)],
                          capture_output=True, text=True, check=True)
    probe = json.loads(done.stdout.strip().splitlines()[-1])
    extra = max(probe["peak_bytes"] - probe["before_bytes"], 0)
    return {"rss_extra_mb": extra / 1e6, "rss_ratio": (probe["window_bytes"] + extra) / probe["window_bytes"],
            "first_compare_s": probe["first_compare_s"]}


def machine() -> dict[str, str]:
    try:
        model = next(line.split(":", 1)[1].strip() for line in subprocess.run(
            ["lscpu"], capture_output=True, text=True, check=False).stdout.splitlines() if line.startswith("Model name"))
    except StopIteration:
        model = platform.processor() or "unknown"
    return {"cpu": model, "cores": str(os.cpu_count()), "python": platform.python_version(), "numpy": np.__version__,
            "scipy": scipy.__version__, "pandas": pd.__version__, "pyarrow": pa.__version__}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description="Benchmark driftloop's drift engine against scipy, Evidently and NannyML.")
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--scipy-repeats", type=int, default=1, help="repeats of the (slow) scipy loop")
    parser.add_argument("--n-jobs", type=int, default=None)
    parser.add_argument("--workdir", default=None, help="folder for the Parquet files (default: a temporary one)")
    parser.add_argument("--json", default=None, help="also write the results as JSON to this file")
    parser.add_argument("--side-python", default=os.environ.get("DRIFTLOOP_BENCH_SIDE_PYTHON"),
                        help="python of a side environment with Evidently and NannyML (default: "
                             "$DRIFTLOOP_BENCH_SIDE_PYTHON; without it they are reported as not installed)")
    parser.add_argument("--baseline-repeats", type=int, default=1,
                        help="fresh processes per baseline tool and size (medians are reported)")
    parser.add_argument("--resident-probe", nargs=2, metavar=("PROFILE", "WINDOW"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.resident_probe:
        resident_probe(*args.resident_probe)
        return
    if args.side_python and not os.access(args.side_python, os.X_OK):
        parser.error(f"--side-python {args.side_python!r} is not an executable file")
    if args.baseline_repeats < 1:
        parser.error("--baseline-repeats must be at least 1")
    console = Console(width=170)
    info = machine()
    load_start = os.getloadavg()
    console.print(f"[bold]machine[/]: {info}, load average {load_start}")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.workdir or tmp)
        folder.mkdir(parents=True, exist_ok=True)
        for n in args.sizes:
            ref_path, win_path = folder / f"reference_{n}.parquet", folder / f"window_{n}.parquet"
            pq.write_table(make_table(n, 1, drift=False), ref_path)
            pq.write_table(make_table(n, 2, drift=True), win_path)
            reference_table = pq.read_table(ref_path)
            start = time.perf_counter()
            profile = ReferenceProfile(max_exact_size=None, n_jobs=args.n_jobs).fit(reference_table)
            fit_seconds = time.perf_counter() - start
            window_table = pq.read_table(win_path)
            profile.compare(window_table)  # warm-up (imports, thread pool)
            compute, result = timed(lambda: profile.compare(window_table), args.repeats)
            from_path, _ = timed(lambda: profile.compare(win_path), args.repeats)
            reference_frame, window_frame = reference_table.to_pandas(), window_table.to_pandas()
            scipy_seconds, oracle = timed(lambda: scipy_loop(reference_frame, window_frame, profile),
                                          args.scipy_repeats)
            error = max_relative_error(result, oracle)
            del reference_frame, window_frame
            baselines = {tool: run_baseline(args.side_python, tool, ref_path, win_path, args.baseline_repeats,
                                            compute) for tool in BASELINES}
            peak = peak_memory(profile, window_table)
            profile_path = profile.save(folder / f"profile_{n}")
            resident = fresh_process_peak(profile_path, win_path)
            rows.append({
                "rows": n, "fit_s": fit_seconds, "compute_s": compute, "path_to_table_s": from_path,
                "scipy_s": scipy_seconds, "speedup_vs_scipy": scipy_seconds / compute, "baselines": baselines,
                "window_mb": window_table.nbytes / 1e6, "peak_extra_mb": peak / 1e6,
                "peak_ratio": (window_table.nbytes + peak) / window_table.nbytes, **resident,
                "max_rel_err_vs_scipy": error,
                "flagged_columns": sorted(set(result.loc[result.drifted.fillna(False).astype(bool), "column"])),
            })
            console.print(f"{n:,} rows done: compute {compute:.3f} s, scipy {scipy_seconds:.2f} s, "
                          f"max rel err {error:.1e}, Evidently {baseline_cell(baselines['evidently'])}, "
                          f"NannyML {baseline_cell(baselines['nannyml'])}")
    table = Table(title=f"driftloop drift engine, 20 numeric + 5 categorical columns, median of {args.repeats}")
    for header in ("rows", "fit (s)", "compute (s)", "path->table (s)", "scipy loop (s)", "speedup",
                   "Evidently (s)", "NannyML (s)", "window MB", "peak/window (tracemalloc)",
                   "peak/window (RSS, fresh process)", "max rel err"):
        table.add_column(header, justify="right")
    for r in rows:
        table.add_row(f"{r['rows']:,}", f"{r['fit_s']:.2f}", f"{r['compute_s']:.3f}", f"{r['path_to_table_s']:.3f}",
                      f"{r['scipy_s']:.2f}", f"{r['speedup_vs_scipy']:.0f}x",
                      baseline_cell(r["baselines"]["evidently"]), baseline_cell(r["baselines"]["nannyml"]),
                      f"{r['window_mb']:.0f}", f"{r['peak_ratio']:.2f}", f"{r['rss_ratio']:.2f}",
                      f"{r['max_rel_err_vs_scipy']:.1e}")
    console.print(table)
    console.print(baselines_table(rows, args.baseline_repeats))
    ok = all(r["max_rel_err_vs_scipy"] <= TOLERANCE for r in rows)
    console.print(f"statistics equal scipy's within {TOLERANCE:g}: {'yes' if ok else 'NO'}")
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": info, "load_average_start": load_start,
                                               "load_average_end": os.getloadavg(), "side_python": args.side_python,
                                               "baseline_repeats": args.baseline_repeats, "results": rows}, indent=1))
    if not ok:
        raise SystemExit(1)


if __name__ == "__main__":
    main()

"""Speed of estimated performance per window: CBPE on a binary classifier's scores and DLE on 20 features.

    python bench/estimate.py [--rows 1000000] [--side-python /path/to/side/bin/python] [--repeats 3] [--only cbpe]

* CBPE: a reference of ``--rows`` rows (scores of an overconfident model, labels drawn from the true
  probabilities) and a window of ``--rows`` rows. driftloop fits :class:`~driftloop.estimate.ConfidenceEstimator`
  once, then estimates the window — accuracy, precision, recall, F1 and ROC AUC with their bands — ``--repeats``
  times; the best and median times are printed. With ``--side-python``, NannyML's CBPE (the same five metrics, the
  window as one chunk) is timed the same way on the same rows in the side environment, in the same run.
* DLE: ``--rows`` reference rows and a window of ``--rows`` rows of 20 features; driftloop fits
  :class:`~driftloop.estimate.LossEstimator` once (its nuisance models learn from ``max_rows`` = 100,000 rows) and
  estimates MAE and RMSE with their bands.

Targets (issue 14): CBPE <= 0.5 s and DLE <= 2 s per 1M-row window. The machine's load average is printed: on a
shared machine, wall times measure the other processes too; the CPU time of this process (all its threads) is
printed beside them, and the tools are compared in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from driftloop.estimate import ConfidenceEstimator, LossEstimator  # noqa: E402

SIDE_SCRIPT = Path(__file__).resolve().parent / "estimate_nannyml.py"


def classifier(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Scores (n x 2) of an overconfident logistic model and labels drawn from the true probabilities."""
    logit = rng.normal(size=n) * 1.5 + 0.3
    truth = 1 / (1 + np.exp(-logit))
    scores = 1 / (1 + np.exp(-1.6 * logit))
    return np.column_stack([1 - scores, scores]), (rng.uniform(size=n) < truth).astype(np.int64)


def regressor(rng: np.random.Generator, n: int, p: int = 20) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    x = rng.normal(size=(n, p))
    predicted = x[:, 0] + 0.5 * x[:, 1]
    noise = (0.3 + np.abs(x[:, 2]) + 0.5 * (x[:, 3] > 1)) * rng.normal(size=n)
    return {f"x{i}": x[:, i] for i in range(p)}, predicted, predicted + noise


def timed(call, repeats: int) -> tuple[float, float, float, object]:
    """Best and median wall time, the CPU time (all threads) of the best run, and the last result."""
    times, cpu, result = [], [], None
    for _ in range(repeats):
        started, started_cpu = time.perf_counter(), time.process_time()
        result = call()
        times.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
    return min(times), statistics.median(times), cpu[times.index(min(times))], result


def nannyml_cbpe(side_python: str, reference: tuple, window: tuple, repeats: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="driftloop-bench-estimate-") as tmp:
        paths = []
        for name, (scores, labels) in (("reference", reference), ("window", window)):
            path = Path(tmp) / f"{name}.parquet"
            pd.DataFrame({"y_pred_proba": scores[:, 1], "y_pred": (scores[:, 1] >= 0.5).astype(np.int64),
                          "y_true": labels}).to_parquet(path)
            paths.append(path)
        done = subprocess.run([side_python, str(SIDE_SCRIPT), "speed", "--reference", str(paths[0]), "--window",
                               str(paths[1]), "--repeats", str(repeats)], capture_output=True, text=True, check=False,
                              env={**os.environ, "NML_DISABLE_USAGE_LOGGING": "1"})
        lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
        if done.returncode != 0 or not lines:
            return {"error": done.stderr[-1000:]}
        return json.loads(lines[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--side-python", default=os.environ.get("DRIFTLOOP_BENCH_SIDE_PYTHON"))
    parser.add_argument("--only", choices=("cbpe", "dle"), help="run one of the two benchmarks")
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()}, {os.cpu_count()} cores")
    if args.only != "dle":
        bench_cbpe(np.random.default_rng(0), args)
    if args.only != "cbpe":
        bench_dle(np.random.default_rng(1), args)
    print(f"load average at end: {os.getloadavg()}")


def bench_cbpe(rng: np.random.Generator, args: argparse.Namespace) -> None:
    reference, window = classifier(rng, args.rows), classifier(rng, args.rows)
    started = time.perf_counter()
    cbpe = ConfidenceEstimator().fit(*reference)
    fit_s = time.perf_counter() - started
    best, median, cpu, estimates = timed(lambda: cbpe.estimate(window[0]), args.repeats)
    print(f"CBPE driftloop: fit {fit_s:.2f} s; per window of {args.rows:,} rows, 5 metrics with bands: best "
          f"{best:.3f} s (CPU {cpu:.3f} s), median {median:.3f} s (target <= 0.5 s)")
    print("  " + ", ".join(f"{m} {e.value:.4f} [{e.lower:.4f}, {e.upper:.4f}]" for m, e in estimates.items()))
    if args.side_python:
        nanny = nannyml_cbpe(args.side_python, reference, window, args.repeats)
        if "error" in nanny:
            print(f"CBPE NannyML: failed: {nanny['error']}")
        else:
            print(f"CBPE NannyML {nanny['nannyml']}: fit {nanny['fit_s']:.2f} s; per window, 5 metrics: best "
                  f"{nanny['estimate_s']:.3f} s (CPU {nanny['estimate_cpu_s']:.3f} s), median "
                  f"{nanny['estimate_median_s']:.3f} s -> driftloop is {nanny['estimate_s'] / best:.1f}x faster "
                  f"per window in best wall time, {nanny['estimate_median_s'] / median:.1f}x in median wall time, "
                  f"{nanny['estimate_cpu_s'] / cpu:.1f}x in CPU time")


def bench_dle(rng: np.random.Generator, args: argparse.Namespace) -> None:
    columns, predicted, targets = regressor(rng, args.rows)
    w_columns, w_predicted, _ = regressor(rng, args.rows)
    started = time.perf_counter()
    dle = LossEstimator().fit(columns, predicted, targets)
    fit_s = time.perf_counter() - started
    best, median, cpu, estimates = timed(lambda: dle.estimate(w_columns, w_predicted), args.repeats)
    trees = sum(len(f.roots) for f in dle.forests_.values())
    print(f"DLE driftloop: fit {fit_s:.2f} s; per window of {args.rows:,} rows x 20 features, MAE and RMSE with "
          f"bands ({trees} trees): best {best:.3f} s (CPU {cpu:.3f} s, both cores), median {median:.3f} s "
          f"(target <= 2 s)")
    print("  " + ", ".join(f"{m} {e.value:.4f} [{e.lower:.4f}, {e.upper:.4f}]" for m, e in estimates.items()))


if __name__ == "__main__":
    main()
